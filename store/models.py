"""Records the metadata store reads and writes.

Plain dataclasses: the service builds them from engine results, the store
persists them, the CLI and the TUI show them. JSON field names follow Lamassu.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

BINDINGS_KEY = "lamassu.io/kms/binded-resources"


@dataclass
class EngineRecord:
    id: str
    type: str
    name: str
    provider: str
    security_level: int
    config: dict[str, str] = field(default_factory=dict)  # non-secret options only
    is_default: bool = False
    has_secret: bool = False  # a secret was set once (it lives in the keyring or in memory)
    supported_key_types: dict[str, list[int]] = field(default_factory=dict)
    created_ts: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class KeyRecord:
    key_id: str
    engine_id: str
    name: str
    algorithm: str
    size: int
    strength: str
    has_private_key: bool
    public_key: str  # PEM SubjectPublicKeyInfo
    native_ref: str | None = None  # file name, label, ARN, kid, path; None for metadata-only keys
    pkcs11_uri: str | None = None
    creation_ts: str = ""
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    status: str = "ok"  # "ok" | "missing" (flagged by sync: the engine no longer holds it)
    state: str | None = None  # engine-reported state, e.g. AWS "PendingDeletion"

    @property
    def bindings(self) -> list[dict[str, str]]:
        value = self.metadata.get(BINDINGS_KEY) or []
        return [b for b in value if isinstance(b, dict)]

    @property
    def bound(self) -> bool:
        return bool(self.bindings)

    def to_json(self) -> dict[str, Any]:
        # Field by field rather than asdict(): asdict deep-copies every value, which is
        # most of the time of `keys list --json` over a large inventory.
        data = {f: getattr(self, f) for f in _KEY_FIELDS}
        data["tags"], data["aliases"] = list(self.tags), list(self.aliases)
        data["metadata"] = dict(self.metadata)
        data["bound"] = self.bound
        return data


_KEY_FIELDS = tuple(f.name for f in fields(KeyRecord))


@dataclass
class KeyQuery:
    """Filter, sort and page for ``Store.list_keys``; ``None`` means no constraint."""

    engine_id: str | None = None
    algorithm: str | None = None
    size: int | None = None
    strength: str | None = None
    text: str | None = None  # case-insensitive: name, alias, tag substring; key id prefix
    name_from: str | None = None  # only names sorting at or after this one, case-insensitively (a walk's start)
    has_private_key: bool | None = None
    bound: bool | None = None
    status: str | None = None
    security_level: int | None = None  # keys of the engines at this security level (0, 1 or 2)
    expiring_within_days: int | None = None  # keys with a certificate ending within this many days (expired too)
    quantum_vulnerable: bool | None = None  # True: keys of algorithms a quantum computer breaks (not ML-DSA)
    sort: str = "name"  # name|key_id|engine_id|algorithm|size|strength|creation_ts
    descending: bool = False
    limit: int | None = None
    offset: int = 0


CERT_SOURCES = ("file", "token", "chain")


@dataclass
class CertRecord:
    """A certificate as recorded: its DER and what was read from it when it was added.

    ``fingerprint`` is the SHA-256 of ``der`` (hex); ``engine_id`` and ``key_id`` name the
    key it belongs to, both None for a chain member (an issuer of no recorded key).
    """

    fingerprint: str
    der: bytes
    subject: str  # RFC 4514
    issuer: str  # RFC 4514
    serial: str  # hex
    not_before: str  # ISO UTC, 'YYYY-MM-DDTHH:MM:SSZ'
    not_after: str
    source: str  # 'file' | 'token' | 'chain'
    engine_id: str | None = None
    key_id: str | None = None
    added_ts: str = ""

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "der"}


@dataclass
class AuditRow:
    seq: int
    ts: str
    action: str
    engine_id: str | None
    key_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str
    key_name: str | None = None  # the key's name now, or its last name in the log; not hashed

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AuditCheck:
    ok: bool
    rows: int
    first_broken: int | None = None  # seq of the first row that fails
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
