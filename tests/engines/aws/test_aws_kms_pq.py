"""AWS KMS ML-DSA (``ML_DSA_44|65|87``) and Ed25519 (``ECC_NIST_EDWARDS25519``) keys.

moto has neither key spec, so these paths run against botocore's Stubber on the driver's
own client: requests and responses have the shapes of the KMS API model botocore ships
(the Stubber checks both against it). The public keys and signatures the stub returns are
made by real ``cryptography`` keys, and kms-tui verifies every signature itself.
"""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest
from botocore.stub import ANY, Stubber
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

from engines import algorithms as A
from engines import keys as K
from engines.errors import EngineError, InvalidInput, OperationNotSupported, UnsupportedKeyType
from engines.testing import raises_kms, spki_sha256
from tests.engines.aws.support import stub_driver

MLDSA = A.signing_algorithm("ML_DSA_SHAKE_256")
ED25519 = A.signing_algorithm("ED25519")
WIRE = {"ML-DSA": ["ML_DSA_SHAKE_256"], "Ed25519": ["ED25519_SHA_512", "ED25519_PH_SHA_512"]}
PRIVATE = {44: mldsa.MLDSA44PrivateKey, 65: mldsa.MLDSA65PrivateKey, 87: mldsa.MLDSA87PrivateKey}


def spki(private) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)


def describe(kid: str, spec: str, state: str = "Enabled") -> dict:
    return {"KeyMetadata": {"KeyId": kid, "Arn": f"arn:aws:kms:us-east-1:123456789012:key/{kid}", "KeyState": state,
                            "KeySpec": spec, "KeyUsage": "SIGN_VERIFY", "KeyManager": "CUSTOMER"}}


def public_key(kid: str, private, spec: str, algorithm: str) -> dict:
    """GetPublicKey's answer as KMS gives it for the spec."""
    return {"KeyId": kid, "PublicKey": spki(private), "KeySpec": spec, "KeyUsage": "SIGN_VERIFY",
            "SigningAlgorithms": WIRE[algorithm]}


def mu_of(private, message: bytes) -> bytes:
    """FIPS 204 mu, computed with cryptography's own hasher."""
    hasher = mldsa.MLDSAMuHasher(private.public_key())
    hasher.update(message)
    return hasher.finalize()


@pytest.mark.parametrize(("algorithm", "size", "spec"), [
    ("ML-DSA", 44, "ML_DSA_44"), ("ML-DSA", 65, "ML_DSA_65"), ("ML-DSA", 87, "ML_DSA_87"),
    ("Ed25519", 256, "ECC_NIST_EDWARDS25519"),
])
def test_create_asks_for_the_spec_and_reads_its_public_key(algorithm, size, spec):
    private = PRIVATE[size].generate() if algorithm == "ML-DSA" else ed25519.Ed25519PrivateKey.generate()
    key_id = spki_sha256(private.public_key())
    driver, client, sent = stub_driver()
    assert size in driver.supported_key_types()[algorithm]
    kid = str(uuid.uuid4())
    with Stubber(client) as stub:
        stub.add_response("create_key", describe(kid, spec), {"KeyUsage": "SIGN_VERIFY", "KeySpec": spec,
                                                              "Description": ANY})
        stub.add_response("get_public_key", public_key(kid, private, spec, algorithm), {"KeyId": kid})
        stub.add_response("create_alias", {}, {"AliasName": f"alias/{key_id}", "TargetKeyId": kid})
        key = driver.create(algorithm.lower(), size)
        stub.assert_no_pending_responses()
    assert (key.ref, key.key_id, key.algorithm, key.size, key.extra["key_spec"]) == (kid, key_id, algorithm, size,
                                                                                     spec)
    assert K.spki_der(key.public_key) == spki(private)


