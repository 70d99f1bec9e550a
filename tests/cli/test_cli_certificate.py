"""``kms-tui keys certificate`` and ``keys issue``: files claimed first, never overwritten, removed on refusal.

In this process (the software engine); the service's own tests (tests/service/test_certificates.py)
check chains with OpenSSL and pkilint, and SoftHSM2 keys are in tests/engines/pkcs11.
"""

from __future__ import annotations

import subprocess

from cryptography import x509

ROOT = "/C=ES/O=Example/CN=Example Root"


def test_a_root_then_a_certificate_issued_for_a_csr(cli, tmp_path):
    cli("keys", "create", "--algorithm", "ECDSA", "--size", "384", "--name", "root")
    cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "client")
    root, csr, issued = tmp_path / "root.pem", tmp_path / "client.csr", tmp_path / "client.der"
    said = cli("keys", "certificate", "root", "--self-signed", "--subject", ROOT, "--profile", "root-ca",
               "--days", "3650", "--out", str(root)).stdout.decode()
    assert said.startswith("Self-signed certificate of key root (root-ca) written to") and "serial " in said
    cli("keys", "csr", "client", "--subject", "/C=ES/O=Example/CN=client-7", "--profile", "tls-client", "--out", str(csr))
    shown = cli.json("keys", "issue", "--ca", "root", "--ca-cert", str(root), "--csr", str(csr), "--profile",
                     "tls-client", "--format", "der", "--out", str(issued))
    cert = x509.load_der_x509_certificate(issued.read_bytes())
    assert shown["serial"] == format(cert.serial_number, "x") and shown["warnings"] == []
    assert shown["issuer"] == "CN=Example Root,O=Example,C=ES" and shown["profile"] == "tls-client"
    pem = tmp_path / "client.pem"
    pem.write_bytes(subprocess.run(["openssl", "x509", "-inform", "DER", "-in", str(issued)], capture_output=True,
                                   check=True).stdout)
    proc = subprocess.run(["openssl", "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", str(root), str(pem)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and ": OK" in proc.stdout, proc.stderr
    assert [r["action"] for r in cli.json("audit", "list", "--limit", "2")] == ["key.issue", "key.sign"]


def test_refusals_leave_no_file(cli, tmp_path):
    cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "www")
    out = tmp_path / "www.pem"
    said = cli("keys", "certificate", "www", "--subject", "/CN=www", "--profile", "tls-server", "--out", str(out),
               code=3).stderr.decode()
    assert "--self-signed states that intent" in said and not out.exists()
    said = cli("keys", "certificate", "www", "--self-signed", "--subject", "/CN=www", "--profile", "tls-server",
               "--out", str(out), code=3).stderr.decode()
    assert "needs at least one SAN" in said and not out.exists()
    said = cli("keys", "certificate", "www", "--self-signed", "--subject", "/CN=www", "--san", "dns:www.example",
               "--profile", "tls-server", "--days", "400", "--out", str(out), code=3).stderr.decode()
    assert "over the maximum of profile 'tls-server' (397 days)" in said and not out.exists()
    said = cli("keys", "certificate", "www", "--self-signed", "--subject", "/CN=www", "--profile", "root-ca",
               "--out", str(out), code=3).stderr.decode()
    assert "pkilint refuses the certificate: cabf.serverauth.ca.country_attribute_absent" in said and not out.exists()
    out.write_bytes(b"evidence")
    said = cli("keys", "certificate", "www", "--self-signed", "--subject", ROOT, "--profile", "root-ca",
               "--out", str(out), code=3).stderr.decode()
    assert "exists; it is not overwritten" in said and out.read_bytes() == b"evidence"
    assert not [r for r in cli.json("audit", "list", "--limit", "100") if r["action"] == "key.certificate"]
