"""The backup file: keys wrapped under one key-encryption key, authenticated under a key derived from it.

A JSON object, versioned::

    {"format": "kms-tui-backup", "version": 1, "created": "2026-12-05T23:00:00Z",
     "share_set": {"scheme": "SLIP-39", "identifier": 12345, "threshold": 3, "custodians": 5},
     "keys": [{"key_id": ..., "name": ..., "algorithm": ..., "size": ..., "aliases": [...],
               "tags": [...], "bindings": [...], "public_key": PEM,
               "source": {"engine_id": ..., "engine_type": ..., "security_level": 2},
               "wrap": "RFC5649", "wrapped": base64}],
     "mac": {"algorithm": "HMAC-SHA256", "kdf": "HKDF-SHA256", "value": hex}}

The MAC covers the canonical JSON of every member but ``mac`` (sorted keys, no spaces, ASCII),
under HKDF-SHA256(KEK, info=``MAC_INFO``): nothing in the file, a wrapped blob included, can
change without the restore noticing before it unwraps anything. The file holds no share and
no key in clear: the wrapped blobs open only under the KEK, which only M shares rebuild.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from engines.errors import InvalidInput

FORMAT = "kms-tui-backup"
VERSION = 1
MAC_INFO = b"kms-tui backup file MAC v1"
MAX_BYTES = 16 * 1024 * 1024
MAX_KEYS = 1000


class BackupFileError(InvalidInput):
    title = "Unusable backup file"


@dataclass(frozen=True)
class BackupKey:
    """One key of a backup file."""

    key_id: str
    name: str
    algorithm: str
    size: int
    aliases: tuple[str, ...]
    tags: tuple[str, ...]
    bindings: tuple[dict[str, str], ...]
    public_key: str
    engine_id: str
    engine_type: str
    security_level: int
    wrapped: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id, "name": self.name, "algorithm": self.algorithm, "size": self.size,
            "aliases": list(self.aliases), "tags": list(self.tags), "bindings": [dict(b) for b in self.bindings],
            "public_key": self.public_key,
            "source": {"engine_id": self.engine_id, "engine_type": self.engine_type,
                       "security_level": self.security_level},
            "wrap": "RFC5649", "wrapped": base64.b64encode(self.wrapped).decode("ascii"),
        }


@dataclass(frozen=True)
class BackupFile:
    """A backup file as read (not yet authenticated: ``check_mac`` needs the KEK)."""

    created: str
    identifier: int
    threshold: int
    custodians: int
    keys: tuple[BackupKey, ...]
    mac: bytes
    sha256: str  # of the file's bytes

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION, "created": self.created,
            "share_set": {"scheme": "SLIP-39", "identifier": self.identifier, "threshold": self.threshold,
                          "custodians": self.custodians},
            "keys": [k.to_json() for k in self.keys],
        }

    def check_mac(self, kek: bytes) -> None:
        """``BackupFileError`` unless the file is exactly as written under this KEK."""
        if not hmac.compare_digest(mac_of(self.body(), kek), self.mac):
            raise BackupFileError(
                "The backup file does not authenticate under the key the shares rebuild: it was changed "
                "after it was written, or the shares belong to another backup. Nothing was unwrapped."
            )


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def mac_of(body: dict[str, Any], kek: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    mac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=MAC_INFO).derive(kek)
    return hmac.new(mac_key, canonical(body), hashlib.sha256).digest()


def render(backup: BackupFile) -> bytes:
    """The file's bytes (its ``mac`` must already be set)."""
    document = {**backup.body(), "mac": {"algorithm": "HMAC-SHA256", "kdf": "HKDF-SHA256",
                                         "value": backup.mac.hex()}}
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=True).encode("ascii") + b"\n"


def sealed(backup: BackupFile, kek: bytes) -> tuple[BackupFile, bytes]:
    """The backup with its MAC under ``kek``, and its bytes."""
    done = BackupFile(backup.created, backup.identifier, backup.threshold, backup.custodians, backup.keys,
                      mac_of(backup.body(), kek), "")
    data = render(done)
    return BackupFile(done.created, done.identifier, done.threshold, done.custodians, done.keys, done.mac,
                      hashlib.sha256(data).hexdigest()), data


# --- reading ------------------------------------------------------------------------


