"""Checks on what a client registers: email addresses, key-derivation costs, sealed fields.

The server cannot read what the client encrypts, but it can refuse what cannot be right:

- An **email** is the account's name for people. :func:`normalize_email` gives the form every
  lookup uses (Unicode NFC, surrounding whitespace dropped, lower case); :func:`signup_email`
  also refuses what could make one address look like another or break a log line: control,
  format (bidirectional overrides, zero-width characters), surrogate, private-use and
  unassigned characters (Unicode categories ``C*``), whitespace and separators (``Z*``), and
  requires ``local@domain`` with one ``@``, a dotted domain and no empty label.
- The **Argon2 limits** the client derives its key-encryption key with are public (anyone may
  ask ``/auth/params``), and the login key sent at every login derives from that KEK: limits
  below :data:`KDF_FLOOR` would let whoever sees a login key, or the server's hash of it,
  guess passwords cheaply. The floor is libsodium's *interactive* limits (``--login-hash
  min``, for tests, lowers it to libsodium's minimums); the ceiling is the one every client
  checks at login, so no account is made that its own client would refuse.
- A **sealed field** (a wrapped key, an encrypted name) is never empty (:func:`check_sealed`);
  a wrapped key is a secretbox (nonce and MAC, then the key), so the account's wrapped keys
  shorter than :data:`SEALED_MIN_BYTES` cannot be ones (:func:`check_wrapped_key`).

Each check raises :class:`~photoark.server.errors.BadRequest` naming the rule.
"""

from __future__ import annotations

import unicodedata

import nacl.pwhash
import nacl.secret

from photoark.crypto.keys import ARGON2_MIN, Argon2Limits
from photoark.server.config import LoginHashLevel
from photoark.server.errors import BadRequest

__all__ = [
    "KDF_CEILING",
    "KDF_FLOOR",
    "SEALED_MIN_BYTES",
    "check_kdf_limits",
    "check_sealed",
    "check_wrapped_key",
    "normalize_email",
    "signup_email",
]

SEALED_MIN_BYTES = nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES  # 40

KDF_FLOOR: dict[LoginHashLevel, Argon2Limits] = {
    "interactive": Argon2Limits(
        nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
    ),
    "min": ARGON2_MIN,
}
KDF_CEILING = Argon2Limits(64, 4 * 1024**3)  # the client's own check at login (client/auth.py)

MAX_LOCAL_PART = 64
MAX_DOMAIN = 255


def normalize_email(email: str) -> str:
    """The form every lookup uses: NFC, surrounding whitespace dropped, lower case. (No
    checks: a login with an odd address simply finds no account.)"""
    return unicodedata.normalize("NFC", email).strip().lower()


def signup_email(email: str) -> str:
    """:func:`normalize_email`, refusing what an account may not be named (module doc)."""
    normal = normalize_email(email)
    for char in normal:
        category = unicodedata.category(char)
        if category[0] in "CZ":
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            raise BadRequest(
                f"the email address holds a control, format or space character ({name}, "
                f"category {category})",
                {"field": "email"},
            )
    local, at, domain = normal.partition("@")
    if not at or "@" in domain or not local:
        raise BadRequest("invalid email address: expected local@domain", {"field": "email"})
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        raise BadRequest(
            "invalid email address: the domain needs a dot and no empty part, e.g. example.org",
            {"field": "email"},
        )
    if len(local) > MAX_LOCAL_PART or len(domain) > MAX_DOMAIN:
        raise BadRequest(
            f"invalid email address: at most {MAX_LOCAL_PART} characters before the @ and "
            f"{MAX_DOMAIN} after",
            {"field": "email"},
        )
    return normal


def check_kdf_limits(ops: int, mem: int, floor: Argon2Limits) -> None:
    """Refuse Argon2 limits below ``floor`` or above :data:`KDF_CEILING`."""
    if ops < floor.ops or mem < floor.mem:
        raise BadRequest(
            f"Argon2 limits too weak: ops_limit {ops}, mem_limit {mem}; this server requires "
            f"ops_limit >= {floor.ops} and mem_limit >= {floor.mem} bytes",
            {"floor": {"ops_limit": floor.ops, "mem_limit": floor.mem}},
        )
    if ops > KDF_CEILING.ops or mem > KDF_CEILING.mem:
        raise BadRequest(
            f"Argon2 limits too costly: ops_limit {ops}, mem_limit {mem}; clients accept "
            f"ops_limit <= {KDF_CEILING.ops} and mem_limit <= {KDF_CEILING.mem} bytes",
            {"ceiling": {"ops_limit": KDF_CEILING.ops, "mem_limit": KDF_CEILING.mem}},
        )


def check_sealed(field: str, value: bytes) -> None:
    """Refuse an empty encrypted field."""
    if not value:
        raise BadRequest(f"{field} is empty: an encrypted field is never empty", {"field": field})


def check_wrapped_key(field: str, value: bytes) -> None:
    """Refuse a wrapped key shorter than a secretbox's nonce and MAC."""
    if len(value) < SEALED_MIN_BYTES:
        raise BadRequest(
            f"{field} is {len(value)} bytes: a wrapped key holds at least {SEALED_MIN_BYTES} "
            "(nonce and MAC)",
            {"field": field},
        )
