"""The compatibility check before a key is created or imported (``kms_tui.service.compat``).

The expected verdicts are written out here per engine type, not derived from the module's table:
- Lamassu creates, imports and signs with RSA and ECDSA only, on the curves P-224/256/384/521
  (lamassuiot/lamassuiot, backend/pkg/services/kms.go: CreateKey, ImportKey, parseAlgorithm);
- its PKCS#11 engine lists a token with crypto11's FindAllKeyPairs and lists nothing when that
  fails (lamassuiot/lamassuiot, engines/crypto/pkcs11/pkcs11.go), which it does on a key type it
  cannot build, Ed25519 among them (ThalesGroup/crypto11, keys.go: makeKeyPair);
- OpenSSL's PKCS#11 engine and ssh-keygen -D: tests/engines/pkcs11/test_pkcs11_interop.py runs them.
"""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kms_tui.service import LamassuIncompatible, compat

L, C11, OSSL, SSH = "Lamassu", "crypto11", "OpenSSL (libengine-pkcs11-openssl)", "ssh-keygen -D"
SPECS = [("RSA", 2048), ("RSA", 3072), ("RSA", 4096), ("ECDSA", 224), ("ECDSA", 256), ("ECDSA", 384),
         ("ECDSA", 521), ("Ed25519", 256)]
ONLY_LAMASSU = {spec: {L: spec[0] != "Ed25519"} for spec in SPECS}
PKCS11 = {
    **{("RSA", size): {L: True, C11: True, OSSL: True, SSH: True} for size in (2048, 3072, 4096)},
    ("ECDSA", 224): {L: True, C11: True, OSSL: True, SSH: False},
    **{("ECDSA", size): {L: True, C11: True, OSSL: True, SSH: True} for size in (256, 384, 521)},
    ("Ed25519", 256): {L: False, C11: False, OSSL: False, SSH: False},
}
EXPECTED = {
    "GOLANG": ONLY_LAMASSU, "PKCS11": PKCS11, "AWS_KMS": ONLY_LAMASSU, "AWS_SECRETS_MANAGER": ONLY_LAMASSU,
    "AZURE_KEY_VAULT": ONLY_LAMASSU, "HASHICORP_VAULT_KV_V2": ONLY_LAMASSU,
}
CASES = [(engine_type, alg, size) for engine_type in EXPECTED for alg, size in SPECS]


@pytest.mark.parametrize(("engine_type", "algorithm", "size"), CASES)
@pytest.mark.parametrize("shared", [False, True])
def test_each_client_verdict_per_engine_type(engine_type, algorithm, size, shared):
    result = compat.check(engine_type, shared, algorithm, size)
    assert {v.client: v.usable for v in result.verdicts} == EXPECTED[engine_type][(algorithm, size)]
    for verdict in result.verdicts:
        assert bool(verdict.reason) is not verdict.usable  # a reason exactly when not usable
    assert result.warnings() == [f"{v.client} cannot use this key: {v.reason}" for v in result.problems]
    lamassu_usable = EXPECTED[engine_type][(algorithm, size)][L]
    assert (result.refusal is not None) is (shared and not lamassu_usable)


def test_reasons_name_what_the_client_does():
    on_token = compat.check("PKCS11", True, "ed25519", 256)
    assert "no key of this token" in on_token.verdict(L).reason  # the whole token, not only this key
    assert "Ed25519" in on_token.verdict(C11).reason and "whole token" in on_token.verdict(C11).reason
    assert "no key of it loads" in on_token.verdict(OSSL).reason
    assert "P-256, P-384 and P-521" in compat.check("PKCS11", False, "EC", 224).verdict(SSH).reason
    assert "RSA and ECDSA keys only" in compat.check("AWS_KMS", False, "Ed25519", 256).verdict(L).reason
    assert compat.check("AWS_KMS", False, "DSA", 2048).verdict(L).usable is False


def test_a_plugin_engine_type_has_lamassu_only():
    assert [v.client for v in compat.check("MY_ENGINE", False, "RSA", 2048).verdicts] == [L]


# --- the service: kms.keys.compatibility and the refusal on a Lamassu-shared engine ---------------


@pytest.fixture
def shared_dir(kms, tmp_path):
    directory = tmp_path / "lamassu-keys"
    kms.engines.register("GOLANG", "shared", options={"directory": str(directory), "lamassu": "true",
                                                      "encrypt": "false"})
    return directory


def _listing(directory):
    return sorted(os.listdir(directory)) if directory.exists() else []


def test_compatibility_reads_the_engine_type_and_its_lamassu_option(kms, shared_dir):
    assert kms.keys.compatibility("shared", "Ed25519", 256).refusal is not None
    plain = kms.keys.compatibility(None, "Ed25519", 256)  # the default engine, not shared
    assert plain.engine_type == "GOLANG" and not plain.shared and plain.refusal is None
    assert [v.client for v in plain.problems] == [L]


def test_shared_engine_refuses_an_ed25519_key_before_making_it(kms, shared_dir):
    with pytest.raises(LamassuIncompatible) as caught:
        kms.keys.create("Ed25519", 256, "ed", engine_id="shared")
    assert "'shared' is shared with Lamassu" in caught.value.message
    assert "RSA and ECDSA keys only" in caught.value.message
    assert _listing(shared_dir) == []
    assert kms.keys.count() == 0
    assert "key.create" not in [r.action for r in kms.audit.rows(limit=100)]
    assert kms.keys.create("ECDSA", 256, "ec", engine_id="shared").algorithm == "ECDSA"
    assert len(_listing(shared_dir)) == 1


def test_shared_engine_refuses_an_ed25519_import_before_writing_it(kms, shared_dir):
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(LamassuIncompatible):
        kms.keys.import_key(pem, "ed", engine_id="shared")
    assert _listing(shared_dir) == [] and kms.keys.count() == 0
    ec_pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert kms.keys.import_key(ec_pem, "ec", engine_id="shared").size == 384
    public = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert kms.keys.import_key(public, "verify-only", engine_id="shared").has_private_key is False


def test_an_engine_not_shared_still_makes_ed25519_keys(kms):
    assert kms.keys.create("Ed25519", 256, "ed").algorithm == "Ed25519"
