"""Sync (reconcile the metadata with what engines hold), stats and the audit log."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engines import algorithms as A
from engines import keys as K
from engines.base import NativeKey
from store import AuditCheck, AuditRow
from store.errors import Conflict, NotFound

from ..errors import Cancelled
from .signing import SigningOps

log = logging.getLogger("kms_tui.sync")

_WRITE_BATCH = 250  # store writes per transaction: few commits, and a cut-short sync keeps whole batches

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
        full: bool = False,
    ) -> list[SyncReport]:
        """Reconcile one engine (or all): adopt unknown keys, flag missing ones. Deletes nothing.

        Keys already recorded are only checked to be there (remote engines list
        them without a call per key); ``full`` reads every key again, so states
        changed outside kms-tui (a key disabled or scheduled for deletion) are seen.
        """
        ids = [engine_id] if engine_id else [e.id for e in self.store.list_engines()]
        return [self._sync_one(eid, progress, cancel, full) for eid in ids]

    def _sync_one(
        self, engine_id: str, progress: Progress | None, cancel: threading.Event | None, full: bool = False
    ) -> SyncReport:
        self.store.get_engine(engine_id)
        driver = self.driver(engine_id)
        report = SyncReport(engine_id)
        records = list(self.store.iter_keys(engine_id))
        known = {r.native_ref: r for r in records if r.native_ref is not None}
        by_key_id = {r.key_id: r for r in records}  # a key id is recorded once per engine
        seen_refs: set[str] = set()
        writes: list[Callable[[], None]] = []  # store writes, flushed a batch per transaction
        try:
            for native in driver.inventory(frozenset(known), full):
                if cancel is not None and cancel.is_set():
                    self._flush(writes)
                    raise Cancelled(
                        f"Sync of {engine_id!r} was cancelled; {len(report.adopted)} key(s) adopted so far."
                    )
                self._reconcile(engine_id, native, known, by_key_id, seen_refs, report, writes)
                if len(writes) >= _WRITE_BATCH:
                    self._flush(writes)
                if progress is not None:
                    progress(report.seen, None, engine_id)
            for ref, record in known.items():
                if ref not in seen_refs and record.status != "missing":
                    writes.append(lambda key_id=record.key_id: self.store.update_key(
                        engine_id, key_id, status="missing"))
                    report.missing.append(record.key_id)
                    if len(writes) >= _WRITE_BATCH:
                        self._flush(writes)
            self._flush(writes)
        except BaseException:
            # What was reconciled so far is kept (each batch is whole); the rest waits for the next sync.
            with contextlib.suppress(Exception):
                self._flush(writes)
            raise
        self.store.audit.append(
            "engine.sync",
            engine_id=engine_id,
            details={"seen": report.seen, "adopted": report.adopted, "missing": report.missing,
                     "restored": report.restored, "full": full},
        )
        return report

    def _reconcile(self, engine_id, native: NativeKey, known, by_key_id, seen_refs, report, writes) -> None:
        """Queue what one inventory entry changes in the store."""
        record = known.get(native.ref)
        if native.light and record is None:
            log.warning("Engine %s listed a key it did not read at a reference nobody recorded; skipped.",
                        engine_id)
            return
        report.seen += 1
        seen_refs.add(native.ref)
        if record is None:
            record = by_key_id.get(native.key_id)
            if record is not None:  # the same key at a new reference (renamed, re-imported)
                writes.append(lambda r=record: self.store.update_key(engine_id, r.key_id, native_ref=native.ref))
                if record.native_ref is not None:
                    seen_refs.add(record.native_ref)
        state = native.state if not native.light or native.state is not None else (record and record.state)
        if record is None:
            by_key_id[native.key_id] = native  # listed twice (two references): adopted once
            writes.append(lambda: self._adopt(engine_id, native, report))
            report.adopted.append(native.key_id)
        elif isinstance(record, NativeKey):
            report.unchanged += 1
        elif record.status == "missing":
            writes.append(lambda r=record: self.store.update_key(engine_id, r.key_id, status="ok", state=state))
            report.restored.append(record.key_id)
        else:
            if state != record.state:
                writes.append(lambda r=record: self.store.update_key(engine_id, r.key_id, state=state))
            report.unchanged += 1

    def _flush(self, writes: list[Callable[[], None]]) -> None:
        """Run the queued writes in one transaction (all or none), then forget them."""
        if not writes:
            return
        with self.store.transaction():
            for write in writes:
                try:
                    with self.store.transaction():  # a savepoint: a write that lost a race is undone alone
                        write()
                except (Conflict, NotFound) as exc:
                    # Another process recorded, renamed or removed that key since the listing.
                    log.info("sync: a record changed meanwhile (%s); left as it is", exc.message)
        writes.clear()

    def _adopt(self, engine_id: str, native, report: SyncReport) -> None:
        if any(r.engine_id == engine_id for r in self.store.keys_by_key_id(native.key_id)):
            # Recorded since the listing (a create or import in another process): not ours to adopt.
            report.adopted.remove(native.key_id)
            report.unchanged += 1
            return
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
