"""Cloud keys sign only as the recorded key (DESIGN §7.2): AWS KMS and Secrets Manager on moto.

A record pointed at another KMS key or secret must not sign: the engine proves, before
the first signature, that the key behind the reference has the recorded public key
(KMS: GetPublicKey; Secrets Manager: the public key of the fetched private key).
"""

from __future__ import annotations

import pytest

from engines.errors import KeyIntegrityError
from tests.engines.aws.moto_server import SECRET
from tests.service.test_key_integrity import refused_rows, tamper

MESSAGE = b"tbsCertificate"


@pytest.mark.parametrize(("engine_type", "region"), [("AWS_KMS", "me-south-1"), ("AWS_SECRETS_MANAGER", "af-south-1")])
def test_a_record_pointed_at_another_cloud_key_does_not_sign(kms, moto, engine_type, region):
    kms.engines.register(engine_type, "cloud", options=moto.options(region=region), secret=SECRET)
    a = kms.keys.create("ECDSA", 256, "a", engine_id="cloud")
    b = kms.keys.create("ECDSA", 256, "b", engine_id="cloud")
    assert kms.signing.verify("a", "ECDSA_SHA_256", MESSAGE, kms.signing.sign("a", "ECDSA_SHA_256", MESSAGE))
    tamper(kms, "UPDATE keys SET native_ref = ? WHERE name = 'a'", b.native_ref)
    with pytest.raises(KeyIntegrityError) as info:
        kms.signing.sign("a", "ECDSA_SHA_256", MESSAGE)
    assert a.key_id[:16] in info.value.message and b.key_id[:16] in info.value.message
    with pytest.raises(KeyIntegrityError):
        kms.signing.sign_batch("a", "ECDSA_SHA_256", [], emit=lambda *result: None)
    assert [(r.engine_id, r.key_id) for r in refused_rows(kms)] == [("cloud", a.key_id)] * 2
    assert [r.action for r in kms.audit.rows(limit=1000)].count("key.sign") == 1
    report = kms.doctor.run(deep=True)
    assert [f.subject for f in report.open_findings if f.check == "consistency"] == ["a"]


def test_a_pss_signature_from_moto_passes_the_signature_check(kms, moto):
    """moto signs RSA-PSS with the maximum salt (AWS with the hash length): either is the recorded key's."""
    kms.engines.register("AWS_KMS", "cloud", options=moto.options(region="me-central-1"), secret=SECRET)
    kms.keys.create("RSA", 2048, "rsa", engine_id="cloud")
    assert kms.signing.sign("rsa", "RSASSA_PSS_SHA_256", MESSAGE)
