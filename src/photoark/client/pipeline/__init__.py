"""One backup run, step by step (:func:`.backup.backup` is the entry point).

scan (:mod:`.scanner`) → identify the content (:mod:`.identify`: stat cache, else BLAKE3) →
decide against the mirror (:mod:`.decide`: skip, add by reference, upload) → upload
(:mod:`.uploader` part by part for large files, :mod:`.smallfiles` + :mod:`.bundler` for small
ones) → commit → retire a changed file's old version (:mod:`.retire`) → thumbnails
(:mod:`.thumbnailer`). :mod:`.describe` makes a file's metadata, :mod:`.livephotos` pairs Live
Photos, :mod:`.sources` reads a file (or a pair) as one stream.

How :mod:`.backup` runs those steps: :mod:`.report` holds what a caller passes in and gets
back (options, progress callbacks, report); :mod:`.settle` settles unchanged files without
reading them (the whole of an unchanged re-run); the rest go one by one through a worker in
:mod:`.backup` (identify, take the content's claim (:mod:`.claims`), decide against the
library (:mod:`.known`), hand over (:mod:`.handover`: add by reference, bundle, or upload
part by part); :mod:`.tally` counts each file under an :class:`.outcome.Outcome`, turns
failures into messages and holds the run's stop flag.

Imports: ``client.state``, ``client.library`` (sync, albums, records, marks), the client's
top-level modules, ``crypto``, ``protocol``, ``media``. Never ``client.daemon``.
"""
