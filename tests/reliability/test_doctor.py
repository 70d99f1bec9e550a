"""Doctor: each check finds what it should, says what to do, and --repair fixes what it can."""

from __future__ import annotations

import json
import os
import sqlite3
from argparse import Namespace
from pathlib import Path

from engines.errors import EngineUnavailable
from kms_tui.cli.doctor_cmds import doctor as doctor_cmd
from store.errors import DatabaseError


def test_a_fresh_workstation_is_healthy(kms, capsys):
    kms.keys.create("ECDSA", 256, "k")
    report = kms.doctor.run()
    assert report.clean, report.findings
    assert set(report.checked) == {"permissions", "database", "audit", "keyring", "engines", "consistency"}
    assert set(report.checked.values()) == {"ok"}
    assert doctor_cmd(kms, Namespace(json=False, repair=False)) == 0
    assert "Healthy: nothing to do." in capsys.readouterr().out


def test_keys_gone_and_keys_unrecorded_are_found_then_repaired_without_deleting(kms, capsys):
    gone = kms.keys.create("ECDSA", 256, "gone")
    kept = kms.keys.create("ECDSA", 256, "kept")
    stray = kms.context.driver("golang-default").create("Ed25519", 256)  # in the engine, never recorded
    os.unlink(kms.data_dir / "keys" / "golang-default" / gone.native_ref)

    assert doctor_cmd(kms, Namespace(json=True, repair=False)) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["clean"] is False and data["checked"]["consistency"] == "findings"
    found = {f["subject"]: f for f in data["findings"] if f["check"] == "consistency"}
    assert set(found) == {"gone", f"golang-default:{stray.key_id[:16]}"}
    assert all(f["repairable"] and f["severity"] == "warning" and "--repair" in f["hint"] for f in found.values())

    report = kms.doctor.run(repair=True)
    assert report.clean and all(f.repaired for f in report.findings if f.check == "consistency")
    records = {r.key_id: r for r in kms.keys.list()}
    assert records[gone.key_id].status == "missing"  # flagged, not deleted
    assert stray.key_id in records  # adopted
    assert records[kept.key_id].status == "ok"
    after = kms.doctor.run()
    assert after.clean
    assert [f.severity for f in after.findings] == ["info"]  # the flagged key, with what to do about it
    assert f"kms-tui keys delete {gone.key_id}" in after.findings[0].hint


def test_a_broken_audit_chain_is_an_error_that_repair_leaves_alone(kms):
    kms.keys.create("ECDSA", 256, "k")
    conn = sqlite3.connect(str(kms.context.store.path), isolation_level=None)
    conn.execute("UPDATE audit SET details = '{}' WHERE seq = 2")
    conn.close()
    for repair in (False, True):
        (finding,) = [f for f in kms.doctor.run(repair=repair).findings if f.check == "audit"]
        assert finding.severity == "error" and finding.subject == "audit row 2" and not finding.repaired
        assert "evidence" in finding.hint


def test_a_damaged_database_is_reported(kms):
    kms.keys.create("ECDSA", 256, "k")
    conn = sqlite3.connect(str(kms.context.store.path), isolation_level=None)
    conn.execute("PRAGMA writable_schema = ON")
    # An index that no longer matches its table: integrity_check names it.
    conn.execute("CREATE TABLE scratch(x)")
    conn.execute("CREATE INDEX scratch_x ON scratch(x)")
    conn.execute("INSERT INTO scratch VALUES (1), (2)")
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'scratch_x'").fetchone()[0]
    other = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'scratch'").fetchone()[0]
    conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'scratch_x'", (other,))
    conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'scratch'", (root,))
    conn.close()
    report = kms.doctor.run()
    (finding,) = [f for f in report.findings if f.check == "database"]
    assert finding.severity == "error" and "integrity check" in finding.message
    assert ".recover" in finding.hint


def test_an_engine_that_cannot_be_used_is_reported_and_others_are_still_checked(kms):
    kms.keys.create("ECDSA", 256, "k")
    kms.engines.register("GOLANG", "second", options={"encrypt": "false"})
    kms.context.forget_driver("second")
    directory = kms.data_dir / "keys" / "second"
    directory.rmdir()
    directory.write_text("not a directory")  # the engine's directory is gone: it cannot be used
    stray = kms.context.driver("golang-default").create("Ed25519", 256)  # only a comparison finds it
    report = kms.doctor.run()
    (finding,) = [f for f in report.findings if f.check == "engines"]
    assert finding.subject == "second" and finding.severity == "error"
    assert "kms-tui engines test second" in finding.hint
    found = {f.subject: f for f in report.findings if f.check == "consistency"}
    assert set(found) == {"second", f"golang-default:{stray.key_id[:16]}"}  # golang-default was still compared
    unchecked = found["second"]
    assert unchecked.unchecked and unchecked.severity == "warning" and "not compared" in unchecked.message
    assert "run kms-tui doctor again" in unchecked.hint
    assert report.checked["consistency"] == "incomplete"  # never "ok" for an engine nobody compared
    assert report.incomplete == ["consistency"] and not report.clean


def test_the_keyring_check_names_an_engine_without_its_secret(kms):
    kms.context.driver("golang-default")  # its passphrase is made and kept
    kms.context.credentials.delete("golang-default")
    (finding,) = [f for f in kms.doctor.run().findings if f.check == "keyring"]
    assert finding.subject == "golang-default" and "engines secret golang-default" in finding.hint


