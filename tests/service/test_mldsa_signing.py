"""ML-DSA through the service: external mu, the digest refusal, batches, Lamassu-shared engines, and
an attacker pointing an ML-DSA record at another ML-DSA key's material."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

from engines import algorithms as A
from engines import keys as K
from engines.errors import InvalidInput, KeyIntegrityError
from kms_tui.batch import BatchItem
from kms_tui.service.compat import LamassuIncompatible


def mu_of(public_key, message: bytes) -> bytes:
    hasher = mldsa.MLDSAMuHasher(public_key)
    hasher.update(message)
    return hasher.finalize()


def test_service_ml_dsa_signing_and_the_lamassu_shared_engine(kms, tmp_path):
    record = kms.keys.create("ML-DSA", 65, "pq")
    assert (record.algorithm, record.size) == (A.ML_DSA, 65)
    public = K.load_public_pem(record.public_key)
    mu = kms.signing.external_mu("pq", iter([b"big ", b"file"]))
    assert mu == mu_of(public, b"big file")
    signature = kms.signing.sign("pq", "ML_DSA_SHAKE_256", mu, "EXTERNAL_MU")
    public.verify(signature, b"big file")
    assert kms.signing.verify("pq", "ML_DSA_SHAKE_256", b"big file", signature)
    assert kms.signing.verify("pq", "ML_DSA_SHAKE_256", mu, signature, "EXTERNAL_MU")
    with pytest.raises(InvalidInput, match="not a digest"):
        kms.signing.sign("pq", "ML_DSA_SHAKE_256", hashlib.sha256(b"x").digest(), "DIGEST")
    emitted = []
    summary = kms.signing.sign_batch("pq", "ML_DSA_SHAKE_256", [BatchItem(n, n + 1, b"m%d" % n) for n in range(5)],
                                     emit=lambda *result: emitted.append(result))
    assert summary.signed == 5 and len(emitted) == 5
    with pytest.raises(InvalidInput, match="ML-DSA keys"):
        kms.signing.external_mu(kms.keys.create("ECDSA", 256, "ec").name, [b"m"])
    # An engine shared with Lamassu offers only what Lamassu can use: never ML-DSA.
    kms.engines.register("GOLANG", "shared", options={"directory": str(tmp_path / "shared"), "lamassu": "true",
                                                      "encrypt": "false"})
    assert set(kms.engines.supported_key_types("shared")) == {A.RSA, A.ECDSA}
    with pytest.raises(LamassuIncompatible):
        kms.keys.create("ML-DSA", 65, "pq-shared", engine_id="shared")


def test_an_ml_dsa_record_pointed_at_another_ml_dsa_key_does_not_sign(kms):
    """Someone with write access to kms.db points an imported ML-DSA key's record at another ML-DSA key's file."""
    imported = kms.keys.import_key(K.private_pkcs8_pem(K.generate(A.ML_DSA, 65)), "victim")
    other = kms.keys.create("ML-DSA", 65, "other")
    assert kms.signing.sign("victim", "ML_DSA_SHAKE_256", b"m")  # proven and kept for the process
    conn = sqlite3.connect(str(kms.context.store.path), isolation_level=None)
    try:
        conn.execute("UPDATE keys SET native_ref = ? WHERE name = 'victim'", (other.native_ref,))
    finally:
        conn.close()
    signs_before = [r.action for r in kms.audit.rows(limit=1000)].count("key.sign")
    mu = kms.signing.external_mu("victim", [b"m"])
    for attempt in (lambda: kms.signing.sign("victim", "ML_DSA_SHAKE_256", b"m"),
                    lambda: kms.signing.sign("victim", "ML_DSA_SHAKE_256", mu, "EXTERNAL_MU"),
                    lambda: kms.signing.sign_batch("victim", "ML_DSA_SHAKE_256", [BatchItem(0, 1, b"m")],
                                                   emit=lambda *result: None)):
        with pytest.raises(KeyIntegrityError) as caught:
            attempt()
        assert imported.key_id[:16] in caught.value.message or "another public key" in str(caught.value)
    rows = [r.action for r in kms.audit.rows(limit=1000)]
    assert rows.count("key.sign") == signs_before and "key.sign_batch" not in rows
    assert rows.count("key.integrity_failure") >= 3
    with pytest.raises(InvalidSignature):  # the material really is another key
        K.load_public_pem(imported.public_key).verify(kms.signing.sign("other", "ML_DSA_SHAKE_256", b"m"), b"m")
