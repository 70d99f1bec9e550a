"""AWS KMS answers that moto never gives, played through botocore's Stubber on the driver's client.

moto answers every listing in one page (it ignores Limit and Marker), shows the public key
of disabled keys, and never refuses a key for its state; AWS does all three.
"""

from __future__ import annotations

import hashlib
import logging
import uuid

from botocore.stub import Stubber
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engines import algorithms as A
from engines.aws.errors import AwsThrottled, KeyNotEnabled, KeyPendingDeletion
from engines.errors import EngineUnavailable, KeyNotFoundInEngine
from engines.testing import raises_kms, spki_sha256
from tests.engines.aws.support import stub_driver

ALG = A.signing_algorithm


def describe(kid: str, spec: str = "ECC_NIST_P256", state: str = "Enabled", usage: str = "SIGN_VERIFY") -> dict:
    return {"KeyMetadata": {"KeyId": kid, "Arn": f"arn:aws:kms:us-east-1:123456789012:key/{kid}", "KeyState": state,
                            "KeySpec": spec, "KeyUsage": usage, "KeyManager": "CUSTOMER"}}


def test_inventory_follows_every_page(caplog):
    """Two pages of aliases and of keys; a symmetric key and one AWS will not show are left out."""
    driver, client, sent = stub_driver()
    driver._page_size, driver._workers = 2, 1  # one worker: the Stubber answers in order
    privates = [ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]
    ders = [p.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            for p in privates]
    k1, k2, k3, k4 = (str(uuid.uuid4()) for _ in range(4))
    key_id_1 = hashlib.sha256(ders[0]).hexdigest()
    with Stubber(client) as stub:
        stub.add_response("list_aliases", {"Aliases": [{"AliasName": f"alias/{key_id_1}", "TargetKeyId": k1},
                                                       {"AliasName": "alias/aws/ebs", "TargetKeyId": k2}],
                                           "Truncated": True, "NextMarker": "a2"}, {"Limit": 2})
        stub.add_response("list_aliases", {"Aliases": [{"AliasName": "alias/ca-root", "TargetKeyId": k4}],
                                           "Truncated": False}, {"Limit": 2, "Marker": "a2"})
        stub.add_response("list_keys", {"Keys": [{"KeyId": k1}, {"KeyId": k2}], "Truncated": True,
                                        "NextMarker": "k2"}, {"Limit": 2})
        stub.add_response("describe_key", describe(k1), {"KeyId": k1})
        stub.add_response("get_public_key", {"KeyId": k1, "PublicKey": ders[0]}, {"KeyId": k1})
        stub.add_response("describe_key", describe(k2, "SYMMETRIC_DEFAULT", usage="ENCRYPT_DECRYPT"), {"KeyId": k2})
        stub.add_response("list_keys", {"Keys": [{"KeyId": k3}, {"KeyId": k4}], "Truncated": False},
                          {"Limit": 2, "Marker": "k2"})
        stub.add_response("describe_key", describe(k3, state="Disabled"), {"KeyId": k3})
        stub.add_client_error("get_public_key", "DisabledException", f"{k3} is disabled.",
                              expected_params={"KeyId": k3})
        stub.add_response("describe_key", describe(k4, "ECC_NIST_P256"), {"KeyId": k4})
        stub.add_response("get_public_key", {"KeyId": k4, "PublicKey": ders[1]}, {"KeyId": k4})
        with caplog.at_level(logging.WARNING, logger="engines.aws.kms"):
            listed = list(driver.inventory())
        stub.assert_no_pending_responses()
    assert [(k.ref, k.key_id) for k in listed] == [(k1, key_id_1), (k4, spki_sha256(privates[1].public_key()))]
    assert listed[1].extra["label"] == "ca-root" and "label" not in listed[0].extra
    assert k3 in caplog.text and "Disabled" in caplog.text


def test_aws_state_and_service_errors_are_translated():
    driver, client, _ = stub_driver()
    kid = str(uuid.uuid4())
    cases = [("DisabledException", KeyNotEnabled), ("KMSInvalidStateException", KeyPendingDeletion),
             ("ThrottlingException", AwsThrottled), ("KMSInternalException", EngineUnavailable),
             ("NotFoundException", KeyNotFoundInEngine)]
    with Stubber(client) as stub:
        for code, _ in cases:
            stub.add_response("describe_key", describe(kid), {"KeyId": kid})
            message = f"arn:aws:kms:us-east-1:123456789012:key/{kid} is pending deletion."
            stub.add_client_error("sign", code, message, http_status_code=500 if "Internal" in code else 400)
        for _, kind in cases:
            with raises_kms(kind):
                driver.sign(kid, ALG("ECDSA_SHA_256"), b"m", A.MessageType.RAW)
        stub.add_response("describe_key", describe(kid), {"KeyId": kid})
        stub.add_client_error("verify", "KMSInvalidSignatureException", "")
        assert driver.verify(kid, ALG("ECDSA_SHA_256"), b"m", A.MessageType.RAW, b"0") is False
        stub.assert_no_pending_responses()


def test_after_a_cancel_on_aws_the_key_is_named_by_its_alias():
    """AWS will not show the public key of the Disabled key a cancel leaves (moto does)."""
    driver, client, _ = stub_driver()
    kid, key_id = str(uuid.uuid4()), "c0" * 32
    with Stubber(client) as stub:
        stub.add_response("describe_key", describe(kid, state="PendingDeletion"), {"KeyId": kid})
        stub.add_response("cancel_key_deletion", {"KeyId": kid}, {"KeyId": kid})
        stub.add_response("describe_key", describe(kid, state="Disabled"), {"KeyId": kid})
        stub.add_client_error("get_public_key", "DisabledException", "disabled", expected_params={"KeyId": kid})
        stub.add_response("list_aliases", {"Aliases": [{"AliasName": "alias/other", "TargetKeyId": kid},
                                                       {"AliasName": f"alias/{key_id}", "TargetKeyId": kid}]},
                          {"KeyId": kid})
        view = driver.key_action(kid, "cancel-deletion")
        stub.assert_no_pending_responses()
    assert (view.ref, view.key_id, view.state, view.public_key) == (kid, key_id, "Disabled", None)
    assert (view.algorithm, view.size) == ("ECDSA", 256)
