"""The doctor (``kms.doctor``): check the workstation's health and say what to do about each finding.

Checks, in order: permissions of the data directory, the database files, the log
and the software engines' key directories and files; database integrity
(``PRAGMA integrity_check``); the audit chain; the keyring (without prompting);
each engine's reachability (in parallel, with a timeout); and, for each engine
that answered, metadata against what the engine holds (``doctor_consistency``).
Every check runs whatever the others found; a check, or its part for one engine,
that cannot run is a finding that says so and what to do, and the check is then
"incomplete", never "ok".
``repair=True`` fixes what can be fixed without deleting key material: modes are
tightened, records of gone keys are flagged missing and unrecorded keys adopted (a sync).
"""

from __future__ import annotations

import concurrent.futures
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engines.errors import KmsError
from store.errors import CredentialsUnavailable, StoreError

from . import doctor_consistency, doctor_keys, doctor_permissions
from .core import ServiceContext
from .doctor_certs import certificate_findings
from .doctor_intents import intent_findings
from .doctor_leftovers import leftover_findings
from .doctor_report import CHECKS, ENGINE_TIMEOUT, ERROR, WARNING, DoctorReport, Finding, Findings, Listener
from .engine_ops import EngineService
from .errors import Service
from .integrity import KeyProofs
from .inventory import InventoryService

if TYPE_CHECKING:
    from .certs import CertService

__all__ = ["CHECKS", "ENGINE_TIMEOUT", "DoctorReport", "DoctorService", "Finding"]

CHECK_FAILURES = (KmsError, StoreError, OSError, sqlite3.Error)
PART_FIX = {  # what to do when a part of a check cannot run and its error gives no hint
    "permissions": "Check that the data directory and the key directories can be read, then run kms-tui doctor "
                   "again.",
    "database": "Check that kms.db can be opened and read (kms-tui keys list says why not), then run kms-tui "
                "doctor again.",
    "audit": "Check that kms.db can be opened and read (kms-tui audit list says why not), then run kms-tui "
             "doctor again.",
    "keyring": "Unlock or start the keyring (see README), then run kms-tui doctor again.",
    "engines": "Check each engine with kms-tui engines test ENGINE, then run kms-tui doctor again.",
    "consistency": "Check the engines with kms-tui engines test ENGINE, then run kms-tui doctor again.",
}


def reason(exc: BaseException) -> str:
    """What went wrong, in a sentence fit for a finding (an error's message, never a traceback)."""
    if isinstance(exc, (KmsError, StoreError)):
        return exc.message
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or type(exc).__name__}{where}."
    return f"the database answered: {exc}."


def hint_of(exc: BaseException, fallback: str) -> str:
    hint = getattr(exc, "hint", None)
    return hint if isinstance(hint, str) and hint else fallback


def _unrunnable(check: str, what: str, exc: BaseException) -> Finding:
    """The finding of a part of ``check`` that could not run: what was not checked, and why."""
    return Finding(check, ERROR, what, f"The {what} check could not run, so it was not checked: {reason(exc)}",
                   hint_of(exc, PART_FIX[check]), unchecked=True)


class _Behind:
    """Where the findings go while a check finishes in a thread and the next part runs meanwhile.

    The database integrity check is SQLite's own work (no GIL held) and the key records
    check is Python's: run together they take about the time of the longer. The findings
    stay in the order of running one after the other: the next part's are held until the
    thread's are reported, then each is reported as it is found.
    """

    def __init__(self, findings: list[Finding]) -> None:
        self._findings = findings
        self._earlier: concurrent.futures.Future[list[Finding]] | None = None
        self._held: list[Finding] = []

    def start(self, work: Callable[[], list[Finding]]) -> None:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="doctor-database")
        try:
            self._earlier = pool.submit(work)
        except RuntimeError:  # no thread to be had: the check runs here, before the next part
            self._findings.extend(work())
        finally:
            pool.shutdown(wait=False)  # its one thread ends with the work

    def append(self, finding: Finding) -> None:
        if self._earlier is not None and self._earlier.done():
            self.settle()
        (self._findings if self._earlier is None else self._held).append(finding)

    def settle(self) -> None:
        """Wait for the thread's findings, report them, then the ones held meanwhile."""
        earlier, self._earlier = self._earlier, None
        if earlier is None:
            return
        self._findings.extend(earlier.result())
        held, self._held = self._held, []
        self._findings.extend(held)


