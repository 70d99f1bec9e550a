"""Large outputs stream: keys listed a page at a time, doctor findings handed over as they are found."""

from __future__ import annotations

import os
import sqlite3
import threading

from kms_tui.service import doctor_keys
from kms_tui.service.doctor import DoctorService
from kms_tui.service.types import KeyQuery


def _keys(kms, n: int) -> list:
    return [kms.keys.create("ECDSA", 256, f"k{i}", tags=[f"t{i % 2}"]) for i in range(n)]


def test_the_key_iterators_give_every_key_of_the_listing_across_pages(kms):
    _keys(kms, 5)
    for query in (KeyQuery(), KeyQuery(sort="creation_ts", descending=True), KeyQuery(text="t1"), KeyQuery(limit=3)):
        for page in (1, 2, 5, 500):
            assert [r.to_json() for r in kms.keys.iter(query, page=page)] == [r.to_json() for r in kms.keys.list(query)]
            assert list(kms.keys.iter_json(query, page=page)) == kms.keys.list_json(query)
    assert len(list(kms.keys.iter(page=2))) == 5


def test_doctor_hands_over_a_finding_before_the_later_checks_run(kms, monkeypatch):
    os.chmod(kms.data_dir, 0o755)  # a permissions finding: the first check
    seen: list = []
    seen_when_engines_ran: list[int] = []
    check_engines = DoctorService._check_engines

    def engines_check(self, report, timeout):
        seen_when_engines_ran.append(len(seen))
        return check_engines(self, report, timeout)

    monkeypatch.setattr(DoctorService, "_check_engines", engines_check)
    report = kms.doctor.run(on_finding=seen.append)
    assert seen_when_engines_ran and seen_when_engines_ran[0] >= 1
    assert seen[0].check == "permissions" and seen == report.findings


def test_with_repair_a_consistency_finding_is_handed_over_once_repaired(kms):
    gone = kms.keys.create("ECDSA", 256, "gone")
    os.unlink(kms.data_dir / "keys" / "golang-default" / gone.native_ref)
    told: list[tuple[str, bool, str]] = []
    report = kms.doctor.run(repair=True, on_finding=lambda f: told.append((f.subject, f.repaired, f.changed)))
    assert ("gone", True, "flagged missing by a sync of golang-default; nothing was deleted") in told
    assert len(told) == len(report.findings) and report.clean


def _damage_an_index(kms) -> None:
    """An index that no longer matches its table: the integrity check names it."""
    conn = sqlite3.connect(str(kms.context.store.path), isolation_level=None)
    try:
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("CREATE TABLE scratch(x)")
        conn.execute("CREATE INDEX scratch_x ON scratch(x)")
        conn.execute("INSERT INTO scratch VALUES (1), (2)")
        index, table = (conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
                        for name in ("scratch_x", "scratch"))
        conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'scratch_x'", (table,))
        conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'scratch'", (index,))
    finally:
        conn.close()


def test_key_record_findings_wait_for_an_integrity_check_that_ends_after_them(kms, monkeypatch):
    """The integrity check runs while the key records are read; its findings still come first."""
    kms.keys.create("ECDSA", 256, "edited")
    conn = sqlite3.connect(str(kms.context.store.path), isolation_level=None)
    conn.execute("UPDATE keys SET key_id = ? WHERE name = 'edited'", ("e" * 64,))
    conn.close()
    _damage_an_index(kms)
    records_read = threading.Event()
    record_problems, check_database = doctor_keys.record_problems, DoctorService._check_database

    def problems(path):
        yield from record_problems(path)
        records_read.set()

    def late_check(self, report):
        assert records_read.wait(10)  # the key records are all read before this check says anything
        return check_database(self, report)

    monkeypatch.setattr(doctor_keys, "record_problems", problems)
    monkeypatch.setattr(DoctorService, "_check_database", late_check)
    seen: list = []
    report = kms.doctor.run(on_finding=seen.append)
    assert seen == report.findings
    database = [f for f in seen if f.check == "database"]
    assert [f.subject for f in database] == [str(kms.context.store.path), "edited"]
    assert "integrity check" in database[0].message and "key id" in database[1].message
