"""What a key to import turned out to be: recognised in a worker, shown before anything is stored."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from ..service.errors import WrongPassphrase
from ..service.types import MAX_KEY_FILE_BYTES
from ..widgets.cells import literal
from .inputs import read_regular
from .parts import spec_text, strength_line

FORMATS = {
    "pem": "PEM private key", "der": "DER private key", "openssh": "OpenSSH private key", "jwk": "JWK private key",
    "public-pem": "PEM public key (SPKI)", "public-der": "DER public key (SPKI)",
    "public-openssh": "OpenSSH public key", "public-jwk": "JWK public key",
}


@dataclass(frozen=True)
class Recognised:
    """What a key turned out to be (the key object itself is not kept)."""

    algorithm: str
    size: int
    key_id: str
    has_private_key: bool
    source_format: str


def recognise(parsed) -> Recognised:
    return Recognised(parsed.algorithm, parsed.size, parsed.key_id, parsed.has_private_key, parsed.source_format)


def read_and_recognise(kms, kind: str, path: str, text: str) -> tuple[bytes, Recognised | None]:
    """(key bytes, what they are) — None when a passphrase is needed. Runs in a worker."""
    data = read_regular(path, MAX_KEY_FILE_BYTES, "key") if kind == "file" else text.encode("utf-8")
    try:
        return data, recognise(kms.keys.inspect(data))
    except WrongPassphrase:
        return data, None


def recognised_rows(r: Recognised, encrypted: bool, source_path: str | None) -> list[tuple[str, Text]]:
    """The preview: algorithm, strength, key id, private or public only, format, source."""
    kind = "private key: it can sign" if r.has_private_key else "public key only: it can verify, not sign"
    fmt = FORMATS.get(r.source_format, r.source_format) + (", encrypted" if encrypted else "")
    return [
        ("Algorithm", Text(spec_text(r.algorithm, r.size))),
        ("Strength", strength_line(r.algorithm, r.size)),
        ("Key id", Text(r.key_id)),
        ("Contains", Text(kind)),
        ("Format", Text(fmt)),
        ("Source", literal(source_path or "pasted text")),
    ]