class DoctorService(Service):
    """One doctor run: every check, each turned into findings; a check that cannot run is one too."""

    def __init__(self, context: ServiceContext, engines: EngineService, inventory: InventoryService,
                 proofs: KeyProofs, certs: Callable[[], CertService] | None = None) -> None:
        self._ctx = context
        self._engines = engines
        self._inventory = inventory
        self._proofs = proofs
        self._certs = certs

    def run(self, *, repair: bool = False, timeout: float = ENGINE_TIMEOUT, deep: bool = False,
            on_finding: Listener | None = None) -> DoctorReport:
        """Run every check; with ``repair``, fix what can be fixed without deleting key material.

        Every part runs whatever the others found or failed at: a part that cannot run
        is an ``unchecked`` finding with its own fix, and its check says "incomplete".
        ``deep`` also has every reachable engine prove that the material behind each
        key record has the recorded public key (a fetch or token read per key).
        ``on_finding`` is called with each finding as soon as it is final (a front end
        prints it then); the report still holds them all, in the same order.
        """
        report = DoctorReport(findings=Findings(listener=on_finding), repair=repair)
        behind = _Behind(report.findings)
        reachable: list[str] = []
        parts: tuple[tuple[str, str, Callable[[], object]], ...] = (
            ("permissions", "permissions", lambda: self._check_permissions(report, repair)),
            ("database", "database integrity", lambda: behind.start(self._database_findings)),
            ("database", "key records", lambda: self._check_records(behind.append)),
            ("database", "certificate records", lambda: report.findings.extend(
                certificate_findings(self._certs()) if self._certs is not None else [])),
            ("audit", "audit chain", lambda: self._check_audit(report)),
            ("audit", "announced deletions", lambda: self._check_intents(report, repair)),
            ("keyring", "keyring", lambda: self._check_keyring(report)),
            ("keyring", "interrupted passphrase changes", lambda: self._check_rekeys(report)),
            ("engines", "engines", lambda: reachable.extend(self._check_engines(report, timeout))),
            ("consistency", "consistency", lambda: doctor_consistency.check(
                self._ctx, self._inventory, self._proofs, report, reachable, repair, deep)),
        )
        for check, what, part in parts:
            if what != "key records":  # the one part that runs while the integrity check finishes
                behind.settle()
            try:
                part()
            except CHECK_FAILURES as exc:  # a part that cannot run is itself a finding
                behind.append(_unrunnable(check, what, exc))
        behind.settle()
        for check in CHECKS:
            report.checked.setdefault(check, report.status_of(check))
        return report

    # --- permissions -----------------------------------------------------------

    def _check_permissions(self, report: DoctorReport, repair: bool) -> None:
        data_dir = Path(self._ctx.data_dir)
        self._private(report, data_dir, 0o700, repair, "data directory")
        for name in ("kms.db", "kms.db-wal", "kms.db-shm", "kms-tui.log"):
            self._private(report, data_dir / name, 0o600, repair, "file")
        for engine in self._ctx.store.list_engines():
            if engine.type != "GOLANG" or not engine.config.get("directory"):
                continue
            directory = Path(engine.config["directory"])
            try:
                self._check_key_directory(report, data_dir, directory, repair, engine.id)
            except OSError as exc:  # this engine's files could not all be examined: say so, go on
                report.findings.append(Finding(
                    "permissions", ERROR, str(directory), f"The key files of engine {engine.id!r} could not all be "
                    f"examined, so they were not checked: {reason(exc)}",
                    f"Check the owner and permissions of {directory}, then run kms-tui doctor again.",
                    unchecked=True))

    def _check_key_directory(self, report: DoctorReport, data_dir: Path, directory: Path, repair: bool,
                             engine_id: str) -> None:
        """A software engine's key directory, its files and its trash."""
        if data_dir in directory.parents:  # keys/ between the data directory and the engine's own
            for parent in reversed(directory.relative_to(data_dir).parents[:-1]):
                self._private(report, data_dir / parent, 0o700, repair, "directory")
        # A key directory outside the data directory is not kms-tui's: its mode is the operator's.
        shared = data_dir.resolve() not in directory.expanduser().resolve().parents
        self._private(report, directory, 0o700, repair, f"key directory of engine {engine_id!r}", shared)
        try:
            entries = sorted(p for p in directory.iterdir() if not p.name.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return  # no key directory: the engines check names the engine as unusable
        for path in entries:
            self._private(report, path, 0o600, repair, f"key file of engine {engine_id!r}", shared)
        report.findings.extend(leftover_findings(directory, engine_id, repair, lambda key_id, name: (
            self._ctx.store.audit.append("doctor.leftover.remove", engine_id=engine_id, key_id=key_id,
                                         details={"file": name}))))
        self._check_trash(report, directory / ".trash", repair, engine_id)

    def _check_trash(self, report: DoctorReport, trash: Path, repair: bool, engine_id: str) -> None:
        """The software engine's trash (keys pending deletion) is held to the key directory's rules."""
        if not trash.is_dir() or trash.is_symlink():
            if trash.is_symlink() or trash.exists():
                report.findings.append(Finding(
                    "permissions", ERROR, str(trash), f"The trash of engine {engine_id!r} is not a directory; "
                    "deleting, restoring and purging its keys are refused.",
                    f"Check what it is and move it aside: {trash}"))
            return
        self._private(report, trash, 0o700, repair, f"trash of engine {engine_id!r}")
        try:
            entries = sorted(p for p in trash.iterdir() if not p.name.startswith("."))
        except OSError:
            return
        for path in entries:
            self._private(report, path, 0o600, repair, f"key file pending deletion of engine {engine_id!r}")

    def _private(self, report: DoctorReport, path: Path, wanted: int, repair: bool, what: str,
                 shared: bool = False) -> None:
        """A finding when ``path`` is open to group or others, not this user's, or (a key file) a link.

        ``shared``: a key directory kms-tui did not create, or a file in one (doctor_permissions).
        """
        found = doctor_permissions.judge(path, wanted, what, repair=repair, shared=shared)
        if found is not None:
            report.findings.append(Finding("permissions", **found))

    # --- database and audit ------------------------------------------------------

    def _database_findings(self) -> list[Finding]:
        """The database integrity check's findings (run in a thread: its own connection, no shared state)."""
        held = DoctorReport()
        try:
            self._check_database(held)
        except CHECK_FAILURES as exc:
            held.findings.append(_unrunnable("database", "database integrity", exc))
        return held.findings

    def _check_database(self, report: DoctorReport) -> None:
        path = Path(self._ctx.store.path)
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
            try:
                problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
                orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            problems, orphans = [str(exc)], []
        if problems != ["ok"]:
            shown = "; ".join(problems[:3]) + (" …" if len(problems) > 3 else "")
            report.findings.append(Finding(
                "database", ERROR, str(path), f"The database fails its integrity check: {shown}",
                f"Stop kms-tui, copy {path.name} aside, then run: sqlite3 {path} '.recover' | sqlite3 recovered.db "
                "— or restore a backup. Key material in the engines is not affected."))
        if orphans:
            report.findings.append(Finding(
                "database", ERROR, str(path), f"{len(orphans)} row(s) point at records that do not exist.",
                "Restore the database from a backup, or run kms-tui sync to rebuild the key records."))

    def _check_audit(self, report: DoctorReport) -> None:
        check = self._ctx.store.audit.verify()
        if not check.ok:
            report.findings.append(Finding(
                "audit", ERROR, f"audit row {check.first_broken}" if check.first_broken else "audit log",
                check.reason or "The audit chain is broken.",
                "Keep a copy of kms.db as evidence and find out who changed it; the chain is not rewritten, "
                "since that would hide the break."))

    def _check_intents(self, report: DoctorReport, repair: bool) -> None:
        """Deletions announced and never recorded as done or abandoned (see doctor_intents)."""
        report.findings.extend(intent_findings(self._ctx, repair))

    # --- keyring and engines -----------------------------------------------------

    def _check_keyring(self, report: DoctorReport) -> None:
        credentials = self._ctx.credentials
        usable, sentence = credentials.status()
        engines = [e for e in self._ctx.store.list_engines() if e.has_secret]
        if not usable:
            report.findings.append(Finding(
                "keyring", ERROR if engines else WARNING, "keyring", sentence,
                "Unlock or start a Secret Service (see README), or give each secret when asked to keep it "
                "in memory for the session."))
            return
        for engine in engines:
            if credentials.held_in_memory(engine.id):
                continue
            try:
                present = credentials.get(engine.id) is not None
            except CredentialsUnavailable as exc:
                report.findings.append(Finding("keyring", ERROR, engine.id, exc.message,
                                               hint_of(exc, PART_FIX["keyring"])))
                continue
            except StoreError as exc:  # this engine's secret could not be looked up: say so, go on
                report.findings.append(Finding(
                    "keyring", ERROR, engine.id, f"The keyring could not be asked for the secret of engine "
                    f"{engine.id!r}, so it was not checked: {exc.message}", hint_of(exc, PART_FIX["keyring"]),
                    unchecked=True))
                continue
            if not present:
                report.findings.append(Finding(
                    "keyring", ERROR, engine.id, f"The keyring holds no secret for engine {engine.id!r}.",
                    f"kms-tui engines secret {engine.id} --secret-stdin"))

    def _check_rekeys(self, report: DoctorReport) -> None:
        """A re-key a kill interrupted is finished here, as the next command would (see engine_secrets)."""
        for engine_id, outcome in self._engines.secrets.finish_pending():
            if isinstance(outcome, dict):
                report.findings.append(Finding(
                    "keyring", WARNING, engine_id,
                    f"A passphrase change of engine {engine_id!r} had been interrupted; it is now finished "
                    f"({outcome['reencrypted']} key file(s) re-encrypted, {outcome['already']} already done).",
                    "Nothing more to do; the audit log records it.", repairable=True, repaired=True))
            else:
                report.findings.append(Finding(
                    "keyring", ERROR, engine_id,
                    f"A passphrase change of engine {engine_id!r} was interrupted and cannot be finished: {outcome}",
                    "Fix the cause above; every key file still opens under the old or the new passphrase, both "
                    "kept in the keyring."))

    def _check_engines(self, report: DoctorReport, timeout: float) -> list[str]:
        """Test every engine at once; the ones that answered in time."""
        ids = [e.id for e in self._ctx.store.list_engines()]
        if not ids:
            return []
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(ids)), thread_name_prefix="doctor")
        futures = {eid: pool.submit(self._engines.test, eid, interactive=False) for eid in ids}
        concurrent.futures.wait(futures.values(), timeout=timeout)
        pool.shutdown(wait=False, cancel_futures=True)  # a hung engine must not hold the doctor
        reachable: list[str] = []
        for eid, future in futures.items():
            if not future.done():
                report.findings.append(Finding(
                    "engines", ERROR, eid, f"Engine {eid!r} did not answer within {timeout:g} s.",
                    f"Check the network path and the service, then: kms-tui engines test {eid}"))
                continue
            try:
                result = future.result()
            except CHECK_FAILURES as exc:
                report.findings.append(Finding("engines", ERROR, eid, f"Engine {eid!r} cannot be used: {reason(exc)}",
                                               hint_of(exc, f"Fix the cause, then: kms-tui engines test {eid}")))
                continue
            if result.reachable:
                reachable.append(eid)
            else:
                report.findings.append(Finding(
                    "engines", ERROR, eid, f"Engine {eid!r} is not usable: {result.title}: {result.message}",
                    f"Fix the cause, then: kms-tui engines test {eid}"))
        return reachable

    # --- key records ------------------------------------------------------------

    def _check_records(self, add: Listener) -> None:
        """Every key row readable, and its key id, algorithm and size its public key's."""
        for severity, subject, message, hint in doctor_keys.record_problems(Path(self._ctx.store.path)):
            add(Finding("database", severity, subject, message, hint))