def test_listing_reads_the_new_specs_and_refuses_a_public_key_of_another():
    """A sync adopts ML-DSA and Ed25519 keys; a key whose public key is not of its spec is refused."""
    driver, client, _ = stub_driver()
    driver._workers = 1  # one worker: the Stubber answers in order
    ml87, ed, ml44 = PRIVATE[87].generate(), ed25519.Ed25519PrivateKey.generate(), PRIVATE[44].generate()
    k1, k2, k3 = (str(uuid.uuid4()) for _ in range(3))
    with Stubber(client) as stub:
        stub.add_response("list_aliases", {"Aliases": [{"AliasName": "alias/pq-root", "TargetKeyId": k1}],
                                           "Truncated": False}, {"Limit": 100})
        stub.add_response("list_keys", {"Keys": [{"KeyId": k1}, {"KeyId": k2}], "Truncated": False}, {"Limit": 100})
        stub.add_response("describe_key", describe(k1, "ML_DSA_87"), {"KeyId": k1})
        stub.add_response("get_public_key", public_key(k1, ml87, "ML_DSA_87", "ML-DSA"), {"KeyId": k1})
        stub.add_response("describe_key", describe(k2, "ECC_NIST_EDWARDS25519"), {"KeyId": k2})
        stub.add_response("get_public_key", public_key(k2, ed, "ECC_NIST_EDWARDS25519", "Ed25519"), {"KeyId": k2})
        stub.add_response("describe_key", describe(k3, "ML_DSA_65"), {"KeyId": k3})
        stub.add_response("get_public_key", public_key(k3, ml44, "ML_DSA_65", "ML-DSA"), {"KeyId": k3})
        listed = list(driver.inventory())
        with raises_kms(EngineError):
            driver.get(k3)
        stub.assert_no_pending_responses()
    assert [(k.ref, k.key_id, k.algorithm, k.size) for k in listed] == [
        (k1, spki_sha256(ml87.public_key()), "ML-DSA", 87), (k2, spki_sha256(ed.public_key()), "Ed25519", 256)]
    assert listed[0].extra["label"] == "pq-root"


def test_mldsa_signs_raw_as_raw_and_a_long_message_or_a_mu_as_external_mu():
    driver, client, sent = stub_driver()
    private = PRIVATE[65].generate()
    kid, short, long = str(uuid.uuid4()), b"a short message", os.urandom(5000)
    given_mu = mu_of(private, b"hashed elsewhere")
    with Stubber(client) as stub:
        def sign(message: bytes, message_type: str, signature: bytes) -> None:
            stub.add_response("describe_key", describe(kid, "ML_DSA_65"), {"KeyId": kid})
            stub.add_response("sign", {"KeyId": kid, "Signature": signature, "SigningAlgorithm": "ML_DSA_SHAKE_256"},
                              {"KeyId": kid, "Message": message, "MessageType": message_type,
                               "SigningAlgorithm": "ML_DSA_SHAKE_256"})

        sign(short, "RAW", private.sign(short))
        stub.add_response("describe_key", describe(kid, "ML_DSA_65"), {"KeyId": kid})
        stub.add_response("get_public_key", public_key(kid, private, "ML_DSA_65", "ML-DSA"), {"KeyId": kid})
        stub.add_response("sign", {"KeyId": kid, "Signature": private.sign_mu(mu_of(private, long)),
                                   "SigningAlgorithm": "ML_DSA_SHAKE_256"},
                          {"KeyId": kid, "Message": mu_of(private, long), "MessageType": "EXTERNAL_MU",
                           "SigningAlgorithm": "ML_DSA_SHAKE_256"})
        sign(given_mu, "EXTERNAL_MU", private.sign_mu(given_mu))
        stub.add_response("describe_key", describe(kid, "ML_DSA_65"), {"KeyId": kid})  # no GetPublicKey: read once
        stub.add_response("verify", {"KeyId": kid, "SignatureValid": True, "SigningAlgorithm": "ML_DSA_SHAKE_256"},
                          {"KeyId": kid, "Message": mu_of(private, long), "MessageType": "EXTERNAL_MU",
                           "Signature": b"s", "SigningAlgorithm": "ML_DSA_SHAKE_256"})
        signatures = [driver.sign(kid, MLDSA, short, A.MessageType.RAW),
                      driver.sign(kid, MLDSA, long, A.MessageType.RAW),
                      driver.sign(kid, MLDSA, given_mu, A.MessageType.EXTERNAL_MU)]
        assert driver.verify(kid, MLDSA, long, A.MessageType.RAW, b"s") is True
        for data, message_type in ((hashlib.sha512(long).digest(), A.MessageType.DIGEST),  # pure: no digest
                                   (given_mu[:32], A.MessageType.EXTERNAL_MU)):  # a mu is 64 bytes
            stub.add_response("describe_key", describe(kid, "ML_DSA_65"), {"KeyId": kid})
            with raises_kms(InvalidInput):
                driver.sign(kid, MLDSA, data, message_type)
        stub.assert_no_pending_responses()
    public = K.parse_key(spki(private)).public_key
    assert K.verify_with(public, MLDSA, short, A.MessageType.RAW, signatures[0])
    assert K.verify_with(public, MLDSA, long, A.MessageType.RAW, signatures[1])
    assert K.verify_with(public, MLDSA, given_mu, A.MessageType.EXTERNAL_MU, signatures[2])
    assert not K.verify_with(public, MLDSA, long + b"!", A.MessageType.RAW, signatures[1])
    assert (sent.names().count("GetPublicKey"), sent.names().count("Sign")) == (1, 3)


