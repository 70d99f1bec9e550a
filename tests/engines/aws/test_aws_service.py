"""The AWS engines through the Kms service: registration, sync adoption, deletion, an outage.

The service self-tests a new key with the algorithm natural to it (each curve with its
own hash), which is also the one KMS signs RAW; another hash on P-384/P-521 would go as a
DIGEST, which moto hashes again (AWS does not).
"""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engines.aws.errors import KeyNotEnabled
from engines.errors import EngineAuthError, EngineUnavailable
from tests.engines.aws.moto_server import SECRET, MotoServer, iam_user, run_bounded
from tests.engines.aws.support import lamassu_secret


def register_kms(kms, server, engine_id="aws-kms", **options):
    return kms.engines.register("AWS_KMS", engine_id, options=server.options(**options), secret=SECRET)


def test_register_keeps_the_secret_in_the_keyring_only(kms, moto, memory_keyring):
    view = register_kms(kms, moto, region="ap-south-1")
    assert view.record.supported_key_types == {"RSA": [2048, 3072, 4096], "ECDSA": [256, 384, 521],
                                               "Ed25519": [256], "ML-DSA": [44, 65, 87]}
    assert (view.record.security_level, view.display) == (1, "AWS KMS")
    assert SECRET in memory_keyring.entries.values()
    assert SECRET not in json.dumps(view.record.to_json())
    record = kms.keys.create("RSA", 3072, "issuing-ca", engine_id="aws-kms")
    signature = kms.signing.sign("issuing-ca", "RSASSA_PKCS1_V1_5_SHA_384", b"tbs certificate")
    assert kms.signing.verify("issuing-ca", "RSASSA_PKCS1_V1_5_SHA_384", b"tbs certificate", signature)
    assert kms.signing.verify("issuing-ca", "RSASSA_PKCS1_V1_5_SHA_384", b"tbs certificate", signature, through_engine=True)
    assert record.state == "Enabled" and record.strength == "HIGH"
    p384 = kms.keys.create("ECDSA", 384, "p384", engine_id="aws-kms")  # self-tested with ECDSA_SHA_384, RAW
    assert kms.signing.verify("p384", "ECDSA_SHA_384", b"m", kms.signing.sign("p384", "ECDSA_SHA_384", b"m"))
    aws = moto.client("kms", "ap-south-1")
    states = {aws.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in aws.list_keys()["Keys"]}
    assert states == {"Enabled"} and [r.name for r in kms.keys.list()] == ["issuing-ca", "p384"]
    assert p384.strength == "HIGH"
    for path in kms.data_dir.rglob("*"):  # SQLite, its WAL, logs, key directories
        assert not path.is_file() or SECRET.encode() not in path.read_bytes()


def test_wrong_credentials_record_nothing(kms, fresh):
    with iam_user(fresh, "kms:ListKeys") as (key_id, _), pytest.raises(EngineAuthError):
        kms.engines.register("AWS_KMS", "aws-bad", options=fresh.options(access_key_id=key_id), secret="wrong")
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]


