"""Backup and restore through the service on SoftHSM2: a token key backed up 3-of-5 comes back on two
other tokens from two different sets of three shares, as the very same key and only wrapped; two shares,
a wrong security officer PIN and a key made without a policy are refused; the doctor names a wrapping
key that a killed backup left on the token."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from engines import keys as K
from engines.pkcs11 import wrapping as W
from kms_tui.service.errors import KmsError, Refused
from tests.engines.pkcs11.softhsm import SO_PIN, USER_PIN, private_module, run

TOKENS = ("custody-a", "custody-b", "custody-c")


@pytest.fixture(scope="module")
def custody_module(softhsm, tmp_path_factory) -> str:
    """Three tokens behind a copy of the module of their own: a wrap logs the user out of its token."""
    base = tmp_path_factory.mktemp("custody-tokens")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    for label in TOKENS:
        run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", USER_PIN], env)
    return private_module(conf, base / "libsofthsm2-custody.so")


def register(kms, module: str) -> None:
    for n, token in enumerate(TOKENS):
        kms.engines.register("PKCS11", token, options={"module": module, "token": token}, secret=USER_PIN,
                             make_default=n == 0)


def backed_up(kms, path, ref: str, officer_pin: str = SO_PIN):
    handed = []
    with open(path, "xb") as out:
        kms.backup.create([ref], custodians=5, threshold=3, out=out, hand_out=handed.append, officer_pin=officer_pin)
    return kms.backup.read(path.read_bytes()), list(handed[0].shares)


def test_a_token_key_comes_back_on_other_tokens_from_any_three_of_five_shares(kms, custody_module, tmp_path):
    register(kms, custody_module)
    root = kms.keys.create("ECDSA", 256, "token-root", backup=(3, 5))
    backup, shares = backed_up(kms, tmp_path / "root.backup", "token-root")
    assert all(key.wrapped and key.key_id == root.key_id for key in backup.keys)
    with pytest.raises(KmsError, match="2 share.*needs 3"):
        kms.backup.restore(backup, shares[:2], "custody-b", name="too-few")
    original = K.load_public_pem(root.public_key)
    for engine_id, custodians, name in (("custody-b", (1, 3, 5), "root-b"), ("custody-c", (5, 2, 4), "root-c")):
        (key,) = kms.backup.restore(backup, [shares[k - 1] for k in custodians], engine_id, name=name).keys
        assert (key.record.key_id, key.record.engine_id) == (root.key_id, engine_id)
        signature = kms.signing.sign(name, "ECDSA_SHA_256", b"challenge")
        original.verify(signature, b"challenge", ec.ECDSA(hashes.SHA256()))  # the original public key

        def attributes(shared, ref=key.record.native_ref):
            from pkcs11 import Attribute, ObjectClass

            obj = shared.session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=ref)
            return obj.get_attributes([Attribute.SENSITIVE, Attribute.EXTRACTABLE])

        got = kms.context.driver(engine_id)._link.run("read the restored key", attributes)
        assert list(got.values()) == [True, False]  # the copy never leaves its token, not even wrapped
    assert kms.context.driver("custody-a").leftover_backup_keks() == []


def test_wrong_officer_pin_and_no_policy_are_refused_and_a_kek_left_behind_is_named(kms, custody_module, tmp_path,
                                                                                    monkeypatch):
    register(kms, custody_module)
    kms.keys.create("ECDSA", 256, "token-plain")
    with pytest.raises(Refused, match="without a backup policy"):
        backed_up(kms, tmp_path / "plain.backup", "token-plain")
    kms.keys.create("ECDSA", 256, "token-kept", backup=(3, 5))
    with pytest.raises(KmsError, match="security officer") as refused:
        backed_up(kms, tmp_path / "wrong.backup", "token-kept", officer_pin="not-the-officer-5309")
    assert "not-the-officer" not in str(refused.value)
    assert not any(r.action == "key.backup" for r in kms.audit.rows(limit=100))
    monkeypatch.setattr(W, "_remove_kek", lambda *args: None)  # the process died before it destroyed the KEK
    backed_up(kms, tmp_path / "kept.backup", "token-kept")
    monkeypatch.undo()
    [label] = kms.context.driver("custody-a").leftover_backup_keks()
    report = kms.doctor.run()
    [finding] = [f for f in report.findings if label in f.message]
    assert finding.subject == "custody-a" and "security officer" in finding.hint and not finding.repairable
    assert kms.context.driver("custody-a")._link.run("clean up", W.destroy_keks) == 1