def test_ed25519_signs_raw_messages_as_ed25519_sha_512_only():
    """KMS takes ED25519_SHA_512 with MessageType RAW only (1-4096 bytes); ED25519_PH_SHA_512 is
    HashEdDSA, another signature, so a longer message or a digest is refused before any Sign."""
    driver, client, sent = stub_driver()
    private = ed25519.Ed25519PrivateKey.generate()
    kid, message = str(uuid.uuid4()), b"sign me, ed25519"
    with Stubber(client) as stub:
        stub.add_response("describe_key", describe(kid, "ECC_NIST_EDWARDS25519"), {"KeyId": kid})
        stub.add_response("sign", {"KeyId": kid, "Signature": private.sign(message),
                                   "SigningAlgorithm": "ED25519_SHA_512"},
                          {"KeyId": kid, "Message": message, "MessageType": "RAW",
                           "SigningAlgorithm": "ED25519_SHA_512"})
        stub.add_response("describe_key", describe(kid, "ECC_NIST_EDWARDS25519"), {"KeyId": kid})
        stub.add_client_error("verify", "KMSInvalidSignatureException", "", expected_params={
            "KeyId": kid, "Message": message, "MessageType": "RAW", "Signature": b"bad",
            "SigningAlgorithm": "ED25519_SHA_512"})
        signature = driver.sign(kid, ED25519, message, A.MessageType.RAW)
        assert driver.verify(kid, ED25519, message, A.MessageType.RAW, b"bad") is False
        stub.add_response("describe_key", describe(kid, "ECC_NIST_EDWARDS25519"), {"KeyId": kid})
        with raises_kms(OperationNotSupported) as refused:
            driver.sign(kid, ED25519, bytes(4097), A.MessageType.RAW)
        assert "4096" in refused.value.message
        stub.add_response("describe_key", describe(kid, "ECC_NIST_EDWARDS25519"), {"KeyId": kid})
        with raises_kms(InvalidInput):
            driver.sign(kid, ED25519, hashlib.sha512(message).digest(), A.MessageType.DIGEST)
        stub.assert_no_pending_responses()
    assert K.verify_with(K.parse_key(spki(private)).public_key, ED25519, message, A.MessageType.RAW, signature)
    assert sent.names().count("Sign") == 1


def test_import_of_an_mldsa_or_ed25519_key_is_refused_before_any_call():
    driver, client, sent = stub_driver()
    for private in (PRIVATE[65].generate(), ed25519.Ed25519PrivateKey.generate()):
        with raises_kms(UnsupportedKeyType):
            driver.import_key(K.parse_key(K.private_pkcs8_pem(private)))
    assert sent.names() == []
