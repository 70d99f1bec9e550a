"""``kms.certificates`` with keys on a SoftHSM2 token: a root and an issued certificate that OpenSSL accepts."""

from __future__ import annotations

import subprocess

from cryptography import x509

from tests.engines.pkcs11.test_pkcs11_service import register


def test_a_token_root_issues_a_certificate_for_a_token_csr(kms, softhsm, tmp_path):
    register(kms)
    kms.keys.create("ECDSA", 384, "profile-root-ca")
    kms.keys.create("ECDSA", 256, "profile-code-signer")
    root = kms.certificates.self_signed("profile-root-ca", "/C=ES/O=Example/CN=Token Root", profile="root-ca")
    csr = kms.csr.make("profile-code-signer", "/C=ES/O=Example/CN=Release signing", profile="code-signing")
    issued = kms.certificates.issue("profile-root-ca", root.data, csr.data, profile="code-signing", days=365)
    (tmp_path / "root.pem").write_bytes(root.data)
    (tmp_path / "signer.pem").write_bytes(issued.data)
    proc = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", str(tmp_path / "root.pem"),
                           str(tmp_path / "root.pem"), str(tmp_path / "signer.pem")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.count(": OK") == 2, proc.stdout + proc.stderr
    cert = x509.load_pem_x509_certificate(issued.data)
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value[0].dotted_string == "1.3.6.1.5.5.7.3.3"
    assert issued.signature_algorithm == "ECDSA_SHA_384" and issued.warnings == []
