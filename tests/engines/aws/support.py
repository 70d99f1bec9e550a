"""Lamassu's Secrets Manager layout as Lamassu writes it, and the AWS KMS import conversation
played through botocore's Stubber on a driver's own client (moto implements no import)."""

from __future__ import annotations

import base64
import datetime
import os
import textwrap
import uuid

from botocore.stub import ANY, Stubber
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding

from engines.aws.kms import AwsKmsEngine
from tests.engines.aws.moto_server import SECRET, Sent


def go_pem(private) -> bytes:
    """PEM as Go's pem.EncodeToMemory writes a PKCS#8 key (what Lamassu stores): 64-column lines."""
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n".encode()


def lamassu_secret(private) -> str:
    """The SecretString exactly as Lamassu builds it: `{"key": "` + base64(PEM) + `"}`."""
    return '{"key": "' + base64.b64encode(go_pem(private)).decode() + '"}'


# ---------------------------------------------------------------- KMS import through botocore's Stubber

# ---------------------------------------------------------------- KMS import through botocore's Stubber


SPEC = {("RSA", 2048): "RSA_2048", ("RSA", 3072): "RSA_3072", ("RSA", 4096): "RSA_4096",
        ("ECDSA", 256): "ECC_NIST_P256", ("ECDSA", 384): "ECC_NIST_P384", ("ECDSA", 521): "ECC_NIST_P521"}
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def pkcs8_der(private) -> bytes:
    return private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def unwrap(material: bytes, wrapping_private) -> bytes:
    """What AWS does with EncryptedKeyMaterial: RSA-OAEP-SHA-256 for the AES key, then RFC 5649."""
    split = wrapping_private.key_size // 8
    aes_key = wrapping_private.decrypt(material[:split], OAEP)
    assert len(aes_key) == 32  # AES-256
    return aes_key_unwrap_with_padding(aes_key, material[split:])


def stub_driver():
    """A driver whose client never reaches a network: every call is answered by a Stubber."""
    driver = AwsKmsEngine("aws-kms-stub", {"region": "us-east-1", "access_key_id": "testing",
                                           "endpoint_url": "http://127.0.0.1:9"}, SECRET)
    client = driver._conn.client()
    return driver, client, Sent(client)


def metadata(kid: str, spec: str, state: str) -> dict:
    return {"KeyMetadata": {"KeyId": kid, "Arn": f"arn:aws:kms:us-east-1:123456789012:key/{kid}", "KeyState": state,
                            "KeySpec": spec, "KeyUsage": "SIGN_VERIFY", "Origin": "EXTERNAL", "KeyManager": "CUSTOMER"}}


def expect_import_until_material(stub: Stubber, parsed, wrapping_private, kid: str, token: bytes) -> None:
    spec = SPEC[(parsed.algorithm, parsed.size)]
    stub.add_client_error("describe_key", "NotFoundException", expected_params={"KeyId": f"alias/{parsed.key_id}"})
    stub.add_response("create_key", metadata(kid, spec, "PendingImport"), expected_params={
        "KeyUsage": "SIGN_VERIFY", "KeySpec": spec, "Origin": "EXTERNAL", "Description": ANY})
    wrapping_der = wrapping_private.public_key().public_bytes(serialization.Encoding.DER,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    valid_to = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=24)
    stub.add_response("get_parameters_for_import",
                      {"KeyId": kid, "ImportToken": token, "PublicKey": wrapping_der, "ParametersValidTo": valid_to},
                      expected_params={"KeyId": kid, "WrappingAlgorithm": "RSA_AES_KEY_WRAP_SHA_256",
                                       "WrappingKeySpec": "RSA_4096"})


def stubbed_import(parsed, wrapping_private):
    """Import ``parsed`` through the AWS call sequence; (NativeKey, the private key AWS would unwrap)."""
    driver, client, sent = stub_driver()
    kid, token = str(uuid.uuid4()), os.urandom(64)
    with Stubber(client) as stub:
        expect_import_until_material(stub, parsed, wrapping_private, kid, token)
        stub.add_response("import_key_material", {"KeyId": kid}, expected_params={
            "KeyId": kid, "ImportToken": token, "EncryptedKeyMaterial": ANY,
            "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})
        stub.add_response("create_alias", {}, expected_params={"AliasName": f"alias/{parsed.key_id}",
                                                               "TargetKeyId": kid})
        key = driver.import_key(parsed)
        stub.assert_no_pending_responses()
    assert sent.names() == ["DescribeKey", "CreateKey", "GetParametersForImport", "ImportKeyMaterial", "CreateAlias"]
    assert (key.ref, key.state) == (kid, "Enabled")
    material = dict(sent.calls)["ImportKeyMaterial"]["EncryptedKeyMaterial"]
    der = unwrap(material, wrapping_private)
    assert der == pkcs8_der(parsed.private_key)  # the PKCS#8 DER of the key, exactly
    return key, serialization.load_der_private_key(der, None)
