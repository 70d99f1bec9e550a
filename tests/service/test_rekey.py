"""Re-keying a software engine: every key file re-encrypted, checked, resumable, refused when unsafe."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from keyring.backends import fail

from engines import keys as K
from engines.errors import InsecurePermissions, InvalidInput, OperationNotSupported, WrongPassphrase
from kms_tui.service import DEFAULT_ENGINE_ID, Kms
from store import CredentialStore

NEW = "a brand new passphrase"


def _open(data_dir, keyring, **kwargs) -> Kms:
    return Kms(data_dir, credentials=CredentialStore(backend=keyring), **kwargs)


def _key_dir(kms: Kms) -> Path:
    return Path(kms.engines.get(DEFAULT_ENGINE_ID).record.config["directory"])


def _opens_under(path: Path, passphrase: str) -> bool:
    try:
        return K.parse_key(path.read_bytes(), passphrase.encode()).has_private_key
    except Exception:
        return False


@pytest.fixture
def engine_with_keys(data_dir, memory_keyring):
    with _open(data_dir, memory_keyring) as kms:
        for i in range(6):
            kms.keys.create("ECDSA", 256, f"k{i}")
        old = kms.engines.secrets.reveal(DEFAULT_ENGINE_ID)
        directory = _key_dir(kms)
    return directory, old


def test_rekey_re_encrypts_every_file_and_keeps_the_new_passphrase(data_dir, memory_keyring, engine_with_keys):
    directory, old = engine_with_keys
    trash = directory / ".trash"
    trash.mkdir(mode=0o700)
    first = sorted(p for p in directory.iterdir() if p.is_file())[0]
    shutil.copy2(first, trash / f"{first.name}.1700000000")  # a key in the trash is guarded too
    done = []
    with _open(data_dir, memory_keyring) as kms:
        result = kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW, progress=lambda d, t: done.append((d, t)))
        assert result["reencrypted"] == 7 and done[-1] == (7, 7)
        assert kms.engines.secrets.reveal(DEFAULT_ENGINE_ID) == NEW
        for i in range(6):
            signature = kms.signing.sign(f"k{i}", "ECDSA_SHA_256", b"m")
            assert kms.signing.verify(f"k{i}", "ECDSA_SHA_256", b"m", signature)
        row = kms.context.store._conn.row("SELECT details FROM audit WHERE action = 'engine.rekey'")
        assert json.loads(row["details"])["reencrypted"] == 7
        assert kms.context.store._conn.scalar("SELECT count(*) FROM audit WHERE action = 'engine.rekey.start'") == 1
    files = [p for p in directory.iterdir() if p.is_file()] + list(trash.iterdir())
    assert len(files) == 7 and all(_opens_under(p, NEW) and not _opens_under(p, old) for p in files)
    assert all(oct(p.stat().st_mode & 0o777) == oct(0o600) for p in files)
    assert not [u for (_, u) in memory_keyring.entries if u.endswith("/rekey")]


def test_an_interrupted_rekey_is_finished_by_the_next_command(data_dir, memory_keyring, engine_with_keys):
    directory, old = engine_with_keys

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with _open(data_dir, memory_keyring) as kms, pytest.raises(KeyboardInterrupt):
        kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW, progress=stop_after_two)
    files = sorted(p for p in directory.iterdir() if p.is_file())
    assert sum(_opens_under(p, NEW) for p in files) == 2
    assert all(_opens_under(p, NEW) or _opens_under(p, old) for p in files)
    with _open(data_dir, memory_keyring) as kms:
        assert kms.engines.secrets.pending() == [DEFAULT_ENGINE_ID]
        kms.signing.sign("k5", "ECDSA_SHA_256", b"m")  # opening the engine finishes the re-key
        assert kms.engines.secrets.pending() == []
        assert kms.engines.secrets.reveal(DEFAULT_ENGINE_ID) == NEW
        details = json.loads(kms.context.store._conn.scalar("SELECT details FROM audit WHERE action = 'engine.rekey'"))
        assert details == {"reencrypted": 4, "already": 2, "clear_files": 0, "resumed": True}
    assert all(_opens_under(p, NEW) for p in files)


def test_rekey_run_twice_is_refused_the_second_time(data_dir, memory_keyring, engine_with_keys):
    with _open(data_dir, memory_keyring) as kms:
        kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW)
        with pytest.raises(InvalidInput, match="current one"):
            kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW)
        assert kms.signing.sign("k0", "ECDSA_SHA_256", b"m")


def test_a_file_under_another_passphrase_stops_the_rekey_before_any_change(data_dir, memory_keyring, engine_with_keys):
    directory, old = engine_with_keys
    stranger = K.parse_key(K.private_pkcs8_pem(K.generate("ECDSA", 256), None))
    foreign = directory / stranger.key_id
    foreign.write_bytes(K.private_pkcs8_pem(stranger.private_key, b"somebody else's passphrase"))
    os.chmod(foreign, 0o600)
    before = {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}
    with _open(data_dir, memory_keyring) as kms:
        with pytest.raises(WrongPassphrase, match="neither"):
            kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW)
        assert kms.engines.secrets.reveal(DEFAULT_ENGINE_ID) == old
        assert kms.engines.secrets.pending() == []
    assert {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()} == before


def test_rekey_refuses_a_short_passphrase_and_a_memory_only_one(data_dir, memory_keyring, engine_with_keys):
    directory, old = engine_with_keys
    with _open(data_dir, memory_keyring) as kms, pytest.raises(InvalidInput, match="at least 12"):
        kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, "short")
    with _open(data_dir, fail.Keyring(), prompt=lambda request: old) as kms, \
            pytest.raises(OperationNotSupported, match="keyring"):
        kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW)
    assert all(_opens_under(p, old) for p in directory.iterdir() if p.is_file())


def test_rekey_leaves_clear_files_and_symlinks_alone(data_dir, memory_keyring, engine_with_keys, tmp_path):
    directory, old = engine_with_keys
    clear = K.parse_key(K.private_pkcs8_pem(K.generate("ECDSA", 256), None))
    (directory / clear.key_id).write_bytes(K.private_pkcs8_pem(clear.private_key, None))
    os.chmod(directory / clear.key_id, 0o600)
    outside = tmp_path / "outside.pem"
    outside.write_bytes(sorted(p for p in directory.iterdir() if p.is_file())[0].read_bytes())
    (directory / ("ab" * 32)).symlink_to(outside)
    with _open(data_dir, memory_keyring) as kms:
        result = kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW)
    assert result["clear_files"] == 1 and result["reencrypted"] == 6
    assert _opens_under(outside, old)  # never written through the link
    assert b"ENCRYPTED" not in (directory / clear.key_id).read_bytes()


def test_rekey_refuses_a_file_others_may_write_and_changes_nothing(data_dir, memory_keyring, engine_with_keys):
    directory, old = engine_with_keys
    victim = sorted(p for p in directory.iterdir() if p.is_file())[0]
    os.chmod(victim, 0o620)
    before = {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}
    with _open(data_dir, memory_keyring) as kms:
        with pytest.raises(InsecurePermissions, match="writable by its group"):
            kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW)
        assert kms.engines.secrets.pending() == []
        assert kms.engines.secrets.reveal(DEFAULT_ENGINE_ID) == old
    assert {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()} == before


def test_doctor_finishes_an_interrupted_rekey_and_says_so(data_dir, memory_keyring, engine_with_keys):
    def stop_after_one(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with _open(data_dir, memory_keyring) as kms, pytest.raises(KeyboardInterrupt):
        kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW, progress=stop_after_one)
    with _open(data_dir, memory_keyring) as kms:
        report = kms.doctor.run()
        found = [f for f in report.findings if "passphrase change" in f.message]
        assert len(found) == 1 and found[0].repaired and "5 key file(s) re-encrypted" in found[0].message
        assert kms.engines.secrets.pending() == []
        assert kms.engines.secrets.reveal(DEFAULT_ENGINE_ID) == NEW


def test_a_forged_rekey_row_neither_blocks_nor_changes_anything(data_dir, memory_keyring, engine_with_keys):
    directory, old = engine_with_keys
    with _open(data_dir, memory_keyring) as kms:
        kms.context.store.set_meta(f"rekey:{DEFAULT_ENGINE_ID}", "{}")  # an edited database: no new passphrase kept
        assert kms.signing.sign("k0", "ECDSA_SHA_256", b"m")
        assert kms.engines.secrets.pending() == []
        assert kms.context.store._conn.scalar("SELECT count(*) FROM audit WHERE action = 'engine.rekey.abandoned'") == 1
    assert all(_opens_under(p, old) for p in directory.iterdir() if p.is_file())