def parse(data: bytes) -> BackupFile:
    """A backup file's bytes as a ``BackupFile``; ``BackupFileError`` naming what is wrong."""
    if len(data) > MAX_BYTES:
        raise BackupFileError(f"The backup file is larger than {MAX_BYTES // (1024 * 1024)} MiB.")
    try:
        document = json.loads(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested beyond what JSON reads
        raise BackupFileError("The file is not a kms-tui backup (not JSON).") from None
    top = _obj(document, "the file")
    if top.get("format") != FORMAT:
        raise BackupFileError("The file is not a kms-tui backup (no \"format\": \"kms-tui-backup\").")
    if top.get("version") != VERSION:
        raise BackupFileError(f"Backup file version {str(top.get('version'))[:20]!r} is not one this kms-tui reads "
                              f"(it reads version {VERSION}).")
    shares = _obj(top.get("share_set"), "share_set")
    if shares.get("scheme") != "SLIP-39":
        raise BackupFileError("The backup's shares are not SLIP-39 shares.")
    identifier = _int(shares, "identifier", 0, 2**15 - 1, "share_set")
    custodians = _int(shares, "custodians", 1, 16, "share_set")
    threshold = _int(shares, "threshold", 1, custodians, "share_set")
    keys = top.get("keys")
    if not isinstance(keys, list) or not keys or len(keys) > MAX_KEYS:
        raise BackupFileError(f"The backup's \"keys\" must be a list of 1 to {MAX_KEYS} keys.")
    mac = _obj(top.get("mac"), "mac")
    if mac.get("algorithm") != "HMAC-SHA256" or mac.get("kdf") != "HKDF-SHA256":
        raise BackupFileError("The backup's MAC is not HMAC-SHA256 under an HKDF-SHA256 key.")
    try:
        mac_value = bytes.fromhex(_str(mac, "value", "mac"))
    except ValueError:
        raise BackupFileError("The backup's MAC is not hexadecimal.") from None
    return BackupFile(
        created=_str(top, "created", "the file"), identifier=identifier, threshold=threshold,
        custodians=custodians, keys=tuple(_key(k, n) for n, k in enumerate(keys, 1)), mac=mac_value,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _key(value: object, number: int) -> BackupKey:
    where = f"key {number}"
    key = _obj(value, where)
    source = _obj(key.get("source"), f"{where}'s source")
    if key.get("wrap") != "RFC5649":
        raise BackupFileError(f"The backup's {where} is not wrapped with RFC 5649 AES key wrap with padding.")
    try:
        wrapped = base64.b64decode(_str(key, "wrapped", where), validate=True)
    except (binascii.Error, ValueError):
        raise BackupFileError(f"The backup's {where} has a wrapped blob that is not base64.") from None
    return BackupKey(
        key_id=_str(key, "key_id", where), name=_str(key, "name", where), algorithm=_str(key, "algorithm", where),
        size=_int(key, "size", 1, 65536, where), aliases=_strs(key, "aliases", where), tags=_strs(key, "tags", where),
        bindings=_bindings(key, where), public_key=_str(key, "public_key", where),
        engine_id=_str(source, "engine_id", where), engine_type=_str(source, "engine_type", where),
        security_level=_int(source, "security_level", 0, 9, where), wrapped=wrapped,
    )


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BackupFileError(f"The backup's {where} is not a JSON object.")
    return value


def _str(obj: dict[str, Any], name: str, where: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise BackupFileError(f"The backup's {where} has no text {name!r}.")
    return value


def _int(obj: dict[str, Any], name: str, low: int, high: int, where: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BackupFileError(f"The backup's {where} has no whole number {name!r} from {low} to {high}.")
    return value


def _strs(obj: dict[str, Any], name: str, where: str) -> tuple[str, ...]:
    value = obj.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise BackupFileError(f"The backup's {where} has no list of texts {name!r}.")
    return tuple(value)


def _bindings(obj: dict[str, Any], where: str) -> tuple[dict[str, str], ...]:
    value = obj.get("bindings")
    if not isinstance(value, list) or not all(
        isinstance(b, dict) and set(b) == {"resource_type", "resource_id"} and all(isinstance(v, str) for v in b.values())
        for b in value
    ):
        raise BackupFileError(f"The backup's {where} has no list of bindings.")
    return tuple(dict(b) for b in value)
