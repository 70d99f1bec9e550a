"""AWS Secrets Manager beyond the contract: Lamassu's layout byte for byte, deletion, listing."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from engines import algorithms as A
from engines import keys as K
from engines.aws.errors import KeyPendingDeletion, KeyStateConflict
from engines.errors import (
    EngineConfigError,
    KeyExists,
    KeyNotFoundInEngine,
    KeyParseError,
    OperationNotSupported,
)
from engines.testing import raises_kms, spki_sha256, verify_independently
from tests.engines.aws.moto_server import Sent, iam_user, secrets_engine
from tests.engines.aws.support import lamassu_secret

SENTINEL = "SENTINEL-5c1e-never-logged"


@pytest.fixture(scope="module")
def sm(moto):
    with secrets_engine(moto, "aws-sm-module", region="ca-central-1") as driver:
        yield driver


def test_secrets_are_written_in_lamassus_layout_byte_for_byte(moto, sm):
    for algorithm, size in (("ECDSA", 256), ("Ed25519", 256), ("RSA", 2048)):
        key = sm.create(algorithm, size)
        assert key.ref == key.key_id  # no prefix: the secret is named by the key id
        stored = moto.client("secretsmanager", "ca-central-1").get_secret_value(SecretId=key.key_id)["SecretString"]
        pem = base64.b64decode(json.loads(stored)["key"])
        private = serialization.load_pem_private_key(pem, None)
        assert stored == lamassu_secret(private)
        assert spki_sha256(private.public_key()) == key.key_id


@pytest.mark.parametrize("private", [
    ec.generate_private_key(ec.SECP384R1()), ed25519.Ed25519PrivateKey.generate(),
    rsa.generate_private_key(public_exponent=65537, key_size=2048),
], ids=["P-384", "Ed25519", "RSA-2048"])
def test_keys_lamassu_wrote_are_read_and_sign(moto, private):
    key_id = spki_sha256(private.public_key())
    aws = moto.client("secretsmanager", "ca-central-1")
    aws.create_secret(Name=f"lamassu/{key_id}", SecretString=lamassu_secret(private))
    with secrets_engine(moto, region="ca-central-1", prefix="lamassu/") as driver:
        assert key_id in {k.key_id for k in driver.inventory()}
        native = driver.get(f"lamassu/{key_id}")
        assert native.key_id == key_id
        name = A.algorithms_for_key(native.algorithm)[-1]
        signature = driver.sign(native.ref, A.signing_algorithm(name), b"m", A.MessageType.RAW)
        verify_independently(private.public_key(), name, b"m", signature)


def test_prefix_keeps_engines_apart_and_other_secrets_are_left_alone(fresh, caplog):
    aws = fresh.client("secretsmanager")
    good = ec.generate_private_key(ec.SECP256R1())
    aws.create_secret(Name="db-password", SecretString=SENTINEL)
    aws.create_secret(Name="pki/readme", SecretString=SENTINEL)
    aws.create_secret(Name="pki/" + "ab" * 32, SecretString=json.dumps({"key": SENTINEL}))
    aws.create_secret(Name="pki/" + "cd" * 32, SecretString="[" * 60_000)  # nested deeper than JSON reads
    aws.create_secret(Name="pki/" + spki_sha256(good.public_key()), SecretString=lamassu_secret(good))
    with secrets_engine(fresh, prefix="pki/") as pki, secrets_engine(fresh) as plain:
        mine = plain.create("Ed25519", 256)
        with caplog.at_level(logging.WARNING, logger="engines.aws.secrets_manager"):
            assert [k.key_id for k in pki.inventory()] == [spki_sha256(good.public_key())]
            assert [k.key_id for k in plain.inventory()] == [mine.key_id]
        assert "pki/readme" in caplog.text and "pki/" + "ab" * 32 in caplog.text
        assert "db-password" not in caplog.text and SENTINEL not in caplog.text
        with raises_kms(KeyParseError) as info:
            pki.get("pki/" + "ab" * 32)
        assert SENTINEL not in str(info.value)
        with raises_kms(KeyParseError):
            pki.get("pki/" + "cd" * 32)
        with raises_kms(KeyNotFoundInEngine):
            pki.get(mine.ref)  # outside its prefix: never asked for


def test_delete_restore_and_force(moto, sm):
    aws = moto.client("secretsmanager", "ca-central-1")
    key = sm.create("ECDSA", 256)
    for options in ({"recovery_window_days": "6"}, {"recovery_window_days": "31"}, {"force": "maybe"},
                    {"recovery": "7"}):
        with raises_kms(EngineConfigError):
            sm.delete(key.ref, **options)
    assert sm.delete(key.ref, recovery_window_days="30") == "PendingDeletion"
    assert aws.describe_secret(SecretId=key.ref)["DeletedDate"]
    for call in (lambda: sm.get(key.ref), lambda: sm.delete(key.ref), lambda: sm.delete(key.ref, force="true"),
                 lambda: sm.sign(key.ref, A.signing_algorithm("ECDSA_SHA_256"), b"m", A.MessageType.RAW)):
        with raises_kms(KeyPendingDeletion) as info:
            call()
        assert "restore" in str(info.value).lower()
    assert key.ref not in {k.ref for k in sm.inventory()}
    restored = sm.key_action(key.ref, "restore")
    assert (restored.key_id, restored.state) == (key.key_id, None)
    with raises_kms(KeyStateConflict):
        sm.key_action(key.ref, "restore")
    with raises_kms(OperationNotSupported):
        sm.key_action(key.ref, "purge")
    assert sm.delete(key.ref, force="true") is None
    assert aws.list_secrets(IncludePlannedDeletion=True, Filters=[{"Key": "name", "Values": [key.ref]}])["SecretList"] == []
    for call in (lambda: sm.delete(key.ref), lambda: sm.delete(key.ref, force="true"), lambda: sm.get(key.ref)):
        with raises_kms(KeyNotFoundInEngine):
            call()


def test_discard_leaves_nothing_recoverable(moto, sm):
    key = sm.create("ECDSA", 256)
    sm.discard(key.ref)
    aws = moto.client("secretsmanager", "ca-central-1")
    assert aws.list_secrets(IncludePlannedDeletion=True, Filters=[{"Key": "name", "Values": [key.ref]}])["SecretList"] == []


def test_a_deleted_key_cannot_be_created_again_until_restored(sm):
    private = ec.generate_private_key(ec.SECP256R1())
    parsed = K.parse_key(K.private_pkcs8_pem(private))
    key = sm.import_key(parsed)
    sm.delete(key.ref)
    with raises_kms(KeyExists):
        sm.import_key(parsed)


def test_inventory_reads_by_pages_and_batches(fresh):
    with secrets_engine(fresh) as maker:
        made = {maker.create("ECDSA", 256).key_id for _ in range(7)}
    with secrets_engine(fresh) as driver:
        driver._page_size = 3
        sent = Sent(driver._conn.client())
        assert {k.key_id for k in driver.inventory()} == made
        assert sent.count("ListSecrets") == 3  # 3 + 3 + 1
        assert [p["MaxResults"] for op, p in sent.calls if op == "ListSecrets"] == [3, 3, 3]
        assert (sent.count("BatchGetSecretValue"), sent.count("GetSecretValue")) == (3, 0)
        sent.clear()
        assert {k.key_id for k in driver.inventory()} == made
        assert sent.names() == ["ListSecrets"] * 3  # unchanged versions are not read again


def test_without_batch_permission_secrets_are_read_one_by_one(fresh):
    with secrets_engine(fresh) as maker:
        made = {maker.create("Ed25519", 256).key_id for _ in range(3)}
    with iam_user(fresh, "secretsmanager:ListSecrets", "secretsmanager:GetSecretValue") as (key_id, secret):
        driver = secrets_engine(fresh, secret=secret, access_key_id=key_id)
        sent = Sent(driver._conn.client())
        assert {k.key_id for k in driver.inventory()} == made
        assert (sent.count("BatchGetSecretValue"), sent.count("GetSecretValue")) == (1, 3)


def test_no_private_key_is_kept_by_the_driver(moto, sm):
    key = sm.create("RSA", 2048)
    sm.sign(key.ref, A.signing_algorithm("RSASSA_PSS_SHA_256"), b"m", A.MessageType.RAW)
    list(sm.inventory())
    held = [v for v in vars(sm).values()] + list(sm._public.values()) + [vars(n) for n in sm._public.values()]
    assert not any(isinstance(v, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey))
                   for v in held)
    assert all(not hasattr(n, "private_key") for n in sm._public.values())
    assert "PRIVATE KEY" not in repr(vars(sm)) and "testing-secret" not in repr(vars(sm))
