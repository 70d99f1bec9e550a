"""The Azure Key Vault driver's own behaviour: Lamassu's layout, adoption, paging, signatures, life cycle."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from engines import algorithms as A
from engines import keys as K
from engines.azure.errors import AzureAccessDenied, KeyNotDeleted
from engines.azure.support import sign_parameters
from engines.errors import KeyNotFoundInEngine, OperationNotSupported, UnsupportedKeyType
from engines.testing import raises_kms, spki_der, spki_sha256, verify_independently
from tests.engines.azure.helpers import fresh_vault

MESSAGE = b"a message signed in Azure Key Vault"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_int(value: int) -> str:
    return b64u(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def pem(private) -> bytes:
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def sign_checked(driver, key, algorithm: str) -> bytes:
    signature = driver.sign(key.ref, A.signing_algorithm(algorithm), MESSAGE, A.MessageType.RAW)
    verify_independently(key.public_key, algorithm, MESSAGE, signature)
    return signature


def test_created_and_imported_keys_follow_lamassus_layout(server, make_driver):
    driver = make_driver()
    created = driver.create("ECDSA", 384)
    assert str(uuid.UUID(created.ref)) == created.ref  # Lamassu names its Key Vault keys with UUIDs
    stored = server.vault.get(created.ref)
    assert stored["tags"] == {"x-lamassu-id": created.key_id}
    assert (stored["key"]["kty"], stored["key"]["crv"]) == ("EC", "P-384")
    assert stored["key"]["key_ops"] == ["sign", "verify"]
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    imported = driver.import_key(K.parse_key(pem(private)))
    stored = server.vault.get(imported.ref)
    assert stored["tags"] == {"x-lamassu-id": spki_sha256(private.public_key())} == {"x-lamassu-id": imported.key_id}
    assert stored["key"]["kty"] == "RSA" and "d" not in stored["key"]
    sign_checked(driver, imported, "RSASSA_PSS_SHA_256")


def test_keys_made_elsewhere_are_adopted_by_their_public_key(server, make_driver, caplog):
    server.vault.create("payments-signing", {"kty": "EC", "crv": "P-256"})
    server.vault.create("mislabelled", {"kty": "RSA", "key_size": 2048, "tags": {"x-lamassu-id": "ab" * 32}})
    driver = make_driver()
    with caplog.at_level(logging.WARNING, logger="engines.azure"):
        listed = {k.ref: k for k in driver.inventory()}
    assert set(listed) == {"payments-signing", "mislabelled"}
    adopted = listed["payments-signing"]
    assert adopted.key_id == spki_sha256(adopted.public_key)
    assert adopted.extra["label"] == "payments-signing" and not adopted.extra["tagged"]
    sign_checked(driver, adopted, "ECDSA_SHA_256")
    mislabelled = listed["mislabelled"]
    assert mislabelled.key_id == spki_sha256(mislabelled.public_key) != "ab" * 32
    assert "mislabelled" in caplog.text


def test_inventory_follows_next_link_across_pages(server, make_driver):
    fresh_vault(server, page_size=2)
    driver = make_driver()
    made = {driver.create("ECDSA", 256).ref for _ in range(5)}
    before = len(server.calls)
    assert {k.ref for k in driver.inventory()} == made
    assert server.calls[before:].count(("GET", "/keys")) == 3  # pages of 2, 2 and 1


def test_ecdsa_digests_are_fitted_to_the_curve():
    sha384 = hashlib.sha384(MESSAGE).digest()
    assert sign_parameters(A.signing_algorithm("ECDSA_SHA_384"), 256, sha384) == ("ES256", sha384[:32])
    sha256 = hashlib.sha256(MESSAGE).digest()
    assert sign_parameters(A.signing_algorithm("ECDSA_SHA_256"), 521, sha256) == ("ES512", bytes(32) + sha256)
    assert sign_parameters(A.signing_algorithm("ECDSA_SHA_384"), 384, sha384) == ("ES384", sha384)
    assert sign_parameters(A.signing_algorithm("RSASSA_PSS_SHA_512"), 2048, b"d")[0] == "PS512"
    assert sign_parameters(A.signing_algorithm("RSASSA_PKCS1_V1_5_SHA_384"), 4096, b"d")[0] == "RS384"


@pytest.mark.parametrize(("size", "name"), [(256, "ECDSA_SHA_512"), (384, "ECDSA_SHA_256"), (521, "ECDSA_SHA_384")])
def test_ecdsa_signature_arrives_raw_and_leaves_der(server, make_driver, size, name):
    driver = make_driver()
    key = driver.create("ECDSA", size)
    width = (size + 7) // 8
    alg, value = sign_parameters(A.signing_algorithm(name), size, hashlib.new("sha" + name[-3:], MESSAGE).digest())
    raw = server.vault.sign(key.ref, "", {"alg": alg, "value": b64u(value)})["value"]
    raw = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    assert len(raw) == 2 * width  # what the vault answers: r||s
    der = sign_checked(driver, key, name)
    r, s = decode_dss_signature(der)  # what the driver returns: DER
    assert der[0] == 0x30 and 0 < r < 2 ** (8 * width) and 0 < s < 2 ** (8 * width)


def test_native_verify(server, make_driver):
    driver = make_driver()
    for algorithm, size, name in (("RSA", 2048, "RSASSA_PSS_SHA_384"), ("ECDSA", 256, "ECDSA_SHA_512")):
        key = driver.create(algorithm, size)
        sig_alg = A.signing_algorithm(name)
        signature = sign_checked(driver, key, name)
        assert driver.verify(key.ref, sig_alg, MESSAGE, A.MessageType.RAW, signature) is True
        assert driver.verify(key.ref, sig_alg, MESSAGE + b"!", A.MessageType.RAW, signature) is False
        assert driver.verify(key.ref, sig_alg, MESSAGE, A.MessageType.RAW, b"\x30\x02junk") is False


def test_import_of_a_jwk_with_private_parts(server, make_driver):
    driver = make_driver()
    for private in (ec.generate_private_key(ec.SECP521R1()), rsa.generate_private_key(public_exponent=65537,
                                                                                      key_size=3072)):
        jwk = K.to_jwk(private.public_key())
        numbers = private.private_numbers()
        if isinstance(private, rsa.RSAPrivateKey):
            parts = {"d": numbers.d, "p": numbers.p, "q": numbers.q}
        else:
            parts = {"d": numbers.private_value}
        jwk.update({k: b64u_int(v) for k, v in parts.items()})
        key = driver.import_key(K.parse_key(json.dumps(jwk)))
        assert spki_der(driver.get(key.ref).public_key) == spki_der(private.public_key())
        sign_checked(driver, key, A.algorithms_for_key(key.algorithm)[-1])


def test_import_refuses_what_key_vault_cannot_hold(server, make_driver):
    driver = make_driver()
    driver.check()
    before = len(server.calls)
    for private in (ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP224R1()),
                    rsa.generate_private_key(public_exponent=65537, key_size=1024)):
        with raises_kms(UnsupportedKeyType):
            driver.import_key(K.parse_key(pem(private)))
    assert server.calls[before:] == []


def test_soft_delete_recover_and_purge(server, make_driver):
    driver = make_driver()
    key = driver.create("ECDSA", 256)
    for action in ("purge", "recover"):  # only for a deleted key
        with raises_kms(KeyNotDeleted):
            driver.key_action(key.ref, action)
    assert driver.delete(key.ref) == "Deleted"
    with raises_kms(KeyNotFoundInEngine) as info:
        driver.get(key.ref)
    assert "deleted" in info.value.message and "recover" in str(info.value)
    with raises_kms(KeyNotFoundInEngine):
        driver.sign(key.ref, A.signing_algorithm("ECDSA_SHA_256"), MESSAGE, A.MessageType.RAW)
    recovered = driver.key_action(key.ref, "recover")
    assert (recovered.ref, recovered.key_id, recovered.state) == (key.ref, key.key_id, None)
    sign_checked(driver, key, "ECDSA_SHA_256")
    driver.delete(key.ref)
    assert driver.key_action(key.ref, "purge") is None
    with raises_kms(KeyNotFoundInEngine) as info:
        driver.get(key.ref)
    assert "deleted" not in info.value.message
    for action in ("purge", "recover"):
        with raises_kms(KeyNotFoundInEngine):
            driver.key_action(key.ref, action)
    with raises_kms(OperationNotSupported):
        driver.key_action(key.ref, "destroy")


def test_discard_purges_so_nothing_is_recoverable(server, make_driver):
    driver = make_driver()
    key = driver.create("ECDSA", 256)
    driver.discard(key.ref)
    with raises_kms(KeyNotFoundInEngine) as info:
        driver.get(key.ref)
    assert "deleted" not in info.value.message  # purged, not merely soft-deleted
    with raises_kms(KeyNotFoundInEngine):
        driver.key_action(key.ref, "recover")


def test_hsm_option_makes_hsm_keys(server, make_driver):
    driver = make_driver(hsm="TRUE")
    created = driver.create("RSA", 2048)
    imported = driver.import_key(K.parse_key(pem(ec.generate_private_key(ec.SECP256R1()))))
    assert server.vault.get(created.ref)["key"]["kty"] == "RSA-HSM"
    assert server.vault.get(imported.ref)["key"]["kty"] == "EC-HSM"
    assert driver.get(created.ref).extra["kty"] == "RSA-HSM"
    sign_checked(driver, created, "RSASSA_PKCS1_V1_5_SHA_512")
    sign_checked(driver, imported, "ECDSA_SHA_256")


def test_disabled_key(server, make_driver):
    driver = make_driver()
    key = driver.create("ECDSA", 256)
    server.vault.update(key.ref, "", {"attributes": {"enabled": False}})
    assert driver.get(key.ref).state == "Disabled"
    with raises_kms(AzureAccessDenied) as info:
        driver.sign(key.ref, A.signing_algorithm("ECDSA_SHA_256"), MESSAGE, A.MessageType.RAW)
    assert "disabled" in info.value.message
