"""The file system is trusted only as far as ssh and Vault would trust it.

Key files that are links, another user's, or writable by group or others are
refused with the fix; the data directory and kms.db likewise; nothing that
exists is chmod-ed except by ``doctor --repair``, which says what it changed;
a key directory kms-tui did not create keeps its mode; two engines never
share a directory. The tests run as root: "another user" is uid 12345.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engines.errors import EngineConfigError, InsecurePermissions
from kms_tui.service import Kms
from store import CredentialStore, UntrustedPath

KMS_TUI = str(Path(sys.executable).with_name("kms-tui"))
OTHER_UID = 12345


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def reopen(kms: Kms, memory_keyring) -> Kms:
    """The same data directory in a fresh process's state: nothing decrypted or proven yet."""
    kms.close()
    return Kms(kms.data_dir, credentials=CredentialStore(backend=memory_keyring))


@pytest.fixture
def signed(kms, memory_keyring):
    """A key on the default engine and its file; yields (kms in a fresh state, key file)."""
    record = kms.keys.create("ECDSA", 256, "k")
    key_file = kms.data_dir / "keys" / "golang-default" / record.native_ref
    fresh = reopen(kms, memory_keyring)
    yield fresh, key_file
    fresh.close()


def refused_to_sign(kms: Kms, *needles: str) -> InsecurePermissions:
    with pytest.raises(InsecurePermissions) as info:
        kms.signing.sign("k", "ECDSA_SHA_256", b"message")
    text = f"{info.value.message} {info.value.hint}"
    for needle in needles:
        assert needle in text, (needle, text)
    return info.value


# ---------------------------------------------------------------- key files


def test_a_symlinked_key_file_is_refused_for_signing_and_sync(signed, tmp_path):
    kms, key_file = signed
    real = tmp_path / "elsewhere.pem"
    os.rename(key_file, real)
    os.symlink(real, key_file)
    error = refused_to_sign(kms, "symbolic link", "cp --remove-destination", str(key_file))
    assert error.title == "Untrusted key file"
    with pytest.raises(InsecurePermissions):
        kms.inventory.sync("golang-default")  # said, not taken for a key gone
    assert kms.keys.resolve("k").status == "ok"
    assert os.path.islink(key_file)


def test_a_key_file_of_another_user_is_refused(signed):
    kms, key_file = signed
    os.chown(key_file, OTHER_UID, OTHER_UID)
    refused_to_sign(kms, "another user", f"uid {OTHER_UID}", f"chown {os.geteuid()} {key_file}")
    assert os.stat(key_file).st_uid == OTHER_UID and mode(key_file) == 0o600


@pytest.mark.parametrize("loose", [0o620, 0o602, 0o666])
def test_a_key_file_others_can_write_is_refused_and_left_as_found(signed, loose):
    kms, key_file = signed
    os.chmod(key_file, loose)
    refused_to_sign(kms, f"{loose:04o}", f"chmod 600 {key_file}")
    assert mode(key_file) == loose


def test_a_key_file_made_untrusted_after_use_is_refused_at_once(kms):
    kms.keys.create("ECDSA", 256, "k")
    assert kms.signing.sign("k", "ECDSA_SHA_256", b"x")  # decrypted and cached
    key_file = kms.data_dir / "keys" / "golang-default" / kms.keys.resolve("k").native_ref
    os.chmod(key_file, 0o666)
    refused_to_sign(kms, "0666")


def test_a_key_directory_of_another_user_is_refused(signed):
    kms, key_file = signed
    os.chown(key_file.parent, OTHER_UID, OTHER_UID)
    refused_to_sign(kms, "key directory", "another user")
    assert os.stat(key_file.parent).st_uid == OTHER_UID


# ---------------------------------------------------------------- data directory and kms.db


def open_kms(data: Path, memory_keyring) -> Kms:
    return Kms(data, credentials=CredentialStore(backend=memory_keyring))


