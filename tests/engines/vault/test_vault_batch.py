"""Batch signing on Vault KV v2: the key is read once per batch, then dropped."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from engines.testing import verify_independently
from kms_tui.batch import read_items


def test_vault_reads_the_key_once_per_batch(openbao, lab, mount, kms, monkeypatch):
    kms.engines.register("HASHICORP_VAULT_KV_V2", "vault", options={"address": openbao.address, "mount": mount},
                        secret=lab.full_token)
    kms.keys.create("ECDSA", 384, "vault-batch", engine_id="vault")
    driver = kms.context.driver("vault")
    reads = []
    real = driver._read
    monkeypatch.setattr(driver, "_read", lambda *a, **k: reads.append(a) or real(*a, **k))
    messages = [b"crl %d" % i for i in range(10)]
    results = []
    summary = kms.signing.sign_batch("vault-batch", "ECDSA_SHA_384", read_items([m.hex().encode() for m in messages]),
                             emit=lambda *r: results.append(r))
    assert (summary.signed, len(reads)) == (10, 1)
    public = serialization.load_pem_public_key(kms.keys.export_public("vault-batch", "pem"))
    for message, (_, _, signature, _) in zip(messages, results, strict=True):
        verify_independently(public, "ECDSA_SHA_384", message, signature)
