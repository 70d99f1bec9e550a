"""The inventory service (``kms.inventory``): sync (reconcile the metadata with what engines hold) and stats."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from engines import keys as K
from engines.base import EngineDriver, NativeKey
from engines.errors import KmsError
from store import KeyRecord
from store.errors import Conflict, NotFound

from . import new_keys
from .core import ServiceContext
from .errors import Cancelled, Service

if TYPE_CHECKING:
    from .certs import CertService

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
    certificates: list[str] = field(default_factory=list)  # fingerprints recorded from the engine

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


Write = Callable[[], object]


class InventoryService(Service):
    """Reconciles key records with what the engines hold; counts them."""

    def __init__(self, context: ServiceContext, certs: Callable[[], CertService] | None = None) -> None:
        self._ctx = context
        self._certs = certs  # the certificate service, asked for only when an engine keeps certificates

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
        ids = [engine_id] if engine_id else [e.id for e in self._ctx.store.list_engines()]
        return [self._sync_one(eid, progress, cancel, full) for eid in ids]

    def _sync_one(
        self, engine_id: str, progress: Progress | None, cancel: threading.Event | None, full: bool = False
    ) -> SyncReport:
        store = self._ctx.store
        store.get_engine(engine_id)
        driver = self._ctx.driver(engine_id)
        report = SyncReport(engine_id)
        records = list(store.iter_keys(engine_id))
        known = {r.native_ref: r for r in records if r.native_ref is not None}
        by_key_id: dict[str, KeyRecord | NativeKey] = {r.key_id: r for r in records}  # once per engine
        seen_refs: set[str] = set()
        writes: list[Write] = []  # store writes, flushed a batch per transaction
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
                    writes.append(partial(store.update_key, engine_id, record.key_id, status="missing"))
                    report.missing.append(record.key_id)
                    if len(writes) >= _WRITE_BATCH:
                        self._flush(writes)
            self._flush(writes)
        except BaseException:
            # What was reconciled so far is kept (each batch is whole); the rest waits for the next sync.
            with contextlib.suppress(Exception):
                self._flush(writes)
            raise
        self._sync_certificates(engine_id, driver, report)
        details = {"seen": report.seen, "adopted": report.adopted, "missing": report.missing,
                   "restored": report.restored, "full": full}
        if report.certificates:
            details["certificates"] = report.certificates
        store.audit.append("engine.sync", engine_id=engine_id, details=details)
        return report

    def _sync_certificates(self, engine_id: str, driver: EngineDriver, report: SyncReport) -> None:
        """Record the certificates the engine keeps that certify recorded keys of it (PKCS#11: every
        CKO_CERTIFICATE, listed in one search and matched to keys by public key, not key by key)."""
        if self._certs is None or type(driver).all_certificates is EngineDriver.all_certificates:
            return  # an engine that keeps no certificates: the certificate service is not even built
        try:
            found = driver.all_certificates()
        except KmsError as exc:
            log.info("sync: the certificates of engine %s were not read (%s)", engine_id[:40], exc.message)
            return
        by_key: dict[str, list[bytes]] = {}
        for der in found:
            key_id = _certified_key_id(der)
            if key_id is not None:
                by_key.setdefault(key_id, []).append(der)
        if not by_key:
            return
        certs = self._certs()
        for key_id, ders in by_key.items():
            try:
                record = self._ctx.store.get_key(engine_id, key_id)
            except NotFound:
                continue  # a certificate of no key recorded here (an issuer's, or a key not adopted)
            if record.native_ref is not None and record.status == "ok":
                report.certificates.extend(certs.record_found(record, ders))

    def _reconcile(self, engine_id: str, native: NativeKey, known: dict[str, KeyRecord],
                   by_key_id: dict[str, KeyRecord | NativeKey], seen_refs: set[str], report: SyncReport,
                   writes: list[Write]) -> None:
        """Queue what one inventory entry changes in the store."""
        store = self._ctx.store
        record: KeyRecord | NativeKey | None = known.get(native.ref)
        if native.light and record is None:
            log.warning("Engine %s listed a key it did not read at a reference nobody recorded; skipped.",
                        engine_id)
            return
        report.seen += 1
        seen_refs.add(native.ref)
        if record is None:
            record = by_key_id.get(native.key_id)
            if isinstance(record, KeyRecord):  # the same key at a new reference (renamed, re-imported)
                writes.append(partial(store.update_key, engine_id, record.key_id, native_ref=native.ref))
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
            writes.append(partial(store.update_key, engine_id, record.key_id, status="ok", state=state))
            report.restored.append(record.key_id)
        else:
            if state != record.state:
                writes.append(partial(store.update_key, engine_id, record.key_id, state=state))
            report.unchanged += 1

    def _flush(self, writes: list[Write]) -> None:
        """Run the queued writes in one transaction (all or none), then forget them."""
        if not writes:
            return
        store = self._ctx.store
        with store.transaction():
            for write in writes:
                try:
                    with store.transaction():  # a savepoint: a write that lost a race is undone alone
                        write()
                except (Conflict, NotFound) as exc:
                    # Another process recorded, renamed or removed that key since the listing.
                    log.info("sync: a record changed meanwhile (%s); left as it is", exc.message)
        writes.clear()

    def _adopt(self, engine_id: str, native: NativeKey, report: SyncReport) -> None:
        store = self._ctx.store
        if any(r.engine_id == engine_id for r in store.keys_by_key_id(native.key_id)):
            # Recorded since the listing (a create or import in another process): not ours to adopt.
            report.adopted.remove(native.key_id)
            report.unchanged += 1
            return
        label = native.extra.get("label") if isinstance(native.extra.get("label"), str) else None
        base = label if label and not K.is_key_id(label) else f"{engine_id}-{native.key_id[:12]}"
        name, n = base, 1
        while store.key_by_name(name) or store.key_by_alias(name):
            n += 1
            name = f"{base}-{n}"
        store.add_key(new_keys.key_record(native, engine_id, name, [], [], {}))

    # --- stats -----------------------------------------------------------------

    def data_version(self) -> int | None:
        """A number that changes whenever the database does (here or in another process); cheap enough to poll.

        Screens showing the database reload when it changes; None means it
        could not be read just now (the database busy or closed).
        """
        return self._ctx.store.data_version()

    def stats(self) -> dict[str, Any]:
        """Key counts by engine, algorithm, strength and state (the stats screen's figures)."""
        return self._ctx.store.stats()


def _certified_key_id(der: bytes) -> str | None:
    """The key id (SHA-256 of the DER SubjectPublicKeyInfo) a certificate certifies; None when unreadable."""
    from cryptography import x509

    try:
        return K.key_id_of(x509.load_der_x509_certificate(der).public_key())
    except (ValueError, TypeError, KmsError):
        return None
