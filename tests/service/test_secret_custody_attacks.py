"""The at-rest passphrase against the ways a careless operator or an attacker would lose it.

Two processes at once, a re-key half done, a directory that is not mounted, a
copy sharing a key directory with its original, a symlinked trash, edited rows.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

import pytest

from engines import keys as K
from engines.errors import WrongPassphrase
from engines.software import rekey as R
from kms_tui.batch import read_items
from kms_tui.service import DEFAULT_ENGINE_ID, Kms
from kms_tui.service.errors import Refused
from store import CredentialStore

NEW = "a brand new passphrase"


def _open(data_dir, keyring, **kwargs) -> Kms:
    return Kms(data_dir, credentials=CredentialStore(backend=keyring), **kwargs)


def _key_dir(kms: Kms, engine_id: str = DEFAULT_ENGINE_ID) -> Path:
    return Path(kms.engines.get(engine_id).record.config["directory"])


def _all_open_under(directory: Path, passphrase: str) -> bool:
    files = R.key_files(str(directory))
    return bool(files) and all(
        K.parse_key(R.read(p)[0], passphrase.encode()).has_private_key for p in files)


def _interrupted_rekey(data_dir, keyring) -> str:
    """Four keys, a re-key to NEW stopped after two files; returns the old passphrase."""
    with _open(data_dir, keyring) as kms:
        for i in range(4):
            kms.keys.create("ECDSA", 256, f"k{i}")
        old = kms.engines.secrets.reveal(DEFAULT_ENGINE_ID)

        def stop(done: int, total: int) -> None:
            if done == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW, progress=stop)
    return old


def test_a_process_opened_before_a_rekey_writes_new_keys_under_the_new_passphrase(data_dir, memory_keyring):
    with _open(data_dir, memory_keyring) as early, _open(data_dir, memory_keyring) as other:
        early.keys.create("ECDSA", 256, "k0")  # its driver now holds the old passphrase
        other.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW)
        early.keys.create("ECDSA", 256, "k1")  # reads the current one before writing
        early.signing.sign("k0", "ECDSA_SHA_256", b"m")
        assert _all_open_under(_key_dir(early), NEW)


def test_a_process_opened_before_a_rekey_signs_a_batch_under_the_new_passphrase(data_dir, memory_keyring):
    digest = hashlib.sha256(b"m").digest()
    with _open(data_dir, memory_keyring) as early, _open(data_dir, memory_keyring) as other:
        early.keys.create("ECDSA", 256, "k0")  # its driver now holds the old passphrase
        other.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW)
        results: list[tuple] = []
        summary = early.signing.sign_batch("k0", "ECDSA_SHA_256", read_items([digest.hex().encode()]), "DIGEST",
                                           emit=lambda *result: results.append(result))
        assert (summary.signed, summary.failed) == (1, 0)
        ((_, _, signature, error),) = results
        assert error is None
        assert early.signing.verify("k0", "ECDSA_SHA_256", digest, signature, "DIGEST")


def test_a_key_created_during_a_rekey_waits_for_it_and_is_written_under_the_new_passphrase(data_dir, memory_keyring):
    with _open(data_dir, memory_keyring) as kms:
        for i in range(4):
            kms.keys.create("ECDSA", 256, f"k{i}")
    results: list[object] = []
    with _open(data_dir, memory_keyring) as writer, _open(data_dir, memory_keyring) as rekeyer:
        writer.keys.create("ECDSA", 256, "opened")

        def create() -> None:
            try:
                results.append(writer.keys.create("ECDSA", 256, "during"))
            except Exception as exc:  # reported below
                results.append(exc)

        thread = threading.Thread(target=create)

        def midway(done: int, total: int) -> None:
            if done == 2:
                thread.start()
                thread.join(0.5)  # it must wait for the re-key, not write beside it
                assert thread.is_alive()

        rekeyer.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW, progress=midway)
        thread.join(30)
        assert not isinstance(results[0], Exception), results
        assert _all_open_under(_key_dir(rekeyer), NEW)


def test_a_new_secret_during_an_interrupted_rekey_finishes_it_and_must_open_every_file(data_dir, memory_keyring):
    old = _interrupted_rekey(data_dir, memory_keyring)
    with _open(data_dir, memory_keyring) as kms:
        with pytest.raises(WrongPassphrase):
            kms.engines.secrets.set(DEFAULT_ENGINE_ID, old)  # opens only the files not yet re-keyed: refused
        assert kms.engines.secrets.pending() == []
        assert _all_open_under(_key_dir(kms), kms.engines.secrets.reveal(DEFAULT_ENGINE_ID))


def test_an_unmounted_key_directory_keeps_its_passphrase(data_dir, memory_keyring):
    with _open(data_dir, memory_keyring) as kms:
        kms.keys.create("ECDSA", 256, "k0")
        directory = _key_dir(kms)
        old = kms.engines.secrets.reveal(DEFAULT_ENGINE_ID)
        away = directory.with_name("away")
        directory.rename(away)  # the disk is not mounted
        with pytest.raises(Refused, match="not there"):
            kms.engines.secrets.set(DEFAULT_ENGINE_ID, "any other long passphrase")
        with pytest.raises(Exception, match="not there"):
            kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW)
        removal = kms.engines.unregister(DEFAULT_ENGINE_ID, force=True)
        assert "stays in the keyring" in removal.secret
        away.rename(directory)
    with _open(data_dir, memory_keyring) as kms:  # the default engine is back on the same directory
        kms.inventory.sync(DEFAULT_ENGINE_ID)
        kms.signing.sign(kms.keys.list()[0].key_id, "ECDSA_SHA_256", b"m")
        assert kms.engines.secrets.reveal(DEFAULT_ENGINE_ID) == old


def test_removing_an_engine_mid_rekey_finishes_the_rekey_first(data_dir, memory_keyring):
    _interrupted_rekey(data_dir, memory_keyring)
    with _open(data_dir, memory_keyring) as kms:
        directory = _key_dir(kms)
        kms.engines.unregister(DEFAULT_ENGINE_ID, force=True)
        kms.engines.register("GOLANG", "again", options={"directory": str(directory)})
        kms.inventory.sync("again")
        assert _all_open_under(directory, NEW)
        assert kms.engines.secrets.reveal("again") == NEW


def test_a_copy_refuses_to_rekey_a_key_directory_the_original_uses(tmp_path, memory_keyring):
    a, b, shared = tmp_path / "a", tmp_path / "b", tmp_path / "srv-keys"
    with _open(a, memory_keyring) as kms:
        kms.engines.register("GOLANG", "ext", options={"directory": str(shared)})
        kms.keys.create("ECDSA", 256, "k0", engine_id="ext")
    shutil.copytree(a, b, symlinks=True)
    with _open(b, memory_keyring) as copy, pytest.raises(Refused, match="copy"):
        copy.engines.secrets.rekey("ext", NEW)
    with _open(a, memory_keyring) as kms:
        kms.signing.sign("k0", "ECDSA_SHA_256", b"m")
        kms.engines.secrets.rekey("ext", NEW)  # the original may


def test_a_moved_data_directory_is_not_written_through_a_stale_process(tmp_path, memory_keyring):
    a, b = tmp_path / "a", tmp_path / "b"
    early = _open(a, memory_keyring)
    try:
        early.keys.create("ECDSA", 256, "k0")
        a.rename(b)
        _open(b, memory_keyring).close()  # the moved directory takes its own keyring names
        with pytest.raises(Refused, match="moved or copied"):
            early.engines.register("GOLANG", "e2", options={"directory": str(tmp_path / "e2")})
    finally:
        early.close()
    with _open(b, memory_keyring) as kms:
        kms.signing.sign("k0", "ECDSA_SHA_256", b"m")


def test_a_symlinked_trash_is_never_followed(data_dir, memory_keyring, tmp_path):
    with _open(data_dir, memory_keyring) as kms:
        kms.keys.create("ECDSA", 256, "k0")
        directory = _key_dir(kms)
        old = kms.engines.secrets.reveal(DEFAULT_ENGINE_ID)
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        victim = elsewhere / (os.listdir(directory)[0] + ".1700000000.7")
        shutil.copy(directory / os.listdir(directory)[0], victim)
        before = victim.read_bytes()
        os.symlink(elsewhere, directory / ".trash")
        kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, NEW)
    assert victim.read_bytes() == before and K.parse_key(before, old.encode()).has_private_key


def test_edited_rekey_rows_block_nothing(data_dir, memory_keyring, tmp_path):
    with _open(data_dir, memory_keyring) as kms:
        kms.engines.register("GOLANG", "clear", options={"directory": str(tmp_path / "clear"), "encrypt": "false"})
        kms.keys.create("ECDSA", 256, "k0", engine_id="clear")
        kms.context.store.set_meta("rekey:clear", "{}")
        kms.context.store.set_meta("rekey:no-such-engine", "{}")
    with _open(data_dir, memory_keyring) as kms:
        kms.signing.sign("k0", "ECDSA_SHA_256", b"m")
        assert kms.engines.secrets.pending() == []
        assert not [f for f in kms.doctor.run().findings if "passphrase change" in f.message]
