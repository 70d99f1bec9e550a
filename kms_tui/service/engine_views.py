"""What the engine service hands the front ends: engines, checks, removals and engine types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engines import lamassu
from store import EngineRecord


@dataclass
class EngineView:
    """An engine as the front ends show it."""

    record: EngineRecord
    key_count: int
    display: str
    secret_label: str | None
    options: list[dict[str, Any]] = field(default_factory=list)
    secret_location: str | None = None  # a key of engine_secrets.LOCATIONS, when looked up

    @property
    def lamassu(self) -> bool:
        """Whether the engine is marked as shared with a Lamassu deployment (its ``lamassu`` option)."""
        return lamassu.shared(self.record.config)

    def to_json(self) -> dict[str, Any]:
        data = self.record.to_json()
        data.update(key_count=self.key_count, display=self.display, lamassu=self.lamassu)
        return data


@dataclass
class EngineCheck:
    engine_id: str
    reachable: bool
    title: str = ""
    message: str = ""
    supported_key_types: dict[str, list[int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # usable, but worth a look (a key directory open to all)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class EngineRemoval:
    """What unregistering an engine did."""

    dropped: int  # key records forgotten with it
    secret: str | None  # what became of a secret that still guards key files (None: nothing guarded)


@dataclass
class EngineTypeInfo:
    """An engine type as a registration form shows it (no secret values, ever)."""

    type: str
    display: str
    security_level: int
    available: bool
    note: str = ""  # why it is not available
    options: list[dict[str, Any]] = field(default_factory=list)  # OptionSpec fields
    secret_label: str | None = None
    secret_generated: bool = False  # left empty, the engine makes one up
    secret_required: bool = False  # always needed (otherwise it depends on the options)
    default_hints: dict[str, str] = field(default_factory=dict)
    backup_wrap: bool = False  # its keys may leave it wrapped (backup and restore under M-of-N custody)
    backup_needs_officer: bool = False  # a wrap needs the security officer's PIN (PKCS#11)
    external_mu: bool = False  # signs an ML-DSA external mu: a message hashed by the caller
