"""File content encryption: crypto_secretstream_xchacha20poly1305 in 4 MiB chunks.

Layout of an encrypted file: ``header (24 bytes) || chunk_0 || ... || chunk_n``, each chunk the
encryption of up to :data:`CHUNK_SIZE` plaintext bytes plus 17 bytes of tag and MAC. Only the
last chunk carries ``TAG_FINAL``: a stream that ends without it was truncated, and any byte after
it was appended. Every failure raises :class:`~photoark.crypto.errors.IntegrityError`; no
plaintext from a chunk that failed authentication is ever returned.

The encryptor's 52-byte state can be snapshotted after any chunk and restored into a fresh
encryptor, which then continues the identical ciphertext stream: this is how an upload resumes
mid-file. The snapshot is key material.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import nacl.bindings as sodium
import nacl.exceptions
from nacl._sodium import ffi

from photoark.crypto.errors import IntegrityError

__all__ = [
    "ABYTES",
    "CHUNK_SIZE",
    "CIPHER_CHUNK_SIZE",
    "HEADER_BYTES",
    "StreamDecryptor",
    "StreamEncryptor",
    "chunk_count",
    "ciphertext_size",
    "decrypt_bytes",
    "decrypt_stream",
    "encrypt_bytes",
    "encrypt_chunks",
]

CHUNK_SIZE = 4 * 1024 * 1024
ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
STATE_BYTES = sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES
CIPHER_CHUNK_SIZE = CHUNK_SIZE + ABYTES
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def chunk_count(plain_size: int) -> int:
    """Number of chunks for a plaintext of ``plain_size`` bytes (an empty one still has one)."""
    return max(1, -(-plain_size // CHUNK_SIZE))


def ciphertext_size(plain_size: int) -> int:
    """Exact encrypted size of a plaintext of ``plain_size`` bytes."""
    return HEADER_BYTES + plain_size + chunk_count(plain_size) * ABYTES


class StreamEncryptor:
    """Encrypts a stream chunk by chunk. Create with :meth:`start` or :meth:`resume`."""

    def __init__(
        self, state: sodium.crypto_secretstream_xchacha20poly1305_state, header: bytes
    ) -> None:
        self._state = state
        self.header = header
        self.finished = False

    @classmethod
    def start(cls, key: bytes) -> StreamEncryptor:
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
        return cls(state, bytes(header))

    @classmethod
    def resume(cls, header: bytes, snapshot: bytes) -> StreamEncryptor:
        """Continue a stream from a :meth:`snapshot` taken after some chunk."""
        if len(snapshot) != STATE_BYTES:
            raise ValueError("secretstream state snapshot has the wrong size")
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        state.statebuf = ffi.new("unsigned char[]", STATE_BYTES)
        ffi.buffer(state.statebuf)[:] = snapshot
        return cls(state, header)

    def snapshot(self) -> bytes:
        """The 52-byte state after the last pushed chunk (key material: store it as such)."""
        return bytes(ffi.buffer(self._state.statebuf))

    def push(self, chunk: bytes, final: bool) -> bytes:
        """Encrypt one chunk (at most :data:`CHUNK_SIZE` bytes); ``final`` for the last one."""
        if self.finished:
            raise ValueError("stream already finished")
        if len(chunk) > CHUNK_SIZE:
            raise ValueError("chunk larger than CHUNK_SIZE")
        if not final and len(chunk) != CHUNK_SIZE:
            raise ValueError("only the final chunk may be short")
        tag = _TAG_FINAL if final else _TAG_MESSAGE
        out = sodium.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, None, tag)
        self.finished = final
        return bytes(out)


class StreamDecryptor:
    """Decrypts chunk by chunk; checks the FINAL tag ends the stream."""

    def __init__(self, key: bytes, header: bytes) -> None:
        if len(header) != HEADER_BYTES:
            raise IntegrityError("encrypted stream is shorter than its header")
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        try:
            sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, key)
        except (nacl.exceptions.CryptoError, ValueError) as err:
            raise IntegrityError("invalid encrypted stream header") from err
        self.finished = False

    def pull(self, cipher_chunk: bytes) -> bytes:
        """Decrypt one chunk; raises IntegrityError if it was altered or comes after FINAL."""
        if self.finished:
            raise IntegrityError("data found after the final chunk of the encrypted stream")
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, cipher_chunk, None
            )
        except (nacl.exceptions.CryptoError, ValueError, RuntimeError) as err:
            raise IntegrityError("encrypted chunk failed authentication (tampered data)") from err
        if tag == _TAG_FINAL:
            self.finished = True
        elif tag != _TAG_MESSAGE:
            raise IntegrityError("unexpected secretstream tag")
        return bytes(plain)


def decrypt_stream(
    key: bytes, pieces: Iterable[bytes], header: bytes | None = None
) -> Iterator[bytes]:
    """Decrypt an encrypted file given as arbitrary pieces; yields plaintext chunks.

    ``header``: when the 24-byte header is kept apart from the chunks (file content keeps it in
    the encrypted metadata, so upload parts align with chunks), pass it here; otherwise it is
    read from the start of the stream.

    Raises :class:`IntegrityError` on tampering, on truncation (no FINAL chunk) and on trailing
    bytes. Each yielded chunk has been authenticated before it is yielded.
    """
    buf = bytearray()
    decryptor = None if header is None else StreamDecryptor(key, header)
    for piece in pieces:
        buf += piece
        if decryptor is None:
            if len(buf) < HEADER_BYTES:
                continue
            decryptor = StreamDecryptor(key, bytes(buf[:HEADER_BYTES]))
            del buf[:HEADER_BYTES]
        # keep a full chunk in the buffer until we know more follows, so the final one is
        # decided by the tag, not by guessing from sizes
        while len(buf) > CIPHER_CHUNK_SIZE:
            yield decryptor.pull(bytes(buf[:CIPHER_CHUNK_SIZE]))
            del buf[:CIPHER_CHUNK_SIZE]
    if decryptor is None:
        raise IntegrityError("encrypted stream is shorter than its header")
    if buf:
        yield decryptor.pull(bytes(buf))
    if not decryptor.finished:
        raise IntegrityError("encrypted stream is truncated: its final chunk is missing")


def encrypt_chunks(key: bytes, data: bytes) -> tuple[bytes, list[bytes]]:
    """Encrypt an in-memory payload: the header and each chunk's ciphertext, not joined (a
    caller that sends them one after another copies none of them again)."""
    enc = StreamEncryptor.start(key)
    n = chunk_count(len(data))
    return enc.header, [
        enc.push(data[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE], final=i == n - 1) for i in range(n)
    ]


def encrypt_bytes(key: bytes, data: bytes) -> bytes:
    """Encrypt a small in-memory payload (thumbnails) into the same stream format."""
    header, chunks = encrypt_chunks(key, data)
    return b"".join([header, *chunks])


def decrypt_bytes(key: bytes, data: bytes) -> bytes:
    """Inverse of :func:`encrypt_bytes`."""
    return b"".join(decrypt_stream(key, [data]))
