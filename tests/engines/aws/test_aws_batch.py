"""Batch signing on AWS: Secrets Manager fetches the key once per batch; KMS signs each item remotely."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from engines.testing import verify_independently
from kms_tui.batch import read_items
from tests.engines.aws.moto_server import SECRET
from tests.engines.aws.test_aws_service import register_kms


def test_secrets_manager_fetches_the_key_once_per_batch(kms, moto, monkeypatch):
    kms.engines.register("AWS_SECRETS_MANAGER", "aws-sm", options=moto.options(region="ap-south-1"), secret=SECRET)
    kms.keys.create("RSA", 2048, "sm-batch", engine_id="aws-sm")
    driver = kms.context.driver("aws-sm")
    fetches = []
    real = driver._fetch
    monkeypatch.setattr(driver, "_fetch", lambda *a, **k: fetches.append(a) or real(*a, **k))
    messages = [b"csr %d" % i for i in range(12)]
    results = []
    summary = kms.signing.sign_batch("sm-batch", "RSASSA_PSS_SHA_256", read_items([m.hex().encode() for m in messages]),
                             emit=lambda *r: results.append(r))
    assert (summary.signed, len(fetches)) == (12, 1)
    public = serialization.load_pem_public_key(kms.keys.export_public("sm-batch", "pem"))
    for message, (_, _, signature, _) in zip(messages, results, strict=True):
        verify_independently(public, "RSASSA_PSS_SHA_256", message, signature)


def test_kms_batches_sign_each_item_in_the_service(kms, moto):
    register_kms(kms, moto, region="ap-south-2")
    kms.keys.create("ECDSA", 256, "kms-batch", engine_id="aws-kms")
    messages = [b"item %d" % i for i in range(6)]
    results = []
    summary = kms.signing.sign_batch("kms-batch", "ECDSA_SHA_256", read_items([m.hex().encode() for m in messages] + [b"zz"]),
                             emit=lambda *r: results.append(r))
    assert (summary.signed, summary.failed) == (6, 1)
    public = serialization.load_pem_public_key(kms.keys.export_public("kms-batch", "pem"))
    for message, (_, _, signature, _) in zip(messages, results, strict=False):
        verify_independently(public, "ECDSA_SHA_256", message, signature)
