"""Reclaiming space without losing a photo: free up the device (:mod:`.freeup`), remove exact
duplicates from the library (:mod:`.duplicates`)."""