def test_sync_adopts_kms_keys_made_elsewhere(kms, moto):
    aws = moto.client("kms", "ap-northeast-1")
    plain = aws.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P384")["KeyMetadata"]["KeyId"]
    named = aws.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
    aws.create_alias(AliasName="alias/ca-root", TargetKeyId=named)
    aws.create_key(KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT")  # not a signing key
    gone = aws.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    aws.schedule_key_deletion(KeyId=gone, PendingWindowInDays=7)
    key_ids = {kid: hashlib.sha256(aws.get_public_key(KeyId=kid)["PublicKey"]).hexdigest() for kid in (plain, named)}
    register_kms(kms, moto, region="ap-northeast-1")
    (report,) = kms.inventory.sync("aws-kms")
    assert sorted(report.adopted) == sorted(key_ids.values()) and report.seen == 2
    assert kms.keys.resolve("ca-root").key_id == key_ids[named]  # named after its other alias
    signature = kms.signing.sign(key_ids[plain], "ECDSA_SHA_384", b"adopted")
    public = serialization.load_pem_public_key(kms.keys.resolve(key_ids[plain]).public_key.encode())
    public.verify(signature, b"adopted", ec.ECDSA(hashes.SHA384()))
    aws.disable_key(KeyId=plain)
    (again,) = kms.inventory.sync("aws-kms", full=True)  # a plain sync only lists the keys it knows
    assert again.adopted == [] and again.unchanged == 2
    assert kms.keys.resolve(key_ids[plain]).state == "Disabled"


def test_sync_adopts_a_secret_written_by_hand(kms, moto):
    private = ec.generate_private_key(ec.SECP256R1())
    key_id = hashlib.sha256(private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()
    aws = moto.client("secretsmanager", "sa-east-1")
    aws.create_secret(Name=key_id, SecretString=lamassu_secret(private))
    aws.create_secret(Name="database-password", SecretString="hunter2")
    kms.engines.register("AWS_SECRETS_MANAGER", "aws-sm", options=moto.options(region="sa-east-1"), secret=SECRET)
    (report,) = kms.inventory.sync("aws-sm")
    assert report.adopted == [key_id] and report.seen == 1
    signature = kms.signing.sign(key_id, "ECDSA_SHA_256", b"adopted")
    private.public_key().verify(signature, b"adopted", ec.ECDSA(hashes.SHA256()))
    for path in kms.data_dir.rglob("*"):  # the fetched private key went nowhere on disk
        if path.is_file():
            assert lamassu_secret(private).encode()[10:60] not in path.read_bytes()


def test_kms_delete_window_and_key_actions(kms, moto):
    register_kms(kms, moto, region="eu-north-1")
    kms.keys.create("ECDSA", 256, "short-lived", engine_id="aws-kms")
    assert kms.keys.actions("short-lived") == {
        "cancel-deletion": "cancel a scheduled deletion (AWS leaves the key Disabled)",
        "enable": "enable the key so that it signs again", "disable": "disable the key: it cannot sign until enabled"}
    record = kms.keys.delete("short-lived", options={"pending_window_days": "7"})
    assert record.state == "PendingDeletion" and kms.keys.resolve("short-lived").state == "PendingDeletion"
    assert kms.keys.run_action("short-lived", "cancel-deletion").state == "Disabled"
    with pytest.raises(KeyNotEnabled, match="Disabled"):
        kms.signing.sign("short-lived", "ECDSA_SHA_256", b"m")
    assert kms.keys.run_action("short-lived", "enable").state == "Enabled"
    assert kms.signing.sign("short-lived", "ECDSA_SHA_256", b"m")


def test_secrets_delete_restore_and_force(kms, moto):
    kms.engines.register("AWS_SECRETS_MANAGER", "aws-sm", options=moto.options(region="eu-west-3", prefix="kt/"),
                        secret=SECRET)
    kms.keys.create("Ed25519", 256, "ed", engine_id="aws-sm")
    assert kms.keys.delete("ed").state == "PendingDeletion"
    assert kms.keys.run_action("ed", "restore").state is None
    assert kms.signing.sign("ed", "ED25519", b"m")
    kms.keys.delete("ed", options={"force": "true"})
    assert kms.keys.list() == []


def test_an_outage_fails_within_the_timeouts_and_passes(kms, tmp_path):
    """A hung endpoint (moto frozen) and a stopped one (moto killed, then started again on its port)."""
    server = MotoServer(tmp_path / "moto").start()
    try:
        register_kms(kms, server, "aws-out", connect_timeout="1", read_timeout="1", max_attempts="2")
        kms.keys.create("ECDSA", 256, "out", engine_id="aws-out")
        signature = kms.signing.sign("out", "ECDSA_SHA_256", b"m")
        budget = 2 * (1 + 1) + 4 + 10  # attempts x (connect + read), backoff, margin
        server.freeze()
        try:
            _, error = run_bounded(lambda: kms.signing.sign("out", "ECDSA_SHA_256", b"m"), budget)
            assert isinstance(error, EngineUnavailable)
            assert server.url in error.message and "did not answer within 1 s" in error.message
            kms.keys.create("Ed25519", 256, "soft")  # the default software engine does not care
            assert kms.signing.sign("soft", "ED25519", b"m")
            assert kms.signing.verify("out", "ECDSA_SHA_256", b"m", signature)  # offline, from the stored public key
        finally:
            server.resume()
        assert kms.signing.sign("out", "ECDSA_SHA_256", b"m")  # the same key, back again
        server.stop()
        _, error = run_bounded(lambda: kms.signing.sign("out", "ECDSA_SHA_256", b"m"), budget)
        assert isinstance(error, EngineUnavailable) and "refused" in error.message
        assert not kms.engines.test("aws-out").reachable
        server.start()  # same port; moto keeps keys in memory, so this one starts empty
        assert kms.engines.test("aws-out").reachable
        kms.keys.create("ECDSA", 256, "after", engine_id="aws-out")
        assert kms.signing.sign("after", "ECDSA_SHA_256", b"m")
    finally:
        server.stop()
