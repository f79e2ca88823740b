"""Account keys: password → KEK (Argon2id), master key, recovery key, login key (crypto_kdf).

The server stores only what :class:`KeyAttributes` holds: the salt and limits, the master key
wrapped by the KEK and by the recovery key, the recovery key wrapped by the master key. It never
sees the password, the KEK, the master key or the recovery key. Login proves knowledge of the
KEK by sending a *login key* derived from it with crypto_kdf; the server keeps only a slow hash.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.encoding
import nacl.hash
import nacl.pwhash
import nacl.utils

from photoark.crypto.boxes import new_key, unwrap_key, wrap_key

__all__ = [
    "ARGON2_MIN",
    "ARGON2_MODERATE",
    "AccountKeys",
    "Argon2Limits",
    "KeyAttributes",
    "create_account_keys",
    "derive_kek",
    "derive_login_key",
    "kdf_derive",
    "open_with_password",
    "open_with_recovery_key",
]

SALT_BYTES = nacl.pwhash.argon2id.SALTBYTES
LOGIN_KEY_CONTEXT = b"loginkey"
LOGIN_KEY_ID = 1


@dataclass(frozen=True)
class Argon2Limits:
    """Argon2id cost: operations and memory in bytes. Stored with the account."""

    ops: int
    mem: int


ARGON2_MODERATE = Argon2Limits(
    nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE
)
ARGON2_MIN = Argon2Limits(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)


@dataclass(frozen=True)
class KeyAttributes:
    """What the server keeps for an account's keys (all wrapped; nothing usable alone)."""

    kek_salt: bytes
    ops_limit: int
    mem_limit: int
    master_key_wrapped: bytes  # by KEK
    master_key_wrapped_recovery: bytes  # by recovery key
    recovery_key_wrapped: bytes  # by master key


@dataclass(frozen=True)
class AccountKeys:
    """Keys a freshly created account needs on the client side."""

    attributes: KeyAttributes
    master_key: bytes
    recovery_key: bytes
    login_key: bytes


def kdf_derive(key: bytes, subkey_id: int, context: bytes, size: int = 32) -> bytes:
    """libsodium's ``crypto_kdf_derive_from_key`` (BLAKE2b with salt = id, personal = context).

    PyNaCl does not bind crypto_kdf; its definition in libsodium is exactly this keyed BLAKE2b:
    salt = subkey_id as 8 little-endian bytes + 8 zero bytes, personal = 8-byte context + zeros.
    """
    if len(context) != 8:
        raise ValueError("crypto_kdf context must be 8 bytes")
    if not 16 <= size <= 64:
        raise ValueError("crypto_kdf subkey size must be 16..64 bytes")
    salt = subkey_id.to_bytes(8, "little") + bytes(8)
    person = context + bytes(8)
    return bytes(
        nacl.hash.blake2b(
            b"",
            digest_size=size,
            key=key,
            salt=salt,
            person=person,
            encoder=nacl.encoding.RawEncoder,
        )
    )


def derive_kek(password: str, salt: bytes, limits: Argon2Limits) -> bytes:
    """Password → 256-bit key-encryption key with Argon2id."""
    return bytes(
        nacl.pwhash.argon2id.kdf(
            32, password.encode("utf-8"), salt, opslimit=limits.ops, memlimit=limits.mem
        )
    )


def derive_login_key(kek: bytes) -> bytes:
    """The key a client sends to log in. Knowing it does not reveal the KEK."""
    return kdf_derive(kek, LOGIN_KEY_ID, LOGIN_KEY_CONTEXT)


def create_account_keys(password: str, limits: Argon2Limits) -> AccountKeys:
    """New master and recovery keys, wrapped for the server."""
    salt = nacl.utils.random(SALT_BYTES)
    kek = derive_kek(password, salt, limits)
    master = new_key()
    recovery = new_key()
    attrs = KeyAttributes(
        kek_salt=salt,
        ops_limit=limits.ops,
        mem_limit=limits.mem,
        master_key_wrapped=wrap_key(kek, master),
        master_key_wrapped_recovery=wrap_key(recovery, master),
        recovery_key_wrapped=wrap_key(master, recovery),
    )
    return AccountKeys(attrs, master, recovery, derive_login_key(kek))


def open_with_password(attrs: KeyAttributes, password: str) -> bytes:
    """Master key from the password. Raises ``WrongKeyError`` on a wrong password."""
    kek = derive_kek(password, attrs.kek_salt, Argon2Limits(attrs.ops_limit, attrs.mem_limit))
    return unwrap_key(kek, attrs.master_key_wrapped)


def open_with_recovery_key(attrs: KeyAttributes, recovery_key: bytes) -> bytes:
    """Master key from the recovery key. Raises ``WrongKeyError`` if it is not the right one."""
    return unwrap_key(recovery_key, attrs.master_key_wrapped_recovery)