@pytest.fixture
def made(tmp_path, memory_keyring) -> Path:
    data = tmp_path / "data"
    open_kms(data, memory_keyring).close()
    return data


def test_a_data_directory_of_another_user_is_refused(made, memory_keyring):
    os.chown(made, OTHER_UID, OTHER_UID)
    with pytest.raises(UntrustedPath, match="another user") as info:
        open_kms(made, memory_keyring)
    assert "chown" in info.value.hint
    assert os.stat(made).st_uid == OTHER_UID and mode(made) == 0o700


@pytest.mark.parametrize("loose", [0o666, 0o620, 0o602])
def test_a_database_others_can_write_is_refused_untouched(made, memory_keyring, loose):
    os.chmod(made / "kms.db", loose)
    with pytest.raises(UntrustedPath) as info:
        open_kms(made, memory_keyring)
    assert f"{loose:04o}" in info.value.message and f"chmod 600 {made / 'kms.db'}" in info.value.hint
    assert mode(made / "kms.db") == loose


def test_a_database_of_another_user_or_a_link_is_refused(made, memory_keyring, tmp_path):
    db = made / "kms.db"
    os.chown(db, OTHER_UID, OTHER_UID)
    with pytest.raises(UntrustedPath, match="another user"):
        open_kms(made, memory_keyring)
    os.chown(db, 0, 0)
    os.rename(db, tmp_path / "elsewhere.db")
    os.symlink(tmp_path / "elsewhere.db", db)
    with pytest.raises(UntrustedPath, match="symbolic link"):
        open_kms(made, memory_keyring)


def test_a_database_only_readable_by_others_opens_and_doctor_repairs_it(made, memory_keyring):
    db = made / "kms.db"
    os.chmod(db, 0o644)
    with open_kms(made, memory_keyring) as kms:
        assert mode(db) == 0o644  # opened as it is
        (finding,) = [f for f in kms.doctor.run().findings if f.subject == str(db)]
        assert finding.severity == "warning" and finding.repairable and not finding.repaired
        (fixed,) = [f for f in kms.doctor.run(repair=True).findings if f.subject == str(db)]
        assert fixed.repaired and fixed.changed == f"mode 0644 changed to 0600 (chmod 600 {db})"
    assert mode(db) == 0o600


def test_a_new_data_directory_is_still_made_private(tmp_path, memory_keyring):
    old = os.umask(0)
    try:
        open_kms(tmp_path / "new" / "data", memory_keyring).close()
    finally:
        os.umask(old)
    assert mode(tmp_path / "new") == mode(tmp_path / "new" / "data") == 0o700
    assert mode(tmp_path / "new" / "data" / "kms.db") == 0o600


# ---------------------------------------------------------------- a key directory kms-tui did not create


@pytest.fixture
def lamassu(kms, tmp_path):
    """A key directory shared with its group (as a Lamassu deployment keeps it), registered as it is."""
    directory = tmp_path / "lamassu" / "keys"
    directory.mkdir(parents=True)
    os.chmod(directory, 0o750)
    kms.engines.register("GOLANG", "lamassu", options={"directory": str(directory), "encrypt": "false"})
    kms.keys.create("ECDSA", 256, "shared", engine_id="lamassu")
    return directory


def test_a_group_shared_key_directory_keeps_its_mode_and_is_no_finding(kms, lamassu):
    assert kms.signing.sign("shared", "ECDSA_SHA_256", b"x")
    check = kms.engines.test("lamassu")
    assert check.reachable and check.warnings == []
    for repair in (False, True):
        report = kms.doctor.run(repair=repair)
        assert [f for f in report.findings if f.check == "permissions"] == []
    assert mode(lamassu) == 0o750


def test_a_world_readable_key_directory_is_a_warning_never_changed(kms, lamassu):
    os.chmod(lamassu, 0o755)
    assert kms.signing.sign("shared", "ECDSA_SHA_256", b"x")
    check = kms.engines.test("lamassu")
    assert check.reachable and "0755" in check.warnings[0]
    for repair in (False, True):
        (finding,) = [f for f in kms.doctor.run(repair=repair).findings if f.subject == str(lamassu)]
        assert finding.severity == "warning" and not finding.repairable and not finding.repaired
        assert f"chmod o-rwx {lamassu}" in finding.hint
    assert mode(lamassu) == 0o755


