"""The at-rest passphrase of a software engine is never lost: remove, replace, copies, typed secrets."""

from __future__ import annotations

import shutil

import pytest
from keyring.backends import fail

from engines.errors import InvalidInput, WrongPassphrase
from kms_tui.service import DEFAULT_ENGINE_ID, Kms, SecretRequest
from kms_tui.service.errors import SecretNeeded
from store import CredentialStore
from store.errors import NotFound
from tests.memory_keyring import MemoryKeyring

MESSAGE = b"custody"


def _open(data_dir, keyring, **kwargs) -> Kms:
    return Kms(data_dir, credentials=CredentialStore(backend=keyring), **kwargs)


def _signs(kms: Kms, name: str) -> bool:
    signature = kms.signing.sign(name, "ECDSA_SHA_256", MESSAGE)
    return kms.signing.verify(name, "ECDSA_SHA_256", MESSAGE, signature)


def test_remove_keeps_the_passphrase_and_re_adding_the_directory_finds_it(data_dir, memory_keyring):
    with _open(data_dir, memory_keyring) as kms:
        kms.keys.create("ECDSA", 256, "root")
        directory = kms.engines.get(DEFAULT_ENGINE_ID).record.config["directory"]
        removal = kms.engines.unregister(DEFAULT_ENGINE_ID, force=True)
        assert "stays in the keyring" in removal.secret
        # Re-added under another id, without a secret: the kept passphrase opens the files again.
        kms.engines.register("GOLANG", "soft-again", options={"directory": directory})
        kms.inventory.sync("soft-again")
        key_id = kms.keys.list()[0].key_id
        assert _signs(kms, key_id)
        # The kept entry served its purpose and now lives under the engine again.
        assert not [u for (_, u) in memory_keyring.entries if "/kept/" in u]


def test_remove_twice_and_re_add_under_the_same_id(data_dir, memory_keyring):
    with _open(data_dir, memory_keyring) as kms:
        kms.keys.create("ECDSA", 256, "root")
        directory = kms.engines.get(DEFAULT_ENGINE_ID).record.config["directory"]
        kms.engines.unregister(DEFAULT_ENGINE_ID, force=True)
        with pytest.raises(NotFound):
            kms.engines.unregister(DEFAULT_ENGINE_ID, force=True)
        view = kms.engines.register("GOLANG", DEFAULT_ENGINE_ID, options={"directory": directory}, make_default=True)
        assert view.secret_location == "keyring"
        kms.inventory.sync(DEFAULT_ENGINE_ID)
        assert _signs(kms, kms.keys.list()[0].key_id)


def test_a_new_passphrase_is_never_made_up_for_existing_files(data_dir, tmp_path, memory_keyring):
    with _open(data_dir, memory_keyring) as kms:
        kms.keys.create("ECDSA", 256, "root")
        directory = kms.engines.get(DEFAULT_ENGINE_ID).record.config["directory"]
    # Another data directory, another keyring: nothing kept for these files there.
    with _open(tmp_path / "other", MemoryKeyring()) as other:
        with pytest.raises(SecretNeeded, match="encrypted key file"):
            other.engines.register("GOLANG", "soft-x", options={"directory": directory})
        with pytest.raises(WrongPassphrase):
            other.engines.register("GOLANG", "soft-x", options={"directory": directory}, secret="a wrong passphrase")
        assert [e.record.id for e in other.engines.list()] == [DEFAULT_ENGINE_ID]


def test_replacing_the_passphrase_is_checked_against_the_key_files(data_dir, memory_keyring):
    with _open(data_dir, memory_keyring) as kms:
        kms.keys.create("ECDSA", 256, "root")
        before = dict(memory_keyring.entries)
        with pytest.raises(WrongPassphrase, match="rekey"):
            kms.engines.secrets.set(DEFAULT_ENGINE_ID, "x" * 20)
        assert memory_keyring.entries == before
        assert _signs(kms, "root")
        # The right passphrase is accepted (and says what it was checked against).
        right = kms.engines.secrets.reveal(DEFAULT_ENGINE_ID)
        assert kms.engines.secrets.set(DEFAULT_ENGINE_ID, right) == "keyring"
        assert _signs(kms, "root")
    with _open(data_dir, memory_keyring) as kms:
        assert _signs(kms, "root")
        rows = kms.context.store._conn.rows("SELECT action, details FROM audit WHERE action LIKE 'engine.secret%' ORDER BY seq")
        assert [r["action"] for r in rows] == ["engine.secret.reveal", "engine.secret"]
        assert "decrypts all 1 encrypted key file" in rows[-1]["details"]


