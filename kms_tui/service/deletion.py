"""Key deletion: recorded before it happens, and recoverable where the engine keeps deleted keys.

Every step that removes or destroys key material (delete, the ``purge`` and ``destroy``
actions, purge-expired) is announced by an audit row committed before the engine is
touched (``<action>.intent``); then the engine acts; then the completion row (``<action>``,
naming the intent) commits in the same transaction as the metadata change. An error the
engine reports is recorded as ``<action>.abandoned``. A process killed in between leaves an
intent with neither: ``doctor`` names it and, with ``--repair``, resolves it by looking at
the engine (see ``doctor_intents``).

The software engine keeps a deleted key in its trash for a pending window
(``pending_window_days``); ``restore`` brings it back, ``purge`` destroys it, and keys past
their window are destroyed only by an explicit ``purge_expired``, never on the side.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import engines
from engines.base import NativeKey, check_options
from engines.errors import (
    InvalidInput,
    KeyNotFoundInEngine,
    KeyPendingDeletion,
    KmsError,
    OperationNotSupported,
)
from store import KeyRecord

from . import key_names
from .core import ServiceContext
from .errors import Refused, Service

INTENT, ABANDONED = ".intent", ".abandoned"
PENDING = "PendingDeletion"
DESTRUCTIVE_ACTIONS = frozenset({"purge", "destroy"})
# Completion actions announced by an intent -> what the engine step does to the key.
ANNOUNCED = {"key.delete": "delete", "key.action.purge": "purge", "key.action.destroy": "purge",
             "key.purge_expired": "purge"}

T = TypeVar("T")


@dataclass
class ExpiredKey:
    """A key whose pending window has ended, as ``purge_expired`` found (and purged) it."""

    engine_id: str
    key_id: str
    name: str | None
    ref: str
    purge_after: int | None  # unix seconds
    purged: bool = False
    skipped: str | None = None  # why it was left as it is

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class KeyDeletion(Service):
    """Deleting keys and the engine actions on deleted ones, each destructive step announced first."""

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    # --- announced engine steps ------------------------------------------------

    def _announced(self, action: str, record: KeyRecord, details: dict[str, Any],
                   step: Callable[[], T]) -> tuple[int, T]:
        """Commit ``<action>.intent``, then run ``step``; an engine error is recorded as abandoned.

        Returns (the intent's audit sequence number, what ``step`` returned). The caller
        commits the completion row, naming the intent, with its metadata change. Never
        called inside a transaction: the intent must be committed before the engine acts.
        """
        audit = self._ctx.store.audit
        intent = audit.append(action + INTENT, engine_id=record.engine_id, key_id=record.key_id,
                              details={**details, "ref": record.native_ref})
        try:
            return intent.seq, step()
        except KmsError as exc:
            # What the engine said; whether anything changed is for the engine to show (doctor looks).
            with contextlib.suppress(Exception):
                audit.append(action + ABANDONED, engine_id=record.engine_id, key_id=record.key_id,
                             details={"intent": intent.seq, "outcome": f"the engine reported: {exc.title}"})
            raise

    def _pending_hint(self, record: KeyRecord) -> str:
        actions = engines.driver_class(self._ctx.store.get_engine(record.engine_id).type).KEY_ACTIONS
        shown = ", ".join(actions) or "none"
        return f"Its engine's actions: {shown} (kms-tui keys action {record.name[:80]} ACTION)."

    # --- delete -------------------------------------------------------------

    def notice(self, record: KeyRecord) -> str:
        """What deleting this key does to its material, in a sentence for the typed confirmation."""
        if record.native_ref is None:
            return "Only the record is removed: no engine object holds this key."
        notice: str = engines.driver_class(self._ctx.store.get_engine(record.engine_id).type).DELETE_NOTICE
        return notice

    def delete(self, record: KeyRecord, *, force: bool = False, options: dict[str, str] | None = None) -> KeyRecord:
        """Delete a key: intent row, engine, then metadata and the completion row. Refused while bound unless forced.

        Engines with recoverable deletion (the software trash, a pending window, a soft
        delete) leave the key in a state; its record stays, showing that state.
        ``options`` are the engine's delete options (e.g. the pending window).
        """
        store = self._ctx.store
        if record.bound and not force:
            raise Refused(
                f"Key {record.name[:80]!r} is bound to {len(record.bindings)} resource(s).",
                hint="Unbind them first, or use --force.",
            )
        if record.state == PENDING:
            raise Refused(f"Key {record.name[:80]!r} is already pending deletion.", hint=self._pending_hint(record))
        details: dict[str, Any] = {"name": record.name, "forced": force, "options": dict(options or {}),
                                   **key_names.aliases_detail(record.aliases)}
        state: str | None = None
        engine_result = "no engine object"
        if record.native_ref is not None:
            driver = self._ctx.driver(record.engine_id)
            checked = check_options(driver.DELETE_OPTIONS, dict(options or {}), f"deleting from {driver.DISPLAY}")
            details["options"] = dict(checked)  # with the engine's defaults: the window actually asked for
            ref = record.native_ref

            def step() -> tuple[str | None, str]:
                try:
                    left = driver.delete(ref, **checked)
                    return left, "deleted" if left is None else f"left as {left}"
                except KeyPendingDeletion:
                    raise Refused(f"Key {record.name[:80]!r} is already pending deletion in its engine.",
                                  hint=self._pending_hint(record)) from None
                except KeyNotFoundInEngine:
                    return None, "already gone"

            details["intent"], (state, engine_result) = self._announced("key.delete", record, details, step)
        elif options:
            raise InvalidInput("This key has no engine object: delete options do not apply.")
        details["engine"] = engine_result
        with store.transaction():
            if state is None:
                store.delete_key(record.engine_id, record.key_id)
            else:
                store.update_key(record.engine_id, record.key_id, state=state)
            store.audit.append("key.delete", engine_id=record.engine_id, key_id=record.key_id, details=details)
        if state is not None:
            return store.get_key(record.engine_id, record.key_id)
        return record

    # --- engine actions (restore, purge, ...) -------------------------------------

    def actions(self, record: KeyRecord) -> dict[str, str]:
        """Engine-specific actions for a key (e.g. restore, cancel-deletion, purge): name -> description."""
        if record.native_ref is None:
            return {}
        return dict(self._ctx.driver(record.engine_id).KEY_ACTIONS)

    def run_action(self, record: KeyRecord, action: str) -> KeyRecord | None:
        """Run an engine-specific action; returns the key as it is now, or None when it is gone.

        A destructive action (purge, destroy) is announced by an intent row first. Front
        ends ask for a typed confirmation before they call it.
        """
        ref = record.native_ref
        if ref is None:
            raise OperationNotSupported(f"Key {record.name[:80]!r} has no engine object.")
        driver = self._ctx.driver(record.engine_id)
        if action not in driver.KEY_ACTIONS:
            known = ", ".join(driver.KEY_ACTIONS) or "none"
            raise OperationNotSupported(f"{driver.DISPLAY} has no key action {action[:40]!r}.", hint=f"Actions: {known}.")
        details: dict[str, Any] = {"name": record.name}
        if action in DESTRUCTIVE_ACTIONS:
            details["intent"], native = self._announced(
                f"key.action.{action}", record, {"name": record.name},
                lambda: driver.key_action(ref, action))
        else:
            native = driver.key_action(ref, action)
        return self._after_action(record, f"key.action.{action}", native, details)

    def _after_action(self, record: KeyRecord, action: str, native: NativeKey | None,
                      details: dict[str, Any]) -> KeyRecord | None:
        store = self._ctx.store
        with store.transaction():
            if native is None:
                store.delete_key(record.engine_id, record.key_id)
            else:
                store.update_key(record.engine_id, record.key_id, state=native.state, status="ok")
            store.audit.append(action, engine_id=record.engine_id, key_id=record.key_id, details=details)
        return None if native is None else store.get_key(record.engine_id, record.key_id)

    # --- keys past their pending window ---------------------------------------------

    def purge_expired(self, engine_id: str | None = None, *, dry_run: bool = False) -> list[ExpiredKey]:
        """Destroy the keys whose pending window has ended, each announced and recorded; or,
        with ``dry_run``, only say which they are. Engines that purge on their own (AWS,
        Azure) are not concerned; a trashed key no record describes is left for a sync."""
        store = self._ctx.store
        if engine_id is not None:
            record = store.get_engine(engine_id)
            if not hasattr(engines.driver_class(record.type), "expired_deletions"):
                raise OperationNotSupported(f"Engine {engine_id!r} keeps no trash of its own: its backend "
                                            "ends pending deletions itself.")
        found: list[ExpiredKey] = []
        for engine in store.list_engines():
            if engine_id not in (None, engine.id) or not hasattr(engines.driver_class(engine.type), "expired_deletions"):
                continue
            driver: Any = self._ctx.driver(engine.id)
            for ref in driver.expired_deletions():
                found.append(self._expired_one(driver, engine.id, ref, dry_run))
        return found

    def _expired_one(self, driver: Any, engine_id: str, ref: str, dry_run: bool) -> ExpiredKey:
        record = self._ctx.store.key_by_native_ref(engine_id, ref)
        item = ExpiredKey(engine_id, record.key_id if record else ref, record.name if record else None, ref,
                          driver.pending_until(ref))
        if record is None:
            item.skipped = f"no record describes it: run kms-tui sync {engine_id} first"
        elif record.state != PENDING:
            item.skipped = "its record is not pending deletion: run kms-tui sync first"
        elif not dry_run:
            try:
                seq, native = self._announced("key.purge_expired", record, {"name": record.name},
                                              lambda: driver.key_action(ref, "purge"))
            except KmsError as exc:  # recorded as abandoned; the other keys are still purged
                item.skipped = f"the engine refused: {exc.title}"
                return item
            self._after_action(record, "key.purge_expired", native, {"name": record.name, "intent": seq,
                                                                      "purge_after": item.purge_after})
            item.purged = True
        return item
