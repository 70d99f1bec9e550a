"""Permissions: private data directory, database and key files whatever the umask; open directories refused."""

from __future__ import annotations

import os
import stat

import pytest

from engines.errors import InsecurePermissions
from kms_tui.service import Kms
from store import CredentialStore, UntrustedPath


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test, restored afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077])
def test_modes_are_private_whatever_the_umask(tmp_path, memory_keyring, umask, mask):
    umask(mask)
    data = tmp_path / "fresh" / "data"
    with Kms(data, credentials=CredentialStore(backend=memory_keyring)) as kms:
        record = kms.keys.create("ECDSA", 256, "k")
        kms.signing.sign("k", "ECDSA_SHA_256", b"x")  # writes through the WAL
        wal, shm = data / "kms.db-wal", data / "kms.db-shm"
        assert wal.exists() and shm.exists()
        found = {p.name: mode(p) for p in (data / "kms.db", wal, shm)}
        assert found == {"kms.db": 0o600, "kms.db-wal": 0o600, "kms.db-shm": 0o600}
        assert mode(data) == 0o700
        assert mode(data / "keys") == 0o700  # the parent the software engine made, too
        assert mode(data / "keys" / "golang-default") == 0o700
        assert mode(data / "keys" / "golang-default" / record.native_ref) == 0o600
        report = kms.doctor.run()
        assert [f for f in report.findings if f.check == "permissions"] == []


@pytest.mark.parametrize("loose", [0o770, 0o707, 0o777, 0o720])
def test_a_key_directory_others_can_write_is_refused(kms, loose):
    kms.keys.create("ECDSA", 256, "k")
    directory = kms.data_dir / "keys" / "golang-default"
    os.chmod(directory, loose)
    kms.context.driver("golang-default")._cache.clear()  # a fresh process: nothing decrypted yet
    for attempt in (lambda: kms.signing.sign("k", "ECDSA_SHA_256", b"x"),
                    lambda: kms.keys.create("ECDSA", 256, "k2"),
                    lambda: kms.inventory.sync("golang-default")):
        with pytest.raises(InsecurePermissions) as info:
            attempt()
        assert f"chmod 700 {directory}" in info.value.hint
        assert f"{loose:04o}" in info.value.message
    assert [r.name for r in kms.keys.list()] == ["k"]  # nothing flagged, nothing lost
    assert kms.keys.list()[0].status == "ok"


def test_a_key_directory_only_readable_by_others_keeps_its_mode_with_a_warning(kms):
    kms.keys.create("ECDSA", 256, "k")
    directory = kms.data_dir / "keys" / "golang-default"
    os.chmod(directory, 0o755)
    kms.keys.create("ECDSA", 256, "k2")
    assert kms.signing.sign("k", "ECDSA_SHA_256", b"x")
    assert mode(directory) == 0o755  # used as it is, never silently changed
    check = kms.engines.test("golang-default")
    assert check.reachable and len(check.warnings) == 1
    assert "0755" in check.warnings[0] and f"chmod o-rwx {directory}" in check.warnings[0]
    (finding,) = [f for f in kms.doctor.run().findings if f.subject == str(directory)]
    assert finding.severity == "warning" and finding.repairable  # kms-tui made it: doctor --repair may fix it
    assert mode(directory) == 0o755


def test_doctor_reports_and_repairs_open_modes(kms):
    record = kms.keys.create("ECDSA", 256, "k")
    directory = kms.data_dir / "keys" / "golang-default"
    key_file = directory / record.native_ref
    os.chmod(directory, 0o777)
    os.chmod(key_file, 0o644)
    os.chmod(kms.context.store.path, 0o664)
    report = kms.doctor.run()
    assert not report.clean
    by_subject = {f.subject: f for f in report.findings if f.check == "permissions"}
    assert by_subject[str(directory)].severity == "error"
    assert "refuses" in by_subject[str(directory)].message
    assert by_subject[str(key_file)].severity == "warning"
    assert by_subject[str(kms.context.store.path)].severity == "error"
    assert all(f.repairable and f.hint.startswith("chmod ") for f in by_subject.values())
    # The engine cannot be used meanwhile: reported, and its consistency is not judged.
    assert any(f.check == "engines" and f.subject == "golang-default" for f in report.findings)

    repaired = kms.doctor.run(repair=True)
    assert all(f.repaired for f in repaired.findings if f.check == "permissions")
    changes = {f.subject: f.changed for f in repaired.findings if f.check == "permissions"}
    assert changes[str(directory)] == f"mode 0777 changed to 0700 (chmod 700 {directory})"  # it says what it did
    assert changes[str(key_file)].startswith("mode 0644 changed to 0600")
    assert (mode(directory), mode(key_file), mode(kms.context.store.path)) == (0o700, 0o600, 0o600)
    assert kms.doctor.run().clean
    assert kms.signing.sign("k", "ECDSA_SHA_256", b"x")


def test_a_data_directory_found_open_to_others_is_refused_untouched(tmp_path, memory_keyring):
    data = tmp_path / "data"
    with Kms(data, credentials=CredentialStore(backend=memory_keyring)):
        pass
    os.chmod(data, 0o777)
    with pytest.raises(UntrustedPath) as info:
        Kms(data, credentials=CredentialStore(backend=memory_keyring))
    assert mode(data) == 0o777  # the evidence is kept: nothing is chmod-ed on opening
    assert "0777" in info.value.message and f"chmod 700 {data}" in info.value.hint