def test_a_secret_set_with_no_material_is_accepted_and_the_audit_says_so(data_dir, memory_keyring):
    with _open(data_dir, memory_keyring) as kms:
        with pytest.raises(InvalidInput, match="at least 12"):
            kms.engines.secrets.set(DEFAULT_ENGINE_ID, "short")
        kms.engines.secrets.set(DEFAULT_ENGINE_ID, "a long enough passphrase")
        details = kms.context.store._conn.scalar("SELECT details FROM audit WHERE action = 'engine.secret'")
        assert "nothing to check it against" in details


def test_a_copy_of_the_data_directory_cannot_hurt_the_original(tmp_path, memory_keyring):
    a, b = tmp_path / "a", tmp_path / "b"
    with _open(a, memory_keyring) as kms:
        kms.keys.create("ECDSA", 256, "root")
    shutil.copytree(a, b, symlinks=True)
    with _open(b, memory_keyring) as copy:
        assert _signs(copy, "root")  # the copy got its own entries, copied
        copy.engines.secrets.set(DEFAULT_ENGINE_ID, copy.engines.secrets.reveal(DEFAULT_ENGINE_ID))
        copy.engines.secrets.rekey(DEFAULT_ENGINE_ID, "the copy's own passphrase")
        copy.engines.unregister(DEFAULT_ENGINE_ID, force=True)
    with _open(a, memory_keyring) as kms:
        assert _signs(kms, "root")
        assert kms.context.store._conn.scalar("SELECT count(*) FROM audit WHERE action = 'store.copy'") == 0
    with _open(b, memory_keyring) as copy:
        assert copy.context.store._conn.scalar("SELECT count(*) FROM audit WHERE action = 'store.copy'") == 1


def test_without_a_keyring_a_typed_passphrase_is_checked_before_use(data_dir, memory_keyring):
    with _open(data_dir, memory_keyring) as kms:
        kms.keys.create("ECDSA", 256, "root")
        right = kms.engines.secrets.reveal(DEFAULT_ENGINE_ID)
    asked: list[SecretRequest] = []
    answers = iter(["mistyped passphrase", right])

    def prompt(request: SecretRequest) -> str:
        asked.append(request)
        return next(answers)

    with _open(data_dir, fail.Keyring(), prompt=prompt) as kms:
        with pytest.raises(WrongPassphrase, match="nothing was encrypted"):
            kms.keys.create("ECDSA", 256, "second")
        assert kms.keys.count() == 1
        assert asked[0].confirm is False  # files exist: it is their passphrase, not a new one
        kms.keys.create("ECDSA", 256, "second")
        assert kms.engines.secrets.location(DEFAULT_ENGINE_ID) == "memory"
        assert _signs(kms, "root") and _signs(kms, "second")


def test_without_a_keyring_a_first_passphrase_is_confirmed_and_long(data_dir):
    asked: list[SecretRequest] = []
    answers = iter(["too short", "twelve chars or more"])

    def prompt(request: SecretRequest) -> str:
        asked.append(request)
        return next(answers)

    with _open(data_dir, fail.Keyring(), prompt=prompt) as kms:
        assert kms.engines.secrets.location(DEFAULT_ENGINE_ID) == "keyring unavailable"
        with pytest.raises(InvalidInput, match="at least 12"):
            kms.keys.create("ECDSA", 256, "first")
        assert asked[0].confirm is True
        kms.keys.create("ECDSA", 256, "first")
        assert kms.engines.secrets.location(DEFAULT_ENGINE_ID) == "memory"


def test_secret_location_is_where_the_secret_is(data_dir, memory_keyring):
    with _open(data_dir, memory_keyring) as kms:
        assert kms.engines.secrets.location(DEFAULT_ENGINE_ID) == "not set"
        kms.keys.create("ECDSA", 256, "root")  # the first use makes and keeps one
        assert kms.engines.secrets.location(DEFAULT_ENGINE_ID) == "keyring"
        right = kms.engines.secrets.reveal(DEFAULT_ENGINE_ID)
        kms.engines.secrets.set(DEFAULT_ENGINE_ID, right, memory_only=True)
        assert kms.engines.secrets.location(DEFAULT_ENGINE_ID) == "memory"


def test_a_wrong_typed_passphrase_is_asked_once_per_operation(data_dir, memory_keyring):
    with _open(data_dir, memory_keyring) as kms:
        kms.keys.create("ECDSA", 256, "root")
    asked: list[SecretRequest] = []

    def prompt(request: SecretRequest) -> str:
        asked.append(request)
        return "wrong words, typed once"

    with _open(data_dir, fail.Keyring(), prompt=prompt) as kms:
        with pytest.raises(WrongPassphrase):
            kms.signing.sign("root", "ECDSA_SHA_256", MESSAGE)
        assert len(asked) == 1
