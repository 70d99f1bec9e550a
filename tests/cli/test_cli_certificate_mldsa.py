"""``kms-tui keys certificate`` / ``keys csr`` / ``keys issue`` with ML-DSA keys on the software engine.

The chain is checked with cryptography's X.509 verifier, not OpenSSL: the Debian OpenSSL 3.0
here cannot read ML-DSA keys ("unable to load Public Key").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import PolicyBuilder, Store

from kms_tui.service import cert_lint

ROOT = "/C=ES/O=Example/CN=Example PQ Root"


def test_an_ml_dsa_65_root_issues_an_ml_dsa_44_server_certificate(cli, tmp_path):
    cli("keys", "create", "--algorithm", "ML-DSA", "--size", "65", "--name", "pq-root")
    cli("keys", "create", "--algorithm", "ML-DSA", "--size", "44", "--name", "pq-www")
    root, csr, issued = tmp_path / "root.pem", tmp_path / "www.csr", tmp_path / "www.pem"
    made = cli("keys", "certificate", "pq-root", "--self-signed", "--subject", ROOT, "--profile", "root-ca",
               "--days", "3650", "--out", str(root))
    assert made.stdout.decode().startswith("Self-signed certificate of key pq-root (root-ca) written to")
    assert made.stderr.decode().startswith("note: pkilint: linted against RFC 5280, not the CA/Browser Forum profile")
    cli("keys", "csr", "pq-www", "--subject", "/C=ES/O=Example/CN=www.example.com", "--san", "dns:www.example.com",
        "--profile", "tls-server", "--out", str(csr))
    shown = cli.json("keys", "issue", "--ca", "pq-root", "--ca-cert", str(root), "--csr", str(csr), "--profile",
                     "tls-server", "--out", str(issued))
    assert shown["signature_algorithm"] == "ML_DSA_SHAKE_256" and shown["warnings"] == shown["lint_notes"] == []
    root_cert = x509.load_pem_x509_certificate(root.read_bytes())
    leaf = x509.load_pem_x509_certificate(issued.read_bytes())
    assert root_cert.signature_algorithm_oid.dotted_string == leaf.signature_algorithm_oid.dotted_string \
        == "2.16.840.1.101.3.4.3.18"  # id-ml-dsa-65
    assert x509.load_pem_x509_csr(csr.read_bytes()).signature_algorithm_oid.dotted_string == "2.16.840.1.101.3.4.3.17"
    verifier = (PolicyBuilder().store(Store([root_cert])).time(datetime.now(UTC) + timedelta(minutes=1))
                .build_server_verifier(x509.DNSName("www.example.com")))
    assert verifier.verify(leaf, []) == [leaf, root_cert]
    for cert, lint in ((root_cert, "cabf-serverauth"), (leaf, "rfc5280")):
        assert cert_lint.certificate(cert.public_bytes(Encoding.DER), lint).errors == []
    assert [r["action"] for r in cli.json("audit", "list", "--limit", "2")] == ["key.issue", "key.sign"]
