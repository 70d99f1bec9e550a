"""Import into AWS KMS: the RFC 5649 wrapping, and the call sequence.

moto implements neither GetParametersForImport nor ImportKeyMaterial (HTTP 500), so the
wrapping is checked by unwrapping it with the wrapping private key, and the sequence of
calls with botocore's Stubber on the driver's own client. What moto can do (CreateKey
with Origin=EXTERNAL) shows that a failed import leaves nothing usable behind.
"""

from __future__ import annotations

import os
import uuid

import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from engines import keys as K
from engines.aws.kms_import import wrap_key_material
from engines.errors import (
    EngineError,
    EngineUnavailable,
    KeyExists,
    OperationNotSupported,
    UnsupportedKeyType,
)
from engines.testing import raises_kms
from tests.engines.aws.moto_server import kms_engine
from tests.engines.aws.support import (
    expect_import_until_material,
    metadata,
    pkcs8_der,
    stub_driver,
    stubbed_import,
    unwrap,
)


@pytest.mark.parametrize("private", [
    rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ec.generate_private_key(ec.SECP521R1()),
], ids=["RSA-2048", "P-521"])
def test_wrapping_unwraps_to_the_pkcs8_der(private, wrapping_key):
    public_der = wrapping_key.public_key().public_bytes(serialization.Encoding.DER,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    first, second = wrap_key_material(private, public_der), wrap_key_material(private, public_der)
    assert unwrap(first, wrapping_key) == unwrap(second, wrapping_key) == pkcs8_der(private)
    assert first[512:] != second[512:]  # a fresh AES key every time
    assert len(first) == 512 + 8 * (1 + (len(pkcs8_der(private)) + 7) // 8)  # RFC 5649 length


def test_wrapping_refuses_a_wrapping_key_it_cannot_trust():
    private = ec.generate_private_key(ec.SECP256R1())
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    for wrapping in (b"not a key", private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
            small.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)):
        with raises_kms(EngineError):
            wrap_key_material(private, wrapping)


def test_import_sequence_for_a_p384_key(wrapping_key):
    parsed = K.parse_key(K.private_pkcs8_pem(ec.generate_private_key(ec.SECP384R1())))
    key, unwrapped = stubbed_import(parsed, wrapping_key)
    assert key.key_id == parsed.key_id == K.key_id_of(unwrapped.public_key())
    assert key.extra["key_spec"] == "ECC_NIST_P384"


def test_an_existing_key_is_refused_before_anything_is_made():
    parsed = K.parse_key(K.private_pkcs8_pem(ec.generate_private_key(ec.SECP256R1())))
    driver, client, sent = stub_driver()
    with Stubber(client) as stub:
        stub.add_response("describe_key", metadata(str(uuid.uuid4()), "ECC_NIST_P256", "Enabled"),
                          expected_params={"KeyId": f"alias/{parsed.key_id}"})
        with raises_kms(KeyExists):
            driver.import_key(parsed)
        stub.assert_no_pending_responses()
    assert sent.names() == ["DescribeKey"]


def test_a_refused_import_discards_the_half_made_key(wrapping_key):
    parsed = K.parse_key(K.private_pkcs8_pem(ec.generate_private_key(ec.SECP256R1())))
    driver, client, sent = stub_driver()
    kid, token = str(uuid.uuid4()), os.urandom(32)
    with Stubber(client) as stub:
        expect_import_until_material(stub, parsed, wrapping_key, kid, token)
        stub.add_client_error("import_key_material", "IncorrectKeyMaterialException", "bad material")
        stub.add_response("schedule_key_deletion", {"KeyId": kid}, expected_params={"KeyId": kid,
                                                                                   "PendingWindowInDays": 7})
        with raises_kms(EngineError) as info:
            driver.import_key(parsed)
        stub.assert_no_pending_responses()
    assert "does not match the key spec" in info.value.message
    assert "CreateAlias" not in sent.names()


def test_unsupported_keys_are_refused_without_a_call():
    driver, _, sent = stub_driver()
    for private in (ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP224R1()),
                    rsa.generate_private_key(public_exponent=65537, key_size=1024)):
        with raises_kms(UnsupportedKeyType):
            driver.import_key(K.parse_key(K.private_pkcs8_pem(private)))
    public_only = K.parse_key(K.public_pem(ec.generate_private_key(ec.SECP256R1()).public_key()))
    with raises_kms(OperationNotSupported):
        driver.import_key(public_only)
    assert sent.calls == []


def test_moto_without_import_leaves_nothing_usable(fresh):
    """Against moto the import API answers HTTP 500: a typed error, and the EXTERNAL key is discarded."""
    parsed = K.parse_key(K.private_pkcs8_pem(ec.generate_private_key(ec.SECP256R1())))
    with kms_engine(fresh, max_attempts="1") as driver:
        with raises_kms(EngineUnavailable) as info:
            driver.import_key(parsed)
        assert "HTTP 500" in info.value.message
        assert list(driver.inventory()) == []
    (made,) = fresh.client("kms").list_keys()["Keys"]
    meta = fresh.client("kms").describe_key(KeyId=made["KeyId"])["KeyMetadata"]
    assert (meta["Origin"], meta["KeyState"]) == ("EXTERNAL", "PendingDeletion")
    assert fresh.client("kms").list_aliases(KeyId=made["KeyId"])["Aliases"] == []
