"""Doctor: each check finds what it should, says what to do, and --repair fixes what it can."""

from __future__ import annotations

import json
import os
import sqlite3
from argparse import Namespace

from kms_tui.cli.doctor_cmds import doctor as doctor_cmd


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
    report = kms.doctor.run()
    (finding,) = [f for f in report.findings if f.check == "engines"]
    assert finding.subject == "second" and finding.severity == "error"
    assert "kms-tui engines test second" in finding.hint
    assert report.checked["consistency"] == "ok"  # golang-default was still compared


def test_the_keyring_check_names_an_engine_without_its_secret(kms):
    kms.context.driver("golang-default")  # its passphrase is made and kept
    kms.context.credentials.delete("golang-default")
    (finding,) = [f for f in kms.doctor.run().findings if f.check == "keyring"]
    assert finding.subject == "golang-default" and "engines secret golang-default" in finding.hint
