"""``kms.certificates``: self-signed and issued certificates from a profile, verified, linted, audited.

The software engine in this process; OpenSSL (``verify -x509_strict``) checks each chain and
pkilint lints each certificate before it is handed out.
"""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from engines.errors import InvalidInput, KmsError
from kms_tui.service import cert_lint, cert_profiles
from kms_tui.service.errors import Refused
from tests.service.test_key_integrity import tamper

ROOT = "/C=ES/O=Example/CN=Example Root"


def openssl_verify(tmp_path, root: bytes, *chain: bytes) -> str:
    paths = []
    for i, data in enumerate((root, *chain)):
        path = tmp_path / f"{i}.pem"
        path.write_bytes(data)
        paths.append(str(path))
    proc = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", paths[0], *paths],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def sign_rows(kms) -> int:
    return len(kms.audit.rows(1000, action="key.sign"))


def test_a_root_and_a_tls_certificate_issued_from_a_profiled_csr(kms, tmp_path):
    kms.keys.create("ECDSA", 384, "root")
    leaf = kms.keys.create("ECDSA", 256, "www")
    root = kms.certificates.self_signed("root", ROOT, profile="root-ca", days=3650)
    root_cert = x509.load_pem_x509_certificate(root.data)
    assert root_cert.subject.rfc4514_string() == "CN=Example Root,O=Example,C=ES" and root.warnings == []
    assert cert_lint.certificate(root_cert.public_bytes(Encoding.DER), "cabf-serverauth").errors == []
    csr = kms.csr.make("www", "/C=ES/O=Example/CN=www.example.com", ["dns:www.example.com"], profile="tls-server")
    requested = x509.load_pem_x509_csr(csr.data).extensions
    assert requested.get_extension_for_class(x509.ExtendedKeyUsage).value[0].dotted_string == "1.3.6.1.5.5.7.3.1"
    issued = kms.certificates.issue("root", root.data, csr.data, profile="tls-server", days=90)
    cert = x509.load_pem_x509_certificate(issued.data)
    assert cert.subject == x509.load_pem_x509_csr(csr.data).subject and issued.sans == ["dns:www.example.com"]
    assert cert.public_key() == x509.load_pem_x509_csr(csr.data).public_key() and issued.key_id != leaf.key_id
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 90
    assert openssl_verify(tmp_path, root.data, issued.data).count(": OK") == 2
    [issue_row] = kms.audit.rows(10, action="key.issue")
    assert issue_row.details["serial"] == format(cert.serial_number, "x") and issue_row.details["profile"] == "tls-server"
    [root_row] = kms.audit.rows(10, action="key.certificate")
    assert root_row.details["certificate_sha256"] == root.sha256 and root_row.details["subject"] == root.subject


def test_profile_rules_refuse_before_anything_is_signed(kms):
    kms.keys.create("ECDSA", 256, "www")
    before = sign_rows(kms)
    for kwargs, words in [
        (dict(profile="tls-server"), "needs at least one SAN"),
        (dict(profile="tls-server", sans=["dns:www.example.com"], days=398), r"over the maximum of profile 'tls-server' \(397 days\)"),
        (dict(profile="root-ca", sans=["dns:www.example.com"]), "takes no SANs"),
        (dict(profile="no-such"), "Unknown certificate profile"),
    ]:
        sans = kwargs.pop("sans", [])
        with pytest.raises(InvalidInput, match=words):
            kms.certificates.self_signed("www", "/CN=www.example.com", sans, **kwargs)
    assert sign_rows(kms) == before and not kms.audit.rows(10, action="key.certificate")


def test_issue_refuses_another_keys_ca_certificate_and_a_broken_csr(kms):
    for name in ("root", "other", "www"):
        kms.keys.create("ECDSA", 256, name)
    other_root = kms.certificates.self_signed("other", "/C=ES/O=Other/CN=Other Root", profile="root-ca").data
    root = kms.certificates.self_signed("root", ROOT, profile="root-ca").data
    csr = kms.csr.make("www", "/CN=www", ["dns:www.example"]).data
    before = sign_rows(kms)
    with pytest.raises(Refused, match="does not hold the public key of key 'root'"):
        kms.certificates.issue("root", other_root, csr, profile="tls-server")
    der = bytearray(x509.load_pem_x509_csr(csr).public_bytes(Encoding.DER))
    der[-5] ^= 0x01  # a bit of the signature
    with pytest.raises(Refused, match="CSR's signature does not verify"):
        kms.certificates.issue("root", root, bytes(der), profile="tls-server")
    with pytest.raises(InvalidInput, match="not a PEM or DER PKCS#10"):
        kms.certificates.issue("root", root, root, profile="tls-server")
    assert sign_rows(kms) == before and not kms.audit.rows(10, action="key.issue")


def test_a_swapped_public_key_in_the_database_makes_no_certificate(kms):
    kms.keys.create("ECDSA", 256, "a")
    b = kms.keys.create("ECDSA", 256, "b")
    tamper(kms, "UPDATE keys SET public_key = ? WHERE name = 'a'", b.public_key)
    with pytest.raises(KmsError, match="does not agree with itself"):
        kms.certificates.self_signed("a", "/CN=a", profile="root-ca")
    assert not kms.audit.rows(10, action="key.certificate")
    assert kms.audit.rows(10)[0].action == "key.integrity_failure"


def test_a_pkilint_error_refuses_the_certificate(kms, monkeypatch):
    kms.keys.create("ECDSA", 256, "root")
    monkeypatch.setattr(cert_lint, "_report", lambda results: cert_lint.LintReport(["pkix.some_error"], []))
    with pytest.raises(cert_lint.LintRefused, match=r"pkilint refuses the certificate: pkix.some_error\. Nothing"):
        kms.certificates.self_signed("root", "/CN=Root", profile="root-ca")
    assert not kms.audit.rows(10, action="key.certificate")


def test_profiles_are_checked_data():
    assert cert_profiles.names() == ["code-signing", "ocsp", "root-ca", "sub-ca", "tls-client", "tls-server"]
    assert all(cert_profiles.load(n).max_days >= cert_profiles.load(n).default_days for n in cert_profiles.names())
    good = (cert_profiles.PROFILE_DIR / "sub-ca.toml").read_text()
    for text, words in [(good + 'colour = "red"\n', "unknown field 'colour'"),
                        (good.replace("ca = true", "ca = false"), "key_cert_sign goes with ca = true"),
                        (good.replace("max_days = 5475", 'max_days = "long"'), "max_days must be a positive"),
                        (good.replace("default_days = 3650\n", ""), "needs the field 'default_days'")]:
        with pytest.raises(InvalidInput, match=words):
            cert_profiles.parse("sub-ca", text)
