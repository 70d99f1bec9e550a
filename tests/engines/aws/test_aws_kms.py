"""AWS KMS beyond the contract: what is sent to KMS, key states, deletion, listing by pages."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from engines import algorithms as A
from engines import keys as K
from engines.aws.errors import KeyNotEnabled, KeyPendingDeletion, KeyStateConflict
from engines.aws.kms_keys import kms_request
from engines.errors import EngineConfigError, KeyNotFoundInEngine, OperationNotSupported
from engines.testing import raises_kms
from tests.engines.aws.moto_server import Sent, kms_engine

HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
ALG = A.signing_algorithm


def sign_calls(sent: Sent) -> list[tuple[str, str, bytes]]:
    return [(p["SigningAlgorithm"], p["MessageType"], p["Message"]) for op, p in sent.calls if op == "Sign"]


@pytest.fixture(scope="module")
def kms(moto):
    with kms_engine(moto, "aws-kms-module", region="us-west-2") as driver:
        driver.sent = Sent(driver._conn.client())
        yield driver


# ---------------------------------------------------------------- signatures


@pytest.mark.parametrize(("algorithm", "size", "name"), [
    ("ECDSA", 256, "ECDSA_SHA_256"), ("ECDSA", 521, "ECDSA_SHA_512"), ("RSA", 2048, "RSASSA_PKCS1_V1_5_SHA_384"),
])
def test_a_kms_key_signs_and_verifies_against_get_public_key(moto, kms, algorithm, size, name):
    key = kms.create(algorithm, size)
    signature = kms.sign(key.ref, ALG(name), b"issue this certificate", A.MessageType.RAW)
    aws = moto.client("kms", "us-west-2")
    der = aws.get_public_key(KeyId=key.ref)["PublicKey"]
    public = serialization.load_der_public_key(der)
    h = HASH[name[-3:]]()
    if algorithm == "ECDSA":
        public.verify(signature, b"issue this certificate", ec.ECDSA(h))
    else:
        public.verify(signature, b"issue this certificate", padding.PKCS1v15(), h)
    assert key.key_id == hashlib.sha256(der).hexdigest()
    aliases = aws.list_aliases(KeyId=key.ref)["Aliases"]
    assert [a["AliasName"] for a in aliases] == [f"alias/{key.key_id}"]  # Lamassu's layout


def aws_signs(private, wire_alg: str, message_type: str, message: bytes) -> bytes:
    """AWS KMS Sign semantics: RAW is hashed by KMS, DIGEST is signed as it is (PSS salt = hash length)."""
    h = HASH[wire_alg[-3:]]()
    chosen = Prehashed(h) if message_type == "DIGEST" else h
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return private.sign(message, ec.ECDSA(chosen))
    pad = (padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size) if "PSS" in wire_alg else padding.PKCS1v15())
    return private.sign(message, pad, chosen)


@pytest.mark.parametrize("private", [
    rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP384R1()),
    ec.generate_private_key(ec.SECP521R1()),
], ids=["RSA-2048", "P-256", "P-384", "P-521"])
def test_kms_requests_sign_what_was_asked_with_aws_semantics(private):
    """moto re-hashes DIGESTs, so AWS's behaviour is reproduced here with cryptography."""
    algorithm, size = K.describe(private)
    for name in A.algorithms_for_key(algorithm):
        for message in (b"", b"m" * 4096, b"m" * 4097):
            digest = hashlib.new("sha" + name[-3:], message).digest()
            for message_type, data in (("RAW", message), ("DIGEST", digest)):
                wire = kms_request(ALG(name), algorithm, size, data, message_type)
                if algorithm == "ECDSA":  # KMS takes only the curve's own hash
                    assert wire[0] == {256: "ECDSA_SHA_256", 384: "ECDSA_SHA_384", 521: "ECDSA_SHA_512"}[size]
                assert K.verify_with(private.public_key(), ALG(name), message, A.MessageType.RAW,
                                     aws_signs(private, *wire)), (name, message_type, len(message))


def test_long_and_empty_messages_go_as_digests(kms):
    key = kms.create("RSA", 2048)
    name = "RSASSA_PKCS1_V1_5_SHA_256"
    for message, wire_type in ((b"x" * 4096, "RAW"), (b"x" * 4097, "DIGEST"), (b"", "DIGEST")):
        kms.sent.clear()
        signature = kms.sign(key.ref, ALG(name), message, A.MessageType.RAW)
        wire = hashlib.sha256(message).digest() if wire_type == "DIGEST" else message
        assert sign_calls(kms.sent) == [(name, wire_type, wire)]
        # moto signs the Message as RAW even for a DIGEST (AWS would sign the digest itself)
        key.public_key.verify(signature, wire, padding.PKCS1v15(), hashes.SHA256())


def test_native_verify(kms):
    key = kms.create("ECDSA", 384)
    for name, message_type, data in (("ECDSA_SHA_384", "RAW", b"m"), ("ECDSA_SHA_256", "RAW", b"m"),
                                     ("ECDSA_SHA_384", "DIGEST", hashlib.sha384(b"m").digest())):
        signature = kms.sign(key.ref, ALG(name), data, A.MessageType(message_type))
        assert kms.verify(key.ref, ALG(name), data, A.MessageType(message_type), signature)
        assert not kms.verify(key.ref, ALG(name), data, A.MessageType(message_type),
                              K.ecdsa_raw_to_der(b"\x01" * 96))


