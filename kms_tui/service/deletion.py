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
from engines.base import check_options
from engines.errors import (
    InvalidInput,
    KeyNotFoundInEngine,
    KeyPendingDeletion,
    KmsError,
    OperationNotSupported,
)
from store import KeyRecord

from ..errors import Refused
from .key_ops import KeyOps

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


class DeletionOps(KeyOps):
    # --- announced engine steps ------------------------------------------------

    def _announced(self, action: str, record: KeyRecord, details: dict[str, Any], step: Callable[[], T]) -> tuple[int, T]:
        """Commit ``<action>.intent``, then run ``step``; an engine error is recorded as abandoned.

        Returns (the intent's audit sequence number, what ``step`` returned). The caller
        commits the completion row, naming the intent, with its metadata change. Never
        called inside a transaction: the intent must be committed before the engine acts.
        """
        intent = self.store.audit.append(action + INTENT, engine_id=record.engine_id, key_id=record.key_id,
                                         details={**details, "ref": record.native_ref})
        try:
            return intent.seq, step()
        except KmsError as exc:
            # What the engine said; whether anything changed is for the engine to show (doctor looks).
            with contextlib.suppress(Exception):
                self.store.audit.append(action + ABANDONED, engine_id=record.engine_id, key_id=record.key_id,
                                        details={"intent": intent.seq, "outcome": f"the engine reported: {exc.title}"})
            raise

    def _pending_hint(self, record: KeyRecord) -> str:
        actions = engines.driver_class(self.store.get_engine(record.engine_id).type).KEY_ACTIONS
        shown = ", ".join(actions) or "none"
        return f"Its engine's actions: {shown} (kms-tui keys action {record.name[:80]} ACTION)."

    # --- delete -------------------------------------------------------------

    def deletion_notice(self, record: KeyRecord) -> str:
        """What deleting this key does to its material, in a sentence for the typed confirmation."""
        if record.native_ref is None:
            return "Only the record is removed: no engine object holds this key."
        return engines.driver_class(self.store.get_engine(record.engine_id).type).DELETE_NOTICE

    def delete_key(self, ref: str, *, force: bool = False, options: dict[str, str] | None = None) -> KeyRecord:
        """Delete a key: intent row, engine, then metadata and the completion row. Refused while bound unless forced.

        Engines with recoverable deletion (the software trash, a pending window, a soft
        delete) leave the key in a state; its record stays, showing that state.
        ``options`` are the engine's delete options (e.g. the pending window).
        """
        record = self.resolve(ref)
        if record.bound and not force:
            raise Refused(
                f"Key {record.name[:80]!r} is bound to {len(record.bindings)} resource(s).",
                hint="Unbind them first, or use --force.",
            )
        if record.state == PENDING:
            raise Refused(f"Key {record.name[:80]!r} is already pending deletion.", hint=self._pending_hint(record))
        details: dict[str, Any] = {"name": record.name, "forced": force, "options": dict(options or {})}
        state, engine_result = None, "no engine object"
        if record.native_ref is not None:
            driver = self.driver(record.engine_id)
            checked = check_options(driver.DELETE_OPTIONS, dict(options or {}), f"deleting from {driver.DISPLAY}")
            details["options"] = dict(checked)  # with the engine's defaults: the window actually asked for

            def step() -> tuple[str | None, str]:
                try:
                    left = driver.delete(record.native_ref, **checked)
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
        with self.store.transaction():
            if state is None:
                self.store.delete_key(record.engine_id, record.key_id)
            else:
                self.store.update_key(record.engine_id, record.key_id, state=state)
            self.store.audit.append("key.delete", engine_id=record.engine_id, key_id=record.key_id, details=details)
        if state is not None:
            return self.store.get_key(record.engine_id, record.key_id)
        return record

    # --- engine actions (restore, purge, ...) -------------------------------------

    def key_actions(self, ref: str) -> dict[str, str]:
        """Engine-specific actions for a key (e.g. restore, cancel-deletion, purge): name -> description."""
        record = self.resolve(ref)
        if record.native_ref is None:
            return {}
        return dict(self.driver(record.engine_id).KEY_ACTIONS)

    def run_key_action(self, ref: str, action: str) -> KeyRecord | None:
        """Run an engine-specific action; returns the key as it is now, or None when it is gone.

        A destructive action (purge, destroy) is announced by an intent row first. Front
        ends ask for a typed confirmation before they call it.
        """
        record = self.resolve(ref)
        if record.native_ref is None:
            raise OperationNotSupported(f"Key {record.name[:80]!r} has no engine object.")
        driver = self.driver(record.engine_id)
        if action not in driver.KEY_ACTIONS:
            known = ", ".join(driver.KEY_ACTIONS) or "none"
            raise OperationNotSupported(f"{driver.DISPLAY} has no key action {action[:40]!r}.", hint=f"Actions: {known}.")
        details: dict[str, Any] = {"name": record.name}
        if action in DESTRUCTIVE_ACTIONS:
            details["intent"], native = self._announced(
                f"key.action.{action}", record, {"name": record.name},
                lambda: driver.key_action(record.native_ref, action))
        else:
            native = driver.key_action(record.native_ref, action)
        return self._after_action(record, f"key.action.{action}", native, details)

    def _after_action(self, record: KeyRecord, action: str, native, details: dict[str, Any]) -> KeyRecord | None:
        with self.store.transaction():
            if native is None:
                self.store.delete_key(record.engine_id, record.key_id)
            else:
                self.store.update_key(record.engine_id, record.key_id, state=native.state, status="ok")
            self.store.audit.append(action, engine_id=record.engine_id, key_id=record.key_id, details=details)
        return None if native is None else self.store.get_key(record.engine_id, record.key_id)

    # --- keys past their pending window ---------------------------------------------

    def purge_expired(self, engine_id: str | None = None, *, dry_run: bool = False) -> list[ExpiredKey]:
        """Destroy the keys whose pending window has ended, each announced and recorded; or,
        with ``dry_run``, only say which they are. Engines that purge on their own (AWS,
        Azure) are not concerned; a trashed key no record describes is left for a sync."""
        if engine_id is not None:
            record = self.store.get_engine(engine_id)
            if not hasattr(engines.driver_class(record.type), "expired_deletions"):
                raise OperationNotSupported(f"Engine {engine_id!r} keeps no trash of its own: its backend "
                                            "ends pending deletions itself.")
        found: list[ExpiredKey] = []
        for engine in self.store.list_engines():
            if engine_id not in (None, engine.id) or not hasattr(engines.driver_class(engine.type), "expired_deletions"):
                continue
            driver = self.driver(engine.id)
            for ref in driver.expired_deletions():
                found.append(self._expired_one(driver, engine.id, ref, dry_run))
        return found

    def _expired_one(self, driver, engine_id: str, ref: str, dry_run: bool) -> ExpiredKey:
        record = self.store.key_by_native_ref(engine_id, ref)
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
