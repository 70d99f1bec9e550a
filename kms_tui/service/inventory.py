"""Sync (reconcile the metadata with what engines hold), stats and the audit log."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engines import algorithms as A
from engines import keys as K
from store import AuditCheck, AuditRow

from ..errors import Cancelled
from .signing import SigningOps

Progress = Callable[[int, "int | None", str], None]


@dataclass
class SyncReport:
    engine_id: str
    seen: int = 0
    adopted: list[str] = field(default_factory=list)  # key ids
    missing: list[str] = field(default_factory=list)  # flagged, not deleted
    restored: list[str] = field(default_factory=list)  # flagged before, present again
    unchanged: int = 0

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


class InventoryOps(SigningOps):
    def sync(
        self,
        engine_id: str | None = None,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> list[SyncReport]:
        """Reconcile one engine (or all): adopt unknown keys, flag missing ones. Deletes nothing."""
        ids = [engine_id] if engine_id else [e.id for e in self.store.list_engines()]
        return [self._sync_one(eid, progress, cancel) for eid in ids]

    def _sync_one(self, engine_id: str, progress: Progress | None, cancel: threading.Event | None) -> SyncReport:
        self.store.get_engine(engine_id)
        driver = self.driver(engine_id)
        report = SyncReport(engine_id)
        known = {r.native_ref: r for r in self.store.iter_keys(engine_id) if r.native_ref is not None}
        seen_refs: set[str] = set()
        for native in driver.inventory():
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"Sync of {engine_id!r} was cancelled; {len(report.adopted)} key(s) adopted so far.")
            report.seen += 1
            seen_refs.add(native.ref)
            record = known.get(native.ref)
            if record is None:
                by_id = [r for r in self.store.keys_by_key_id(native.key_id) if r.engine_id == engine_id]
                record = by_id[0] if by_id else None
                if record is not None:
                    self.store.update_key(engine_id, record.key_id, native_ref=native.ref)
                    seen_refs.add(record.native_ref)
            if record is None:
                self._adopt(engine_id, native)
                report.adopted.append(native.key_id)
            elif record.status == "missing":
                self.store.update_key(engine_id, record.key_id, status="ok", state=native.state)
                report.restored.append(record.key_id)
            else:
                if native.state != record.state:
                    self.store.update_key(engine_id, record.key_id, state=native.state)
                report.unchanged += 1
            if progress is not None:
                progress(report.seen, None, engine_id)
        for ref, record in known.items():
            if ref not in seen_refs and record.status != "missing":
                self.store.update_key(engine_id, record.key_id, status="missing")
                report.missing.append(record.key_id)
        self.store.audit.append(
            "engine.sync",
            engine_id=engine_id,
            details={"seen": report.seen, "adopted": report.adopted, "missing": report.missing,
                     "restored": report.restored},
        )
        return report

    def _adopt(self, engine_id: str, native) -> None:
        label = native.extra.get("label") if isinstance(native.extra.get("label"), str) else None
        base = label if label and not K.is_key_id(label) else f"{engine_id}-{native.key_id[:12]}"
        name, n = base, 1
        while self.store.key_by_name(name) or self.store.key_by_alias(name):
            n += 1
            name = f"{base}-{n}"
        self.store.add_key(self._record(native, engine_id, name, [], [], {}))

    # --- stats and audit -----------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return self.store.stats()

    def audit_rows(self, limit: int = 100, offset: int = 0, **filters) -> list[AuditRow]:
        return self.store.audit.list(limit, offset, **filters)

    def audit_verify(self) -> AuditCheck:
        return self.store.audit.verify()

    @staticmethod
    def strength_of(algorithm: str, size: int) -> tuple[str, str]:
        return A.strength(algorithm, size), A.strength_reason(algorithm, size)
