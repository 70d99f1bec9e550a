"""What a key's metadata records of its rotation, and what signing asks of it (``kms.rotation``'s records).

A rotation writes, in the key's metadata under ``kms-tui.io/rotation/`` (the Lamassu bindings entry
is never touched): on the predecessor its ``successor`` and ``retired-ts``, on the successor its
``predecessor``. A link names the other key by engine and key id; one edited to point at a key that
is not recorded (or into another shape) is shown as such, never trusted. ``key.rotate.intent`` rows
no later ``key.rotate`` or ``key.rotate.abandoned`` names are the rotations that did not finish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store import AuditRow, KeyRecord, Store
from store.errors import NotFound

from .retirement import PREDECESSOR, RETIRED_TS, SUCCESSOR, day_of

ROTATE, INTENT, ABANDONED = "key.rotate", ".intent", ".abandoned"
_ALL = 10**9  # audit.list wants a limit: every row of an action


@dataclass(frozen=True)
class RotationLink:
    """One end of a rotation as the other key's metadata names it; ``record`` None when it is not recorded."""

    engine_id: str
    key_id: str
    name: str
    ts: str
    record: KeyRecord | None

    @property
    def missing(self) -> bool:
        return self.record is None

    @property
    def label(self) -> str:
        if self.record is not None:
            return self.record.name
        return f"{self.name or self.key_id[:16]} (not recorded here: key {self.key_id[:16]}… on {self.engine_id})"

    def to_json(self) -> dict[str, Any]:
        return {"engine_id": self.engine_id, "key_id": self.key_id, "name": self.name, "ts": self.ts,
                "missing": self.missing}


@dataclass(frozen=True)
class RotationLinks:
    """What a key's metadata says of its rotation: its successor, its predecessor, when it was retired."""

    successor: RotationLink | None = None
    predecessor: RotationLink | None = None
    retired_ts: str | None = None

    @property
    def retired(self) -> bool:
        return self.successor is not None or self.retired_ts is not None

    @property
    def lines(self) -> list[str]:
        """The sentences a detail view shows."""
        lines = []
        if self.successor is not None or self.retired_ts is not None:
            to = f" to {self.successor.label}" if self.successor else ""
            lines.append(f"Rotated{to} on {day_of(self.retired_ts)} (retired: verifies, signs only when allowed)")
        if self.predecessor is not None:
            lines.append(f"Successor of {self.predecessor.label} (since {day_of(self.predecessor.ts)})")
        return lines



def link_value(record: KeyRecord, ts: str) -> dict[str, str]:
    return {"engine_id": record.engine_id, "key_id": record.key_id, "name": record.name, "ts": ts}


def _link(store: Store, value: object) -> RotationLink | None:
    """A link as recorded; one edited into another shape still shows, as a key not recorded here."""
    if value is None:
        return None
    data = value if isinstance(value, dict) else {}
    engine_id, key_id = str(data.get("engine_id") or "?"), str(data.get("key_id") or "?")
    record = None
    try:
        record = store.get_key(engine_id, key_id)
    except NotFound:
        pass
    return RotationLink(engine_id, key_id, str(data.get("name") or ""), str(data.get("ts") or ""), record)


def links_of(store: Store, record: KeyRecord) -> RotationLinks:
    retired = record.metadata.get(RETIRED_TS)
    return RotationLinks(_link(store, record.metadata.get(SUCCESSOR)), _link(store, record.metadata.get(PREDECESSOR)),
                         None if retired is None else str(retired))




def open_rotations(store: Store) -> list[AuditRow]:
    """``key.rotate.intent`` rows no later row names as done or abandoned, oldest first."""
    intents = store.audit.list(_ALL, action=ROTATE + INTENT, newest_first=False)
    if not intents:
        return []
    resolved = {row.details.get("intent") for outcome in (ROTATE, ROTATE + ABANDONED)
                for row in store.audit.list(_ALL, action=outcome)}
    return [row for row in intents if row.seq not in resolved]
