"""Account keys: password and recovery unwrap, wrong keys, byte-flipped boxes, crypto_kdf."""

from __future__ import annotations

import pytest

from photoark.crypto.boxes import open_json, seal_json, unwrap_key, wrap_key
from photoark.crypto.errors import IntegrityError, WrongKeyError
from photoark.crypto.keys import (
    ARGON2_MIN,
    create_account_keys,
    derive_kek,
    derive_login_key,
    kdf_derive,
    open_with_password,
    open_with_recovery_key,
)


def test_password_and_recovery_key_both_open_the_master_key() -> None:
    keys = create_account_keys("pw", ARGON2_MIN)
    assert open_with_password(keys.attributes, "pw") == keys.master_key
    assert open_with_recovery_key(keys.attributes, keys.recovery_key) == keys.master_key
    with pytest.raises(WrongKeyError):
        open_with_password(keys.attributes, "Pw")
    with pytest.raises(WrongKeyError):
        open_with_recovery_key(keys.attributes, bytes(32))


def test_login_key_is_derived_not_the_kek() -> None:
    keys = create_account_keys("pw", ARGON2_MIN)
    kek = derive_kek("pw", keys.attributes.kek_salt, ARGON2_MIN)
    assert derive_login_key(kek) == keys.login_key
    assert keys.login_key != kek
    assert keys.login_key not in (keys.master_key, keys.recovery_key)


def test_kdf_subkeys_differ_by_id_and_context() -> None:
    key = bytes(range(32))
    a = kdf_derive(key, 1, b"loginkey")
    assert a == kdf_derive(key, 1, b"loginkey")
    assert a != kdf_derive(key, 2, b"loginkey")
    assert a != kdf_derive(key, 1, b"otherctx")
    with pytest.raises(ValueError):
        kdf_derive(key, 1, b"short")


def test_wrapped_key_and_metadata_byte_flips() -> None:
    master = bytes(range(32))
    file_key = bytes(32)
    wrapped = wrap_key(master, file_key)
    for i in range(len(wrapped)):
        flipped = bytearray(wrapped)
        flipped[i] ^= 0x01
        with pytest.raises(WrongKeyError):
            unwrap_key(master, bytes(flipped))
    box = seal_json(file_key, {"name": "a.jpg", "hash": "00"})
    assert open_json(file_key, box) == {"name": "a.jpg", "hash": "00"}
    for i in (0, 23, 24, len(box) - 1):
        flipped = bytearray(box)
        flipped[i] ^= 0x01
        with pytest.raises(IntegrityError):
            open_json(file_key, bytes(flipped))


def test_deletion_marks_are_keyed_and_stable() -> None:
    from photoark.crypto.marks import deletion_mark, marks_key

    key_a, key_b = marks_key(b"a" * 32), marks_key(b"b" * 32)
    mark = deletion_mark(key_a, "ab" * 32)
    assert len(mark) == 64 and mark == mark.lower()
    assert mark == deletion_mark(marks_key(b"a" * 32), "ab" * 32)  # every device agrees
    assert mark != deletion_mark(key_b, "ab" * 32)  # another user: another mark
    assert mark != deletion_mark(key_a, "cd" * 32)
    assert "ab" * 32 not in mark