# ---------------------------------------------------------------- states and deletion


def test_disabled_keys_do_not_sign(kms):
    key = kms.create("ECDSA", 256)
    assert kms.key_action(key.ref, "disable").state == "Disabled"
    assert kms.get(key.ref).state == "Disabled"
    assert [k.state for k in kms.inventory() if k.ref == key.ref] == ["Disabled"]
    kms.sent.clear()
    with raises_kms(KeyNotEnabled) as info:
        kms.sign(key.ref, ALG("ECDSA_SHA_256"), b"m", A.MessageType.RAW)
    assert "Disabled" in info.value.message and "enable" in info.value.hint
    assert sign_calls(kms.sent) == []  # refused before KMS is asked (moto would sign anyway)
    assert kms.key_action(key.ref, "enable").state == "Enabled"
    assert kms.sign(key.ref, ALG("ECDSA_SHA_256"), b"m", A.MessageType.RAW)


def test_pending_deletion_and_cancel(moto, kms):
    key = kms.create("ECDSA", 256)
    assert kms.delete(key.ref, pending_window_days="7") == "PendingDeletion"
    meta = moto.client("kms", "us-west-2").describe_key(KeyId=key.ref)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    days = (meta["DeletionDate"] - datetime.datetime.now(meta["DeletionDate"].tzinfo)).days
    assert days in (6, 7)
    for call in (lambda: kms.get(key.ref), lambda: kms.sign(key.ref, ALG("ECDSA_SHA_256"), b"m", A.MessageType.RAW),
                 lambda: kms.key_action(key.ref, "enable"), lambda: kms.delete(key.ref)):
        with raises_kms(KeyPendingDeletion) as info:
            call()
        assert "pending deletion" in info.value.message
    assert key.ref not in {k.ref for k in kms.inventory()}
    view = kms.key_action(key.ref, "cancel-deletion")
    assert (view.state, view.key_id) == ("Disabled", key.key_id)  # AWS leaves it disabled
    with raises_kms(KeyStateConflict):
        kms.key_action(key.ref, "cancel-deletion")
    kms.key_action(key.ref, "enable")
    signature = kms.sign(key.ref, ALG("ECDSA_SHA_256"), b"m", A.MessageType.RAW)
    key.public_key.verify(signature, b"m", ec.ECDSA(hashes.SHA256()))


def test_discard_uses_the_shortest_window_aws_allows(moto, kms):
    key = kms.create("ECDSA", 256)
    kms.discard(key.ref)
    meta = moto.client("kms", "us-west-2").describe_key(KeyId=key.ref)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    assert (meta["DeletionDate"] - datetime.datetime.now(meta["DeletionDate"].tzinfo)).days in (6, 7)


def test_delete_options_are_checked_before_anything_changes(moto, kms):
    key = kms.create("ECDSA", 256)
    for options in ({"pending_window_days": "6"}, {"pending_window_days": "31"}, {"pending_window_days": "x"},
                    {"pending_window_days": "-7"}, {"window": "7"}):
        with raises_kms(EngineConfigError):
            kms.delete(key.ref, **options)
    assert kms.get(key.ref).state == "Enabled"
    with raises_kms(OperationNotSupported):
        kms.key_action(key.ref, "purge")


HOSTILE_REFS = ["../../etc/passwd", "alias/aws/ebs", "a" * 10000, "", "0" * 64, "arn:aws:kms:us-east-1:1:key/x",
                "12345678-1234-1234-1234-1234567890ab\n", None, 12345]


def test_hostile_refs_are_never_sent(kms):
    kms.sent.clear()
    for ref in HOSTILE_REFS:
        for call in (lambda r=ref: kms.get(r), lambda r=ref: kms.delete(r), lambda r=ref: kms.key_action(r, "enable"),
                     lambda r=ref: kms.sign(r, ALG("ECDSA_SHA_256"), b"m", A.MessageType.RAW)):
            with raises_kms(KeyNotFoundInEngine) as info:
                call()
            assert len(info.value.message) < 200
    assert kms.sent.calls == []


def test_a_key_arn_is_accepted_as_a_reference(kms):
    key = kms.create("ECDSA", 256)
    assert kms.get(key.extra["arn"]).ref == key.ref


# ---------------------------------------------------------------- listing


def test_inventory_costs_list_calls_and_one_public_key_read_per_key(fresh):
    with kms_engine(fresh) as maker:
        made = {maker.create("ECDSA", 256).key_id for _ in range(5)}
    with kms_engine(fresh) as driver:
        sent = Sent(driver._conn.client())
        assert {k.key_id for k in driver.inventory()} == made
        # moto ignores Limit and answers every listing in one page; paging is checked with the Stubber below
        assert (sent.count("ListAliases"), sent.count("ListKeys")) == (1, 1)
        assert dict(sent.calls)["ListKeys"]["Limit"] == driver._page_size
        assert (sent.count("DescribeKey"), sent.count("GetPublicKey")) == (5, 5)
        sent.clear()
        assert {k.key_id for k in driver.inventory()} == made
        assert (sent.count("DescribeKey"), sent.count("GetPublicKey")) == (5, 0)  # public keys never change
