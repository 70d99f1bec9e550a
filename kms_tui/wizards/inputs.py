"""Reading what a wizard was given: lists, digests, signatures, files (pure functions).

Decoding and file access live here, apart from the screens, so they can be
unit-tested and run in thread workers. Failures are ``InvalidInput`` errors
with a sentence a wizard shows inline.
"""

from __future__ import annotations

import base64
import binascii
import string
from collections.abc import Iterator

from ..files import open_input, read_file, refuse_special, write_new_file  # noqa: F401  (re-exported for the wizards)
from ..service.errors import InvalidInput

MAX_MESSAGE_BYTES = 64 << 20  # as the CLI: a message is read whole
MAX_SIGNATURE_BYTES = 1 << 16
HEX = frozenset(string.hexdigits)


def split_list(text: str) -> list[str]:
    """Comma-separated values: trimmed, empty ones dropped, duplicates once, order kept."""
    out: list[str] = []
    for item in (text or "").split(","):
        item = item.strip()
        if item and item not in out:
            out.append(item)
    return out


def _compact(text: str) -> str:
    return "".join(text.split())


def _as_hex(text: str) -> bytes | None:
    if text and len(text) % 2 == 0 and all(c in HEX for c in text):
        return binascii.unhexlify(text)
    return None


def _as_base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True) if text else None
    except (binascii.Error, ValueError):
        return None


def decode_text(text: str, what: str) -> tuple[bytes, str]:
    """Hex (tried first) or base64 text -> (bytes, "hex" | "base64"). Whitespace is ignored."""
    compact = _compact(text or "")
    if not compact:
        raise InvalidInput(f"The {what} is empty.")
    if compact[:2].lower() == "0x" and _as_hex(compact[2:]) is not None:
        compact = compact[2:]
    value = _as_hex(compact)
    if value is not None:
        return value, "hex"
    value = _as_base64(compact)
    if value:
        return value, "base64"
    raise InvalidInput(f"The {what} is neither hex nor base64.")


def decode_signature_file(data: bytes) -> tuple[bytes, str]:
    """A signature file: hex or base64 text when it reads as such, else the raw bytes."""
    if not data:
        raise InvalidInput("The signature file is empty.")
    try:
        return decode_text(data.decode("ascii"), "signature")
    except (UnicodeDecodeError, InvalidInput):
        return data, "raw"


def encode_signature(signature: bytes, encoding: str) -> bytes:
    """As the CLI writes it: base64 or hex text with a newline, or the raw bytes."""
    if encoding == "hex":
        return signature.hex().encode() + b"\n"
    if encoding == "base64":
        return base64.b64encode(signature) + b"\n"
    return signature


def read_regular(path: str, limit: int, what: str) -> bytes:
    """``read_file`` for a worker: a regular file only, never a pipe that would hold the worker."""
    refuse_special(path, what)
    return read_file(path, limit, what)


def load_message(kind: str, text: str, path: str, digest: str) -> tuple[bytes, str, str]:
    """The bytes of a message step -> (data, message type "RAW" | "DIGEST", encoding as written).

    ``kind`` is "text" (UTF-8 of what was typed), "file" (read whole) or
    "digest" (hex or base64). Reads files: run it in a worker.
    """
    if kind == "file":
        return read_regular(path, MAX_MESSAGE_BYTES, "message"), "RAW", "raw"
    if kind == "digest":
        data, encoding = decode_text(digest, "digest")
        return data, "DIGEST", encoding
    if not text:
        raise InvalidInput("Type the message, or choose a file or a digest.")
    return text.encode("utf-8"), "RAW", "raw"


CHUNK_BYTES = 1 << 20


class FileChunks:
    """A file read a chunk at a time as it is hashed (never whole in memory), its length counted."""

    def __init__(self, path: str):
        self.path = path
        self.length = 0

    def __iter__(self) -> Iterator[bytes]:
        refuse_special(self.path, "message")
        with open_input(self.path, "message") as stream:
            while chunk := stream.read(CHUNK_BYTES):
                self.length += len(chunk)
                yield chunk


def load_signed(kms, ref: str | None, kind: str, text: str, path: str, digest: str) -> tuple[bytes, str, str, int]:
    """``load_message`` for a recorded key -> (data, message type, encoding, message length).

    ``kind`` "external-mu": the file is hashed by the service to its FIPS 204 mu for the
    key's recorded public key; the data is the 64-byte mu. Runs in a worker.
    """
    if kind != "external-mu":
        data, message_type, encoding = load_message(kind, text, path, digest)
        return data, message_type, encoding, len(data)
    chunks = FileChunks(path)
    return kms.signing.external_mu(ref, chunks), "EXTERNAL_MU", "raw", chunks.length
