"""The library as this device sees it, and the operations on it.

:mod:`.sync` mirrors the server's albums and files locally (diff sync); :mod:`.records` seals
and opens album names and file metadata; :mod:`.albums` creates, renames, deletes albums and
adds by reference; :mod:`.trash` moves to, lists, restores and empties the trash; :mod:`.marks`
keeps deleted photos from being uploaded again; :mod:`.export` decrypts originals back to disk;
:mod:`.embedder` makes the image embeddings for similar-photo search.

Imports: ``client.state``, the client's top-level modules, ``crypto``, ``protocol``, ``media``,
``ml``. Never ``client.pipeline`` or ``client.daemon``.
"""
