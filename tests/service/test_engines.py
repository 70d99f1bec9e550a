"""Engine registration, secrets without a keyring, unregistering, and sync."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from keyring.backends import fail

from engines.errors import EngineConfigError, UnknownEngineType
from kms_tui.service import Kms
from kms_tui.service.errors import Refused, SecretNeeded
from store import CredentialStore
from store.errors import CredentialsUnavailable


def test_register_second_software_engine_and_switch_default(kms, tmp_path, memory_keyring):
    view = kms.engines.register("GOLANG", "soft-2", name="Second", options={"directory": str(tmp_path / "k2")},
                               secret="a passphrase")
    assert view.record.supported_key_types["ECDSA"] == [224, 256, 384, 521]
    assert view.record.has_secret and "a passphrase" not in repr(view.record.to_json())
    assert ("kms-tui", kms.context.credentials.username("soft-2")) in memory_keyring.entries
    kms.engines.set_default("soft-2")
    record = kms.keys.create("ECDSA", 256, "on-soft-2")
    assert record.engine_id == "soft-2"
    assert [e.record.id for e in kms.engines.list() if e.record.is_default] == ["soft-2"]


def test_register_refuses_bad_ids_types_and_options(kms):
    with pytest.raises(UnknownEngineType):
        kms.engines.register("NOPE", "x")
    with pytest.raises(EngineConfigError):
        kms.engines.register("GOLANG", "Bad Id!")
    with pytest.raises(EngineConfigError):
        kms.engines.register("GOLANG", "golang-default")
    with pytest.raises(EngineConfigError):
        kms.engines.register("GOLANG", "ok-id", options={"colour": "blue"})
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]


def test_unregister_refused_while_keys_reference_it(kms, tmp_path):
    kms.engines.register("GOLANG", "soft-2", options={"directory": str(tmp_path / "k2"), "encrypt": "false"})
    kms.keys.create("Ed25519", 256, "k", engine_id="soft-2")
    with pytest.raises(Refused):
        kms.engines.unregister("soft-2")
    assert kms.engines.unregister("soft-2", force=True).dropped == 1
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]
    # the key stays in the backend
    assert len(os.listdir(tmp_path / "k2")) == 1


def test_test_engine_reports_reachability(kms):
    check = kms.engines.test("golang-default")
    assert check.reachable and "RSA" in check.supported_key_types


def test_no_keyring_asks_for_the_passphrase_and_keeps_it_in_memory(data_dir):
    asked = []

    def prompt(request):
        asked.append(request)
        return "typed passphrase"

    credentials = CredentialStore(backend=fail.Keyring())
    with Kms(data_dir, credentials=credentials, prompt=prompt) as kms:
        kms.keys.create("ECDSA", 256, "k")
        kms.signing.sign("k", "ECDSA_SHA_256", b"m")
    assert len(asked) == 1 and asked[0].confirm and asked[0].engine_id == "golang-default"
    # A second process: asked again (not confirmed this time), nothing was written anywhere.
    with Kms(data_dir, credentials=CredentialStore(backend=fail.Keyring()), prompt=prompt) as kms:
        kms.signing.sign("k", "ECDSA_SHA_256", b"m")
    assert len(asked) == 2 and not asked[1].confirm
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert b"typed passphrase" not in path.read_bytes(), path


def test_no_keyring_and_no_prompt_is_a_clear_error(data_dir):
    with Kms(data_dir, credentials=CredentialStore(backend=fail.Keyring())) as kms:
        assert kms.keys.list() == []  # browsing needs no secret
        with pytest.raises(CredentialsUnavailable) as err:
            kms.keys.create("ECDSA", 256, "k")
    assert err.value.hint


def test_missing_keyring_entry_after_first_use_asks_for_it(kms, memory_keyring):
    kms.keys.create("ECDSA", 256, "k")
    memory_keyring.entries.clear()
    kms.context.forget_driver("golang-default")
    with pytest.raises(SecretNeeded):
        kms.signing.sign("k", "ECDSA_SHA_256", b"m")


def _clear_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def test_sync_adopts_lamassu_files_and_flags_missing_without_deleting(kms):
    directory = kms.context.store.get_engine("golang-default").config["directory"]
    own = kms.keys.create("ECDSA", 256, "own")
    foreign = ec.generate_private_key(ec.SECP256R1())
    from engines.keys import key_id_of

    foreign_id = key_id_of(foreign.public_key())
    with open(os.path.join(directory, foreign_id), "wb") as f:
        f.write(_clear_pem(foreign))
    legacy = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(os.path.join(directory, "ab" * 20), "wb") as f:
        f.write(_clear_pem(legacy))
    [report] = kms.inventory.sync("golang-default")
    assert sorted(report.adopted) == sorted([foreign_id, key_id_of(legacy.public_key())])
    adopted = kms.keys.resolve(foreign_id)
    assert adopted.native_ref == foreign_id and adopted.has_private_key
    assert kms.signing.verify(foreign_id, "ECDSA_SHA_256", b"m", kms.signing.sign(foreign_id, "ECDSA_SHA_256", b"m"))
    os.rename(os.path.join(directory, own.key_id), os.path.join(directory, "..", "moved"))
    [report] = kms.inventory.sync()
    assert report.missing == [own.key_id] and not report.adopted
    assert kms.keys.resolve("own").status == "missing"
    with pytest.raises(Refused):
        kms.signing.sign("own", "ECDSA_SHA_256", b"m")
    os.rename(os.path.join(directory, "..", "moved"), os.path.join(directory, own.key_id))
    [report] = kms.inventory.sync()
    assert report.restored == [own.key_id]
    assert kms.keys.count() == 3


def test_register_without_keyring_holds_the_secret_in_memory_when_allowed(data_dir, tmp_path):
    asked = []
    with Kms(data_dir, credentials=CredentialStore(backend=fail.Keyring()), prompt=lambda r: asked.append(r) or "p") as kms:
        with pytest.raises(CredentialsUnavailable):
            kms.engines.register("GOLANG", "s2", options={"directory": str(tmp_path / "s2")}, secret="given passphrase")
        assert [e.record.id for e in kms.engines.list()] == ["golang-default"]
        view = kms.engines.register("GOLANG", "s2", options={"directory": str(tmp_path / "s2")}, secret="given passphrase",
                                   memory_fallback=True)
        assert view.secret_location == "memory" and view.record.has_secret
        kms.keys.create("ECDSA", 256, "k", engine_id="s2")
    assert asked == []  # the given secret was used; nobody was prompted
