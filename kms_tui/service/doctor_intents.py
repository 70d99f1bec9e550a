"""Doctor: deletions announced in the audit log and never recorded as done or abandoned.

``deletion.py`` commits ``<action>.intent`` before an engine removes or destroys a key, and
``<action>`` (or ``<action>.abandoned``), naming the intent, after. A process killed in
between leaves an intent with neither. Each one is a finding; a repair looks at the engine
and writes what it sees, never more:

- the engine still holds the key (usable; or, for a purge, still pending deletion): the
  intent is recorded as abandoned, the record is left as it is;
- the engine holds it pending deletion after a delete: the delete is recorded as done, and
  the record shows the state;
- the engine no longer holds it: the operation is recorded as done and the record removed.

An engine that cannot be asked leaves the finding open.
"""

from __future__ import annotations

from typing import Any

from engines.errors import KeyNotFoundInEngine, KeyPendingDeletion, KmsError
from store import AuditRow, Store
from store.errors import NotFound, StoreError

from .core import ServiceContext
from .deletion import ABANDONED, ANNOUNCED, INTENT, PENDING
from .doctor_report import WARNING, Finding

_ALL = 10**9  # audit.list wants a limit: every row of an action (the store allows up to this)


def open_intents(store: Store) -> list[AuditRow]:
    """Intent rows no later row names as done or abandoned, oldest first."""
    found: list[AuditRow] = []
    for action in ANNOUNCED:
        intents = store.audit.list(_ALL, action=action + INTENT, newest_first=False)
        if not intents:
            continue
        resolved = {row.details.get("intent") for outcome in (action, action + ABANDONED)
                    for row in store.audit.list(_ALL, action=outcome)}
        found += [row for row in intents if row.seq not in resolved]
    return sorted(found, key=lambda row: row.seq)


def _seen(ctx: ServiceContext, row: AuditRow) -> str:
    """What the engine holds at the intent's reference: "held", "pending" or "gone"."""
    with ctx.without_prompts():
        driver = ctx.driver(row.engine_id or "")
        try:
            native = driver.get(row.details["ref"])
        except KeyPendingDeletion:
            return "pending"
        except KeyNotFoundInEngine:
            return "gone"
    return "pending" if native.state == PENDING else "held"


def _resolve(store: Store, row: AuditRow, seen: str) -> str:
    """Write the outcome the engine shows; returns what was recorded, in words."""
    action = row.action[: -len(INTENT)]
    kind = ANNOUNCED[action]
    details: dict[str, Any] = {"intent": row.seq, "name": row.details.get("name"), "completed_by": "doctor"}
    if seen == "held" or (seen == "pending" and kind == "purge"):
        details["outcome"] = f"the engine still holds the key ({'pending deletion' if seen == 'pending' else 'in use'})"
        store.audit.append(action + ABANDONED, engine_id=row.engine_id, key_id=row.key_id, details=details)
        return "recorded as abandoned: the engine still holds the key"
    details["engine"] = "left as PendingDeletion" if seen == "pending" else "gone"
    engine_id, key_id = row.engine_id or "", row.key_id or ""  # an intent row always names both
    with store.transaction():
        try:
            if seen == "pending":
                store.update_key(engine_id, key_id, state=PENDING)
            else:
                store.delete_key(engine_id, key_id)
        except NotFound:
            details["record"] = "already removed"
        store.audit.append(action, engine_id=row.engine_id, key_id=row.key_id, details=details)
    return ("recorded as done: the key is pending deletion in its engine" if seen == "pending"
            else "recorded as done: the engine no longer holds the key")


def intent_findings(ctx: ServiceContext, repair: bool) -> list[Finding]:
    """One finding per open intent; with ``repair``, each resolved by what its engine shows."""
    findings = []
    for row in open_intents(ctx.store):
        name = str(row.details.get("name") or row.key_id or "?")[:80]
        action = row.action[: -len(INTENT)]
        finding = Finding(
            "audit", WARNING, name,
            f"Audit row {row.seq} announced {action} of key {name!r} on engine {row.engine_id!r}, and no row "
            "says it was done or abandoned: the process stopped in between.",
            "kms-tui doctor --repair looks at the engine and records what happened.", repairable=True)
        if repair:
            try:
                said = _resolve(ctx.store, row, _seen(ctx, row))
                finding.message += f" Repaired: {said}."
                finding.repaired = True
            except (KmsError, StoreError) as exc:
                finding.hint = f"The engine could not be asked ({exc.title}); fix that and run doctor --repair again."
        findings.append(finding)
    from .rotation_doctor import rotation_findings

    return findings + rotation_findings(ctx, repair)
