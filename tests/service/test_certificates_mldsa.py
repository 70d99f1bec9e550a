"""ML-DSA certificates from ``kms.certificates`` and ``kms.csr`` on the software engine.

Mixed hierarchies (an ML-DSA CA issuing for a classic key, a classic CA issuing for an ML-DSA
key), the signatureAlgorithm of RFC 9881 (id-ml-dsa-44/65/87, no parameters), a hash asked of an
ML-DSA key refused before anything signs, and pkilint: RFC 5280 in place of its CA/B Forum lints
(which know RSA and ECDSA alone), its real ML-DSA findings still refusing. Chains are checked with
cryptography's X.509 verifier: the Debian OpenSSL 3.0 here cannot read ML-DSA keys.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from engines.errors import InvalidInput
from kms_tui.service import cert_lint, cert_profiles
from kms_tui.service import certificates as certificates_module
from kms_tui.service import x509_draft as D

# DER AlgorithmIdentifier { id-ml-dsa-NN } with the parameters absent (RFC 9881 section 2).
ML_DSA_ALG_ID = {44: bytes.fromhex("300b0609608648016503040311"), 65: bytes.fromhex("300b0609608648016503040312"),
                 87: bytes.fromhex("300b0609608648016503040313")}


def signature_algorithm_element(der: bytes) -> bytes:
    return D.elements(der)[1]


def test_mixed_hierarchies_and_a_hash_asked_of_an_ml_dsa_key(kms, monkeypatch):
    kms.keys.create("ML-DSA", 87, "pq-root")
    kms.keys.create("ECDSA", 384, "ec-root")
    kms.keys.create("ML-DSA", 65, "pq-www")
    kms.keys.create("ECDSA", 256, "ec-www")
    pq_root = kms.certificates.self_signed("pq-root", "/C=ES/O=Example/CN=PQ Root", profile="root-ca", days=3650)
    ec_root = kms.certificates.self_signed("ec-root", "/C=ES/O=Example/CN=EC Root", profile="root-ca", days=3650)
    assert pq_root.signature_algorithm == "ML_DSA_SHAKE_256" and ec_root.lint_notes == []
    assert "know RSA and ECDSA alone" in pq_root.lint_notes[0] and "key (ML-DSA-87)" in pq_root.lint_notes[0]
    chains = {}
    for ca, ca_cert, subject in [("pq-root", pq_root, "ec-www"), ("ec-root", ec_root, "pq-www")]:
        csr = kms.csr.make(subject, f"/C=ES/O=Example/CN={subject}.example.com", [f"dns:{subject}.example.com"],
                           profile="tls-server")
        issued = kms.certificates.issue(ca, ca_cert.data, csr.data, profile="tls-server", days=90)
        leaf = x509.load_pem_x509_certificate(issued.data)
        root = x509.load_pem_x509_certificate(ca_cert.data)
        verifier = (PolicyBuilder().store(Store([root])).time(datetime.now(UTC) + timedelta(minutes=1))
                    .build_server_verifier(x509.DNSName(f"{subject}.example.com")))
        chains[subject] = verifier.verify(leaf, [])
        der = leaf.public_bytes(Encoding.DER)
        assert cert_lint.certificate(der, "cabf-serverauth").errors == cert_lint.certificate(der).errors == []
    pq_leaf_der = chains["pq-www"][0].public_bytes(Encoding.DER)
    spki = D.elements(D.elements(pq_leaf_der)[0])[6]
    assert D.elements(spki)[0] == ML_DSA_ALG_ID[65]  # the subject's key: ML-DSA-65
    assert signature_algorithm_element(chains["ec-www"][0].public_bytes(Encoding.DER)) == ML_DSA_ALG_ID[87]
    assert signature_algorithm_element(x509.load_pem_x509_certificate(pq_root.data).public_bytes(Encoding.DER)) \
        == ML_DSA_ALG_ID[87]
    csr_der = x509.load_pem_x509_csr(kms.csr.make("pq-www", "/CN=pq").data).public_bytes(Encoding.DER)
    assert signature_algorithm_element(csr_der) == ML_DSA_ALG_ID[65]

    signed_before = len(kms.audit.rows(1000, action="key.sign"))
    text = (cert_profiles.PROFILE_DIR / "root-ca.toml").read_text() + 'hash = "SHA384"\n'
    monkeypatch.setattr(certificates_module, "load", lambda name: cert_profiles.parse("root-ca-sha384", text))
    with pytest.raises(InvalidInput, match=r"asks for SHA384, but ML-DSA-87 has no hash to choose") as refused:
        kms.certificates.self_signed("pq-root", "/C=ES/O=Example/CN=PQ Root 2", profile="root-ca-sha384")
    assert "id-ml-dsa-87" in refused.value.message and "nothing was signed" in refused.value.message
    assert len(kms.audit.rows(1000, action="key.sign")) == signed_before
    ec = x509.load_pem_x509_certificate(kms.certificates.self_signed(
        "ec-root", "/C=ES/O=Example/CN=EC Root 2", profile="root-ca-sha384").data)
    assert ec.signature_hash_algorithm.name == "sha384"  # a classic key takes the profile's hash


def test_pkilint_still_refuses_what_rfc_5280_forbids_an_ml_dsa_key():
    """keyEncipherment on an ML-DSA key is an error (draft-ietf-lamps-dilithium-certificates): switching the
    CA/B Forum profile to RFC 5280 for ML-DSA silences nothing RFC 5280's lints find."""
    key = mldsa.MLDSA44PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pq")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, None))
    for lint in ("rfc5280", "cabf-serverauth"):
        report = cert_lint.certificate(cert.public_bytes(Encoding.DER), lint)
        assert report.errors == ["pkix.key_usage_value_prohibited_for_mldsa (Prohibited key usage value(s) "
                                 "present: keyEncipherment)"], report
    assert report.notes and not cert_lint.certificate(cert.public_bytes(Encoding.DER)).notes
