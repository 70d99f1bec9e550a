"""The software engine's trash: delete moves a key file there; restore, purge and expiry act on it."""

from __future__ import annotations

import os
import stat

import pytest

from engines import algorithms as A
from engines.errors import EngineConfigError, InsecurePermissions, KeyExists, KeyPendingDeletion
from engines.software.engine import SoftwareEngine
from engines.software.trash import TRASH_DIR
from engines.testing import raises_kms

PASSPHRASE = "correct horse battery staple"
DAY = 86_400
ECDSA = A.signing_algorithm("ECDSA_SHA_256")


def make(directory) -> SoftwareEngine:
    return SoftwareEngine("golang-test", {"directory": str(directory)}, PASSPHRASE)


def sign(engine, ref) -> bytes:
    return engine.sign(ref, ECDSA, b"message", A.MessageType.RAW)


@pytest.fixture
def engine(tmp_path):
    return make(tmp_path / "keys")


def read(path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def trashed(engine) -> list[str]:
    return sorted(os.listdir(os.path.join(engine.directory, TRASH_DIR)))


def test_delete_moves_the_file_to_a_private_trash_and_refuses_every_use(engine):
    key = engine.create("ECDSA", 256)
    path = os.path.join(engine.directory, key.ref)
    data = read(path)
    assert engine.delete(key.ref) == "PendingDeletion"
    assert not os.path.exists(path)
    (name,) = trashed(engine)
    trash = os.path.join(engine.directory, TRASH_DIR)
    assert name.startswith(key.ref + ".") and read(os.path.join(trash, name)) == data
    assert stat.S_IMODE(os.stat(trash).st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(os.path.join(trash, name)).st_mode) == 0o600
    for use in (lambda: engine.get(key.ref), lambda: sign(engine, key.ref), lambda: engine.delete(key.ref)):
        with raises_kms(KeyPendingDeletion):
            use()
    # Listed pending deletion: read in full when unknown, a light entry when the caller records it.
    (listed,) = list(engine.inventory())
    assert (listed.ref, listed.key_id, listed.state) == (key.ref, key.key_id, "PendingDeletion")
    (seen,) = list(engine.inventory(known={key.ref}))
    assert seen.light and seen.state == "PendingDeletion"


def test_restore_brings_back_the_same_key(engine):
    key = engine.create("ECDSA", 256)
    engine.delete(key.ref)
    restored = engine.key_action(key.ref, "restore")
    assert restored.key_id == key.key_id and restored.state is None
    assert trashed(engine) == []
    from engines.testing import verify_independently

    verify_independently(key.public_key, "ECDSA_SHA_256", b"message", sign(engine, key.ref))


def test_restore_never_overwrites_a_file_of_that_name(engine):
    key = engine.create("ECDSA", 256)
    engine.delete(key.ref)
    (name,) = trashed(engine)
    squatter = os.path.join(engine.directory, key.ref)
    with open(squatter, "wb") as fh:
        fh.write(b"not this key")
    os.chmod(squatter, 0o600)
    with raises_kms(KeyExists):
        engine.key_action(key.ref, "restore")
    assert read(squatter) == b"not this key"
    assert trashed(engine) == [name]


def test_purge_destroys_only_keys_pending_deletion(engine):
    key, kept = engine.create("ECDSA", 256), engine.create("ECDSA", 256)
    with pytest.raises(Exception, match="not pending deletion"):
        engine.key_action(kept.ref, "purge")
    engine.delete(key.ref)
    assert engine.key_action(key.ref, "purge") is None
    assert trashed(engine) == [] and [k.ref for k in engine.inventory()] == [kept.ref]
    sign(engine, kept.ref)


def test_discard_of_an_unrecorded_key_keeps_nothing(engine):
    key = engine.create("ECDSA", 256)
    engine.discard(key.ref)
    assert os.listdir(engine.directory) == []


def test_pending_window_option(engine):
    key = engine.create("ECDSA", 256)
    for days in ("6", "366", "x", "-7", "7.5"):
        with raises_kms(EngineConfigError):
            engine.delete(key.ref, pending_window_days=days)
    assert os.path.exists(os.path.join(engine.directory, key.ref))
    engine.delete(key.ref, pending_window_days="30")
    (name,) = trashed(engine)
    assert name.endswith(".30")


def test_expiry_follows_the_clock_and_the_window(engine):
    short, long = engine.create("ECDSA", 256), engine.create("ECDSA", 256)
    now = 1_800_000_000
    engine.trash.clock = lambda: now
    engine.delete(short.ref)  # 7 days
    engine.delete(long.ref, pending_window_days="30")
    assert engine.expired_deletions() == []
    engine.trash.clock = lambda: now + 8 * DAY
    assert engine.expired_deletions() == [short.ref]
    assert engine.pending_until(short.ref) == now + 7 * DAY
    engine.trash.clock = lambda: now + 31 * DAY
    assert engine.expired_deletions() == sorted([short.ref, long.ref])
    assert len(trashed(engine)) == 2  # listing expired keys destroys nothing


def test_a_symlink_planted_in_the_trash_is_never_followed(engine, tmp_path):
    key = engine.create("ECDSA", 256)
    outside = tmp_path / "elsewhere"
    outside.write_bytes(read(os.path.join(engine.directory, key.ref)))
    engine.delete(key.ref, pending_window_days="7")
    (name,) = trashed(engine)
    os.unlink(os.path.join(engine.directory, TRASH_DIR, name))
    planted = os.path.join(engine.directory, TRASH_DIR, f"{key.ref}.1000.7")  # long expired
    os.symlink(outside, planted)
    assert list(engine.inventory()) == [] and engine.expired_deletions() == []
    with raises_kms(Exception):
        engine.key_action(key.ref, "restore")
    with raises_kms(Exception):
        engine.key_action(key.ref, "purge")
    assert os.path.islink(planted) and outside.exists()
    assert not os.path.exists(os.path.join(engine.directory, key.ref))


def test_a_trash_that_is_a_symlink_refuses_deletes(engine, tmp_path):
    key = engine.create("ECDSA", 256)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    os.symlink(elsewhere, os.path.join(engine.directory, TRASH_DIR))
    with raises_kms(InsecurePermissions):
        engine.delete(key.ref)
    assert os.path.exists(os.path.join(engine.directory, key.ref)) and os.listdir(elsewhere) == []
    sign(engine, key.ref)


def test_delete_and_restore_twice_keep_one_file_each_time(engine):
    key = engine.create("ECDSA", 256)
    for _ in range(2):
        engine.delete(key.ref)
        assert len(trashed(engine)) == 1
        engine.key_action(key.ref, "restore")
        assert trashed(engine) == []
    sign(engine, key.ref)


def test_a_trashed_file_that_holds_another_key_is_neither_restored_nor_purged(engine):
    from engines.errors import KeyIntegrityError

    key, other = engine.create("ECDSA", 256), engine.create("ECDSA", 256)
    engine.delete(key.ref)
    (name,) = trashed(engine)
    planted = os.path.join(engine.directory, TRASH_DIR, name)
    os.replace(os.path.join(engine.directory, other.ref), planted)  # another key under this key's name
    for action in ("restore", "purge"):
        with raises_kms(KeyIntegrityError):
            engine.key_action(key.ref, action)
    assert trashed(engine) == [name] and not os.path.exists(os.path.join(engine.directory, key.ref))
