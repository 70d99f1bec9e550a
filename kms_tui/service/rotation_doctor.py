"""Doctor: rotations that did not finish (``key.rotate.intent`` with no outcome row).

A process killed after the aliases moved here and before the engine's own aliases (AWS KMS)
followed leaves the predecessor linked to its successor: the repair moves the engine's aliases
and writes ``key.rotate``. Killed before the local move committed, no alias had moved: the repair
records the rotation as abandoned (a successor made meanwhile stays an ordinary key), so the key
can be rotated again.
"""

from __future__ import annotations

from engines.errors import KmsError
from store import AuditRow
from store.errors import NotFound, StoreError

from .core import ServiceContext
from .doctor_report import WARNING, Finding
from .errors import Refused
from .rotation import move_engine_aliases
from .rotation_links import ABANDONED, ROTATE, links_of, open_rotations


def _repair(ctx: ServiceContext, row: AuditRow) -> str:
    """Complete an interrupted rotation from what the records show; returns what was recorded, in words."""
    store = ctx.store
    done = {"intent": row.seq, "completed_by": "doctor"}
    try:
        pred = store.get_key(row.engine_id or "", row.key_id or "")
    except NotFound:
        store.audit.append(ROTATE + ABANDONED, engine_id=row.engine_id, key_id=row.key_id,
                           details={**done, "outcome": "the key is no longer recorded"})
        return "recorded as abandoned: the key is no longer recorded"
    link = links_of(store, pred).successor
    if link is None:
        store.audit.append(ROTATE + ABANDONED, engine_id=row.engine_id, key_id=row.key_id, details={
            **done, "outcome": "the aliases never moved; a successor made meanwhile is an ordinary key"})
        return (f"recorded as abandoned: no alias had moved (a key {str(row.details.get('successor_name'))[:80]!r} "
                "made meanwhile stays as an ordinary key); the key can be rotated again")
    if link.record is None:
        store.audit.append(ROTATE + ABANDONED, engine_id=row.engine_id, key_id=row.key_id,
                           details={**done, "outcome": "the successor is no longer recorded"})
        return "recorded as abandoned: the successor is no longer recorded, the engine's aliases stay"
    if (link.record.name, link.record.engine_id) != (row.details.get("successor_name"),
                                                     row.details.get("successor_engine")):
        raise Refused(f"Key {pred.name[:80]!r} is linked to {link.record.name[:80]!r} on {link.record.engine_id!r}, "
                      f"not to the successor audit row {row.seq} started "
                      f"({str(row.details.get('successor_name'))[:80]!r}): the link was changed; nothing was moved.")
    moved: list[str] = []
    if link.record.engine_id == pred.engine_id:
        with ctx.without_prompts():
            moved = move_engine_aliases(ctx, pred, link.record, row.seq)
    store.audit.append(ROTATE, engine_id=row.engine_id, key_id=row.key_id, details={
        **done, "name": pred.name, "successor": link.record.name, "successor_key_id": link.record.key_id,
        "successor_engine": link.record.engine_id, "engine_aliases": len(moved)})
    return f"completed: {len(moved)} engine alias(es) moved to {link.record.name[:80]!r}"


def rotation_findings(ctx: ServiceContext, repair: bool) -> list[Finding]:
    """One finding per rotation that did not finish; with ``repair``, each completed or recorded as abandoned."""
    findings = []
    for row in open_rotations(ctx.store):
        name = str(row.details.get("name") or row.key_id or "?")[:80]
        finding = Finding(
            "audit", WARNING, name,
            f"Audit row {row.seq} started the rotation of key {name!r} on engine {row.engine_id!r}, and no row says "
            "it finished or was abandoned: the process stopped in between.",
            "kms-tui doctor --repair completes it (the engine's aliases) or records it as abandoned.", repairable=True)
        if repair:
            try:
                finding.message += f" Repaired: {_repair(ctx, row)}."
                finding.repaired = True
            except Refused as exc:
                finding.hint = f"{exc.message} Compare the database with a backup."
            except (KmsError, StoreError) as exc:
                finding.hint = f"The engine could not be asked ({exc.title}); fix that and run doctor --repair again."
        findings.append(finding)
    return findings
