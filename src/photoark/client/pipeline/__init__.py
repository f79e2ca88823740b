"""One backup run, step by step (:func:`.backup.backup` is the entry point).

scan (:mod:`.scanner`) → identify the content (:mod:`.identify`: stat cache, else BLAKE3) →
decide against the mirror (:mod:`.decide`: skip, add by reference, upload) → upload
(:mod:`.uploader` part by part for large files, :mod:`.smallfiles` + :mod:`.bundler` for small
ones) → commit → retire a changed file's old version (:mod:`.retire`) → thumbnails
(:mod:`.thumbnailer`). :mod:`.describe` makes a file's metadata, :mod:`.livephotos` pairs Live
Photos, :mod:`.sources` reads a file (or a pair) as one stream.

Imports: ``client.state``, ``client.library`` (sync, albums, metadata, marks), the client's
top-level modules, ``crypto``, ``protocol``, ``media``. Never ``client.daemon``.
"""