def test_a_group_writable_key_directory_stays_refused_and_unchanged(kms, lamassu):
    os.chmod(lamassu, 0o770)
    with pytest.raises(InsecurePermissions, match="0770"):
        kms.signing.sign("shared", "ECDSA_SHA_256", b"x")
    (finding,) = [f for f in kms.doctor.run(repair=True).findings if f.subject == str(lamassu)]
    assert finding.severity == "error" and not finding.repaired and f"chmod go-w {lamassu}" in finding.hint
    assert mode(lamassu) == 0o770


def test_doctor_names_a_symlinked_key_file(signed, tmp_path):
    kms, key_file = signed
    os.rename(key_file, tmp_path / "real")
    os.symlink(tmp_path / "real", key_file)
    (finding,) = [f for f in kms.doctor.run(repair=True).findings if f.subject == str(key_file)]
    assert finding.severity == "error" and "symbolic link" in finding.message and not finding.repaired
    assert os.path.islink(key_file)


# ---------------------------------------------------------------- one engine per directory


def test_two_engines_never_share_a_directory(kms, tmp_path):
    default = kms.data_dir / "keys" / "golang-default"
    kms.context.driver("golang-default").check()  # its directory exists
    (tmp_path / "alias").symlink_to(default)
    clashes = {
        "same": default,
        "same-through-a-link": tmp_path / "alias",
        "nested": default / "inner",
        "holding": kms.data_dir / "keys",
        "data-dir": kms.data_dir,
        "above-data-dir": kms.data_dir.parent,
    }
    for engine_id, directory in clashes.items():
        with pytest.raises(EngineConfigError) as info:
            kms.engines.register("GOLANG", engine_id, options={"directory": str(directory), "encrypt": "false"})
        assert "golang-default" in info.value.message or "data directory" in info.value.message, engine_id
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]
    assert not (default / "inner").exists()
    kms.engines.register("GOLANG", "apart", options={"directory": str(tmp_path / "apart"), "encrypt": "false"})
    with pytest.raises(EngineConfigError, match="'apart'"):
        kms.engines.register("GOLANG", "inside-apart", check=False,
                            options={"directory": str(tmp_path / "apart" / "x"), "encrypt": "false"})


# ---------------------------------------------------------------- the command line


def run(data: Path, *args: str, code: int) -> subprocess.CompletedProcess:
    proc = subprocess.run([KMS_TUI, "--data-dir", str(data), *args], capture_output=True, timeout=120)
    assert proc.returncode == code, (args, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def test_cli_refuses_a_symlinked_key_and_says_the_fix(tmp_path):
    data = tmp_path / "data"
    run(data, "engines", "add", "GOLANG", "--id", "clear", "--option", "encrypt=false", "--default", code=0)
    key_id = run(data, "keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "k",
                 "--json", code=0).stdout.decode().split('"key_id": "')[1][:64]
    key_file = data / "keys" / "clear" / key_id
    os.rename(key_file, tmp_path / "real")
    os.symlink(tmp_path / "real", key_file)
    proc = run(data, "keys", "sign", "k", "--algorithm", "ECDSA_SHA_256", "--in", "-", code=3)
    assert proc.stdout == b""  # no signature
    assert b"symbolic link" in proc.stderr and b"cp --remove-destination" in proc.stderr
    os.unlink(key_file)
    os.rename(tmp_path / "real", key_file)
    os.chmod(key_file.parent, 0o755)
    assert b"warning: " in run(data, "engines", "test", "clear", code=0).stdout
    os.chmod(data, 0o777)
    proc = run(data, "keys", "list", code=3)
    assert f"chmod 700 {data}".encode() in proc.stderr and mode(data) == 0o777
