"""Reclaiming space without losing a photo; above the client, used by the CLI.

- :mod:`.freeup`: free up the device (delete local copies that are safely backed up).
- :mod:`.duplicates`: remove exact duplicates from the library.
- :mod:`.similar`: groups of similar photos (on-device embeddings), reviewed, removed;
  :mod:`.neighbours` finds the close pairs.
- :mod:`.removal`: how both leave the library: the keeper added to albums first, then trash.
- :mod:`.reasons`: why something is kept (free-up reasons, dedup's keep rule), named once.
"""
