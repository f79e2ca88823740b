"""Client-side cryptography (libsodium through PyNaCl). The server imports only nothing secret.

- :mod:`.keys`: password → KEK (Argon2id), master/recovery keys, login key (crypto_kdf).
- :mod:`.boxes`: secretbox for wrapped keys, names and metadata JSON.
- :mod:`.stream`: secretstream in 4 MiB chunks for file content and thumbnails.
- :mod:`.hashing`: BLAKE3 content hashes.
"""

from photoark.crypto.errors import CryptoError, IntegrityError, WrongKeyError

__all__ = ["CryptoError", "IntegrityError", "WrongKeyError"]
