"""Engine registration, secrets without a keyring, unregistering, and sync."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from keyring.backends import fail

from engines.errors import EngineConfigError, UnknownEngineType
from kms_tui.errors import Refused, SecretNeeded
from kms_tui.service import Kms
from store import CredentialStore
from store.errors import CredentialsUnavailable


def test_register_second_software_engine_and_switch_default(kms, tmp_path, memory_keyring):
    view = kms.register_engine("GOLANG", "soft-2", name="Second", options={"directory": str(tmp_path / "k2")},
                               secret="a passphrase")
    assert view.record.supported_key_types["ECDSA"] == [224, 256, 384, 521]
    assert view.record.has_secret and "a passphrase" not in repr(view.record.to_json())
    assert ("kms-tui", kms.credentials.username("soft-2")) in memory_keyring.entries
    kms.set_default_engine("soft-2")
    record = kms.create_key("ECDSA", 256, "on-soft-2")
    assert record.engine_id == "soft-2"
    assert [e.record.id for e in kms.list_engines() if e.record.is_default] == ["soft-2"]


def test_register_refuses_bad_ids_types_and_options(kms):
    with pytest.raises(UnknownEngineType):
        kms.register_engine("NOPE", "x")
    with pytest.raises(EngineConfigError):
        kms.register_engine("GOLANG", "Bad Id!")
    with pytest.raises(EngineConfigError):
        kms.register_engine("GOLANG", "golang-default")
    with pytest.raises(EngineConfigError):
        kms.register_engine("GOLANG", "ok-id", options={"colour": "blue"})
    assert [e.record.id for e in kms.list_engines()] == ["golang-default"]


def test_unregister_refused_while_keys_reference_it(kms, tmp_path):
    kms.register_engine("GOLANG", "soft-2", options={"directory": str(tmp_path / "k2"), "encrypt": "false"})
    kms.create_key("Ed25519", 256, "k", engine_id="soft-2")
    with pytest.raises(Refused):
        kms.unregister_engine("soft-2")
    assert kms.unregister_engine("soft-2", force=True).dropped == 1
    assert [e.record.id for e in kms.list_engines()] == ["golang-default"]
    # the key stays in the backend
    assert len(os.listdir(tmp_path / "k2")) == 1


def test_test_engine_reports_reachability(kms):
    check = kms.test_engine("golang-default")
    assert check.reachable and "RSA" in check.supported_key_types


def test_no_keyring_asks_for_the_passphrase_and_keeps_it_in_memory(data_dir):
    asked = []

    def prompt(request):
        asked.append(request)
        return "typed passphrase"

    credentials = CredentialStore(backend=fail.Keyring())
    with Kms(data_dir, credentials=credentials, prompt=prompt) as kms:
        kms.create_key("ECDSA", 256, "k")
        kms.sign("k", "ECDSA_SHA_256", b"m")
    assert len(asked) == 1 and asked[0].confirm and asked[0].engine_id == "golang-default"
    # A second process: asked again (not confirmed this time), nothing was written anywhere.
    with Kms(data_dir, credentials=CredentialStore(backend=fail.Keyring()), prompt=prompt) as kms:
        kms.sign("k", "ECDSA_SHA_256", b"m")
    assert len(asked) == 2 and not asked[1].confirm
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert b"typed passphrase" not in path.read_bytes(), path


def test_no_keyring_and_no_prompt_is_a_clear_error(data_dir):
    with Kms(data_dir, credentials=CredentialStore(backend=fail.Keyring())) as kms:
        assert kms.list_keys() == []  # browsing needs no secret
        with pytest.raises(CredentialsUnavailable) as err:
            kms.create_key("ECDSA", 256, "k")
    assert err.value.hint


def test_missing_keyring_entry_after_first_use_asks_for_it(kms, memory_keyring):
    kms.create_key("ECDSA", 256, "k")
    memory_keyring.entries.clear()
    kms.forget_driver("golang-default")
    with pytest.raises(SecretNeeded):
        kms.sign("k", "ECDSA_SHA_256", b"m")


def _clear_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def test_sync_adopts_lamassu_files_and_flags_missing_without_deleting(kms):
    directory = kms.store.get_engine("golang-default").config["directory"]
    own = kms.create_key("ECDSA", 256, "own")
    foreign = ec.generate_private_key(ec.SECP256R1())
    from engines.keys import key_id_of

    foreign_id = key_id_of(foreign.public_key())
    with open(os.path.join(directory, foreign_id), "wb") as f:
        f.write(_clear_pem(foreign))
    legacy = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(os.path.join(directory, "ab" * 20), "wb") as f:
        f.write(_clear_pem(legacy))
    [report] = kms.sync("golang-default")
    assert sorted(report.adopted) == sorted([foreign_id, key_id_of(legacy.public_key())])
    adopted = kms.resolve(foreign_id)
    assert adopted.native_ref == foreign_id and adopted.has_private_key
    assert kms.verify(foreign_id, "ECDSA_SHA_256", b"m", kms.sign(foreign_id, "ECDSA_SHA_256", b"m"))
    os.rename(os.path.join(directory, own.key_id), os.path.join(directory, "..", "moved"))
    [report] = kms.sync()
    assert report.missing == [own.key_id] and not report.adopted
    assert kms.resolve("own").status == "missing"
    with pytest.raises(Refused):
        kms.sign("own", "ECDSA_SHA_256", b"m")
    os.rename(os.path.join(directory, "..", "moved"), os.path.join(directory, own.key_id))
    [report] = kms.sync()
    assert report.restored == [own.key_id]
    assert kms.count_keys() == 3


def test_register_without_keyring_holds_the_secret_in_memory_when_allowed(data_dir, tmp_path):
    asked = []
    with Kms(data_dir, credentials=CredentialStore(backend=fail.Keyring()), prompt=lambda r: asked.append(r) or "p") as kms:
        with pytest.raises(CredentialsUnavailable):
            kms.register_engine("GOLANG", "s2", options={"directory": str(tmp_path / "s2")}, secret="given passphrase")
        assert [e.record.id for e in kms.list_engines()] == ["golang-default"]
        view = kms.register_engine("GOLANG", "s2", options={"directory": str(tmp_path / "s2")}, secret="given passphrase",
                                   memory_fallback=True)
        assert view.secret_location == "memory" and view.record.has_secret
        kms.create_key("ECDSA", 256, "k", engine_id="s2")
    assert asked == []  # the given secret was used; nobody was prompted
