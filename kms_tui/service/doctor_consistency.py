"""Doctor's consistency check: the key records of each engine that answered, against what it holds.

A record whose engine no longer holds its key, or a key no record describes, can be
repaired by a sync (flagged missing, adopted); a key at a recorded reference that is
not the recorded key cannot, and is named as an error. ``deep`` also has the engine
prove every key (``doctor_keys.prove_problems``). Each registered engine is compared
on its own: one that did not answer, or fails part way, is a finding that says it was
not checked, and the others are still compared.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from engines.base import EngineDriver, NativeKey
from engines.errors import KeyIntegrityError, KeyNotFoundInEngine, KmsError
from store.errors import StoreError

from . import doctor_keys
from .core import ServiceContext
from .doctor_report import ERROR, INFO, WARNING, DoctorReport, Finding
from .integrity import KeyProofs
from .inventory import InventoryService


def check(ctx: ServiceContext, inventory: InventoryService, proofs: KeyProofs, report: DoctorReport,
          reachable: list[str], repair: bool, deep: bool = False) -> None:
    """Compare every engine that answered; with ``repair``, a sync fixes what it can.

    An engine that did not answer, or that fails while it is compared, is named as not
    checked (with what to do), and the others are still compared.
    """
    registered = [engine.id for engine in ctx.store.list_engines()]
    if not registered:
        report.checked["consistency"] = "skipped: no engine registered"
        return
    for engine_id in registered:
        if engine_id not in reachable:
            report.findings.append(Finding(
                "consistency", WARNING, engine_id, f"The key records of engine {engine_id!r} were not compared "
                "with what it holds: the engine cannot be used (see its engines finding).",
                f"Make engine {engine_id!r} usable (its engines finding says how), then run kms-tui doctor again.",
                unchecked=True))
            continue
        try:
            _check_engine(ctx, inventory, proofs, report, engine_id, repair, deep)
            _check_backup_keks(ctx, report, engine_id)
        except (KmsError, StoreError, OSError) as exc:
            why = exc.message if isinstance(exc, (KmsError, StoreError)) else exc.strerror or type(exc).__name__
            report.findings.append(Finding(
                "consistency", ERROR, engine_id, f"The key records of engine {engine_id!r} could not all be "
                f"compared with what it holds: {why}",
                getattr(exc, "hint", None) or f"Check the engine (kms-tui engines test {engine_id}), then run "
                "kms-tui doctor again.", unchecked=True))


def _check_backup_keks(ctx: ServiceContext, report: DoctorReport, engine_id: str) -> None:
    """A backup's key-encryption key left on a token (a wrap killed before it destroyed it) is named:
    its label only. Removing it is the security officer's act, never a repair."""
    driver = ctx.driver(engine_id)
    if not getattr(driver, "BACKUP_NEEDS_OFFICER", False):
        return
    for label in driver.leftover_backup_keks():
        report.findings.append(Finding(
            "consistency", WARNING, engine_id,
            f"A backup key-encryption key was left on the token of engine {engine_id!r}: {label[:80]!r} "
            "(a backup stopped before it destroyed it). It is trusted for wrapping on that token.",
            "As the security officer, delete it with the token's tools, e.g. pkcs11-tool --login "
            f"--login-type so --delete-object --type secrt --label {label[:80]}"))


def _check_engine(ctx: ServiceContext, inventory: InventoryService, proofs: KeyProofs, report: DoctorReport,
                  engine_id: str, repair: bool, deep: bool) -> None:
    # With repair, this engine's findings are held until the sync says which it fixed; without, each is
    # reported as it is found.
    held = DoctorReport() if repair else report
    try:
        fixable = [f for f in compare(ctx, held, engine_id) if f.repairable]
        if repair and fixable:
            (synced,) = inventory.sync(engine_id)  # adopts unrecorded keys and flags gone ones; deletes nothing
            _confirm_repairs(ctx, engine_id, fixable, synced.adopted)
    finally:
        if held is not report:
            report.findings.extend(held.findings)
    if deep:
        named = {f.subject for f in report.findings if f.check == "consistency" and f.severity == ERROR}
        for severity, subject, message, hint in doctor_keys.prove_problems(ctx.store, proofs, engine_id, named):
            report.findings.append(Finding("consistency", severity, subject, message, hint))


def _confirm_repairs(ctx: ServiceContext, engine_id: str, fixable: list[Finding], adopted: list[str]) -> None:
    """Mark repaired only what a fresh comparison no longer finds: a sync that could not adopt
    or flag a key changed nothing, and saying otherwise would hide the finding until next time."""
    still = {(f.subject, f.message) for f in compare(ctx, DoctorReport(), engine_id) if f.severity != INFO}
    prefixes = {f"{engine_id}:{key_id[:16]}" for key_id in adopted}
    for finding in fixable:
        finding.repaired = (finding.subject, finding.message) not in still
        if finding.repaired:
            finding.changed = (f"adopted by a sync of {engine_id}" if finding.subject in prefixes
                               else f"flagged missing by a sync of {engine_id}; nothing was deleted")
        else:
            finding.repairable = False
            finding.hint = f"A sync did not change this. {finding.hint}"