def _two_engines_each_with_a_stray(kms):
    kms.engines.register("GOLANG", "second", options={"encrypt": "false"})
    return {eid: kms.context.driver(eid).create("Ed25519", 256) for eid in ("golang-default", "second")}


def test_an_engine_failing_while_compared_does_not_stop_the_others(kms, monkeypatch, capsys):
    strays = _two_engines_each_with_a_stray(kms)
    first = kms.context.driver("golang-default")  # compared first: it used to end the whole check

    def broken():
        raise EngineUnavailable("The engine stopped answering half way.", hint="Restart the engine service.")
    monkeypatch.setattr(first, "inventory", broken)

    assert doctor_cmd(kms, Namespace(json=True, repair=False)) == 1
    data = json.loads(capsys.readouterr().out)
    found = {f["subject"]: f for f in data["findings"] if f["check"] == "consistency"}
    assert set(found) == {"golang-default", f"second:{strays['second'].key_id[:16]}"}
    failed = found["golang-default"]
    assert failed["unchecked"] and failed["severity"] == "error" and failed["hint"] == "Restart the engine service."
    assert "half way" in failed["message"] and "Fix the cause above" not in failed["hint"]
    assert data["checked"]["consistency"] == "incomplete" and data["incomplete"] == ["consistency"]
    assert all(f["hint"] for f in data["findings"])  # every finding comes with its fix

    assert doctor_cmd(kms, Namespace(json=False, repair=False)) == 1
    out = capsys.readouterr().out
    assert "consistency  incomplete" in out and "[not checked]" in out and "fix: Restart the engine service." in out
    assert "Not everything was checked: consistency" in out and "Healthy" not in out


def test_a_part_that_cannot_run_is_named_and_every_other_check_still_runs(kms, monkeypatch):
    kms.keys.create("ECDSA", 256, "k")
    stray = kms.context.driver("golang-default").create("Ed25519", 256)
    store = kms.context.store

    def unreadable():
        raise DatabaseError("The audit log cannot be read.")
    monkeypatch.setattr(store.audit, "verify", unreadable)
    report = kms.doctor.run()
    (audit,) = [f for f in report.findings if f.check == "audit"]
    assert audit.unchecked and audit.subject == "audit chain" and "could not run" in audit.message
    assert "kms-tui audit list" in audit.hint and "Fix the cause above" not in audit.hint
    assert report.checked == {"permissions": "ok", "database": "ok", "audit": "incomplete", "keyring": "ok",
                              "engines": "ok", "consistency": "findings"}
    assert any(f.subject == f"golang-default:{stray.key_id[:16]}" for f in report.findings)


def test_a_key_directory_that_cannot_be_listed_is_named_and_the_next_engine_is_still_examined(kms, monkeypatch):
    _two_engines_each_with_a_stray(kms)
    first, second = (kms.data_dir / "keys" / eid for eid in ("golang-default", "second"))
    os.chmod(second, 0o750)
    listing = Path.iterdir

    def iterdir(path):
        if path == first:
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)
    monkeypatch.setattr(Path, "iterdir", iterdir)
    report = kms.doctor.run()
    found = {f.subject: f for f in report.findings if f.check == "permissions"}
    assert set(found) == {str(first), str(second)}
    assert found[str(first)].unchecked and "Permission denied" in found[str(first)].message
    assert not found[str(second)].unchecked and "chmod 700" in found[str(second)].hint
    assert report.checked["permissions"] == "incomplete"


def test_temporary_key_files_a_stopped_write_left_are_named_and_only_safe_ones_removed(kms):
    """A write killed between the link and the unlink leaves a second name of a safe key: --repair removes
    it, the audit row first. One killed before the link holds the only copy of a key: named, never removed."""
    directory = kms.data_dir / "keys" / "golang-default"
    safe = kms.keys.create("ECDSA", 256, "safe")
    second_name = directory / f".{safe.key_id}.{'a1' * 6}.tmp"
    os.link(directory / safe.native_ref, second_name)
    only_copy = directory / f".{'c' * 64}.{'b2' * 6}.tmp"
    only_copy.write_bytes(b"-----BEGIN PRIVATE KEY-----\nthe only copy\n-----END PRIVATE KEY-----\n")
    only_copy.chmod(0o600)
    found = {f.subject: f for f in kms.doctor.run().findings if f.subject.endswith(".tmp")}
    assert set(found) == {str(second_name), str(only_copy)}
    assert found[str(second_name)].repairable and not found[str(only_copy)].repairable
    assert "never removed" in found[str(only_copy)].message and "mv " in found[str(only_copy)].hint
    report = kms.doctor.run(repair=True)
    assert not second_name.exists() and only_copy.exists()
    assert (directory / safe.native_ref).exists() and kms.signing.sign("safe", "ECDSA_SHA_256", b"m")
    [row] = [r for r in kms.audit.rows(limit=50) if r.action == "doctor.leftover.remove"]
    assert row.key_id == safe.key_id and row.details == {"file": second_name.name}
    assert [f.subject for f in report.findings if f.repaired and f.subject.endswith(".tmp")] == [str(second_name)]