def compare(ctx: ServiceContext, report: DoctorReport, engine_id: str) -> list[Finding]:
    """The findings of one engine's records against its inventory (also added to ``report``)."""
    driver = ctx.driver(engine_id)
    held = {native.ref: native for native in driver.inventory()}
    recorded = _recorded(ctx, engine_id, held)
    if recorded is None:  # a row whose JSON does not parse: named by the database check
        unread = Finding("consistency", ERROR, engine_id, f"The key records of engine {engine_id!r} cannot all "
                         "be read, so they were not compared with the engine.",
                         "Fix the records the database check names, then run kms-tui doctor again.",
                         unchecked=True)
        report.findings.append(unread)
        return [unread]
    records, recorded_ids, replaced = recorded
    found: list[Finding] = []  # what is not for information only: each is also added to the report as found

    def add(finding: Finding) -> None:
        found.append(finding)
        report.findings.append(finding)

    while records:  # each let go once reported: the findings grow as the records shrink
        kind, name, detail, pem = records.popleft()
        if kind == _REPLACED:
            add(Finding("consistency", ERROR, name, detail, doctor_keys.REPLACED))
        elif kind == _MISSING:
            report.findings.append(Finding(
                "consistency", INFO, name, f"Key {name!r} is flagged missing from {engine_id!r}.",
                f"If it is gone for good: kms-tui keys delete {detail}; if it comes back, sync restores it."))
        else:
            problem = _read_problem(driver, _Recorded(engine_id, name, pem), detail, engine_id)
            if problem is not None:
                add(problem)
    held_ids = {native.key_id for ref, native in held.items() if ref not in replaced}
    for key_id in sorted(held_ids - recorded_ids):
        add(Finding(
            "consistency", WARNING, f"{engine_id}:{key_id[:16]}",
            f"Engine {engine_id!r} holds key {key_id[:16]}… that no record describes.",
            f"kms-tui doctor --repair (or kms-tui sync {engine_id}) adopts it.", repairable=True))
    for what, why, todo in driver.unusable():  # never repaired: that would delete key material
        add(Finding("consistency", WARNING, f"{engine_id}:{what[:40]}",
                    f"Engine {engine_id!r} holds a {what} that cannot be used: {why}", todo))
    return found


_REPLACED, _MISSING, _UNLISTED = "replaced", "missing", "unlisted"
_Row = tuple[str, str, str, str]  # kind, name, the replaced key's why / the missing key's id / the reference, PEM


class _Recorded(NamedTuple):
    """What ``doctor_keys.held_mismatch`` reads of a key record."""

    engine_id: str
    name: str
    public_key: str


def _recorded(ctx: ServiceContext, engine_id: str, held: dict[str, NativeKey]
              ) -> tuple[deque[_Row], set[str], set[str]] | None:
    """Every record of the engine read first, since one that cannot be read means none is compared (None).

    Only what the comparison reports on is kept of each (most records the engine lists
    need nothing more), so that the engine's records are never all held at once:
    (what to report on, in record order; the recorded key ids the engine holds; the
    references where the engine holds another key than the recorded one).
    """
    held_key_ids = {native.key_id for native in held.values()}
    records: deque[_Row] = deque()
    recorded_ids: set[str] = set()
    replaced: set[str] = set()
    rows = ctx.store.iter_key_refs(engine_id)  # what is compared, and no more, of each record
    while True:
        try:
            record = next(rows, None)
        except ValueError:
            return None
        if record is None:
            break
        if record.key_id in held_key_ids:
            recorded_ids.add(record.key_id)
        ref = record.native_ref
        if ref is None:
            continue
        native = held.get(ref)
        if native is not None:
            why = doctor_keys.held_mismatch(_Recorded(engine_id, record.name, record.public_key), native)
            if why:
                replaced.add(ref)
                records.append((_REPLACED, record.name, why, ""))
        elif record.status == "missing":
            records.append((_MISSING, record.name, record.key_id, ""))
        else:
            records.append((_UNLISTED, record.name, ref, record.public_key))
    return records, recorded_ids, replaced


def _read_problem(driver: EngineDriver, record: doctor_keys.Recorded, ref: str, engine_id: str) -> Finding | None:
    """What is wrong with a recorded key its engine did not list: gone, replaced or unreadable; None if fine."""
    try:
        why = doctor_keys.held_mismatch(record, driver.get(ref))
    except KeyNotFoundInEngine:
        return Finding(
            "consistency", WARNING, record.name,
            f"Key {record.name!r} is recorded on {engine_id!r} but the engine no longer holds it.",
            f"kms-tui doctor --repair (or kms-tui sync {engine_id}) flags it missing; nothing is deleted.",
            repairable=True)
    except KeyIntegrityError as exc:
        return Finding("consistency", ERROR, record.name, exc.message, exc.hint or doctor_keys.REPLACED)
    except KmsError as exc:
        return Finding("consistency", ERROR, record.name,
                       f"Key {record.name!r} cannot be read from {engine_id!r}: {exc.message}",
                       exc.hint or "Check the engine, then run kms-tui doctor again.")
    if why:  # listed elsewhere (e.g. under another reference), and another key
        return Finding("consistency", ERROR, record.name, why, doctor_keys.REPLACED)
    return None
