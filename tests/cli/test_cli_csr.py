"""``kms-tui keys csr``: a PKCS#10 request signed by the key's engine, checked by OpenSSL.

The software engine in this process for each key family; SoftHSM2 through the installed
command (SoftHSM reads its configuration once per process).
"""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kms_tui.service.errors import KmsError
from tests.cli.runner import ProcessCli
from tests.cli.test_cli_pkcs11 import add, hsm  # noqa: F401  (the module's SoftHSM2 tokens)

SUBJECT = "/C=ES/O=Example \\/ Labs/CN=device-ca"


def openssl(*args: str) -> str:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def checked(path) -> str:
    """OpenSSL verifies the request's self-signature; its subject in RFC 2253 order (last RDN first)."""
    assert "verify OK" in openssl("req", "-in", str(path), "-verify", "-noout")
    return openssl("req", "-in", str(path), "-noout", "-subject", "-nameopt", "RFC2253").strip()


@pytest.mark.parametrize(("algorithm", "size", "hash_name"), [
    ("ECDSA", "256", "sha256"), ("RSA", "2048", "sha256"), ("Ed25519", "256", None)])
def test_a_verified_csr_from_each_key_family(cli, tmp_path, algorithm, size, hash_name):
    key = cli.json("keys", "create", "--algorithm", algorithm, "--size", size, "--name", "device-ca")
    out = tmp_path / "device-ca.csr"
    shown = cli.json("keys", "csr", "device-ca", "--subject", SUBJECT, "--san", "dns:*.example.com",
                     "--san", "ip:192.0.2.7", "--san", "email:pki@example.com", "--san", "uri:https://example.com/ca",
                     "--out", str(out))
    assert checked(out) == "subject=CN=device-ca,O=Example / Labs,C=ES"
    request = x509.load_pem_x509_csr(out.read_bytes())
    assert request.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                                             ).decode() == key["public_key"]
    assert (request.signature_hash_algorithm.name if request.signature_hash_algorithm else None) == hash_name
    sans = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(v) for v in sans.get_values_for_type(x509.DNSName)] == ["*.example.com"]
    assert [str(v) for v in sans.get_values_for_type(x509.IPAddress)] == ["192.0.2.7"]
    assert sans.get_values_for_type(x509.RFC822Name) == ["pki@example.com"]
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == ["https://example.com/ca"]
    der_sha256 = hashlib.sha256(request.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert shown["sha256"] == der_sha256 and shown["key_id"] == key["key_id"]
    csr_row, sign_row = cli.json("audit", "list", "--limit", "2")
    assert csr_row["action"] == "key.csr" and sign_row["action"] == "key.sign"
    assert csr_row["key_id"] == key["key_id"] and csr_row["details"]["csr_sha256"] == der_sha256
    assert csr_row["details"]["subject"] == "CN=device-ca,O=Example / Labs,C=ES"
    assert csr_row["details"]["sans"][0] == "dns:*.example.com"


def test_der_and_rfc4514_give_the_same_request_body(cli, tmp_path):
    cli("keys", "create", "--algorithm", "ECDSA", "--size", "384", "--name", "issuing")
    slash, comma = tmp_path / "slash.csr", tmp_path / "comma.der"
    cli("keys", "csr", "issuing", "--subject", "/C=ES/O=Example/CN=issuing", "--out", str(slash))
    cli("keys", "csr", "issuing", "--subject", "CN=issuing,O=Example,C=ES", "--format", "der", "--out", str(comma))
    pem, der = x509.load_pem_x509_csr(slash.read_bytes()), x509.load_der_x509_csr(comma.read_bytes())
    assert pem.subject.public_bytes() == der.subject.public_bytes()
    assert isinstance(der.signature_hash_algorithm, hashes.SHA384) and der.is_signature_valid
    assert checked(slash) == "subject=CN=issuing,O=Example,C=ES"
    assert "verify OK" in openssl("req", "-in", str(comma), "-inform", "DER", "-verify", "-noout")


def test_refusals_write_nothing(cli, tmp_path):
    cli("keys", "create", "--algorithm", "Ed25519", "--name", "signer")
    public = tmp_path / "public.pem"
    public.write_bytes(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    cli("keys", "import", str(public), "--name", "public-only")
    taken = tmp_path / "taken.csr"
    taken.write_bytes(b"evidence")
    rows = len(cli.json("audit", "list", "--limit", "1000"))
    refused = cli("keys", "csr", "signer", "--subject", "/CN=x", "--out", str(taken), code=3).stderr.decode()
    assert "exists; it is not overwritten" in refused and taken.read_bytes() == b"evidence"
    fresh = tmp_path / "fresh.csr"
    for args, words in [
        (("public-only", "--subject", "/CN=x"), "public-key only"),
        (("signer", "--subject", "/C=ESP/CN=x"), "'C=ESP': a country is 2 letters"),
        (("signer", "--subject", "/CN=x", "--san", "dns:bad_name"), "'bad_name' is not a DNS label"),
    ]:
        message = cli("keys", "csr", *args, "--out", str(fresh), code=3).stderr.decode()
        assert words in message and not fresh.exists(), message
    assert len(cli.json("audit", "list", "--limit", "1000")) == rows


def test_a_signature_the_recorded_key_does_not_verify_is_refused(kms, monkeypatch):
    kms.keys.create("ECDSA", 256, "device")
    stranger = ec.generate_private_key(ec.SECP256R1())
    monkeypatch.setattr(kms.signing, "sign", lambda ref, alg, data, mt: stranger.sign(data, ec.ECDSA(hashes.SHA256())))
    with pytest.raises(KmsError, match="does not verify with the key's recorded public key"):
        kms.csr.make("device", "/CN=device")
    assert "key.csr" not in [row.action for row in kms.audit.rows(10)]


def test_a_csr_from_a_softhsm2_key(secret_service, hsm, tmp_path):  # noqa: F811
    p11 = ProcessCli(hsm.env(base=secret_service), tmp_path / "data")
    add(p11, token="other")
    key = p11.json("keys", "create", "--engine", "hsm", "--algorithm", "ECDSA", "--size", "256", "--name", "token-key")
    out = tmp_path / "token.csr"
    p11("keys", "csr", "token-key", "--subject", "CN=token-key,O=Example,C=ES", "--san", "dns:hsm.example",
        "--out", str(out))
    assert checked(out) == "subject=CN=token-key,O=Example,C=ES"
    assert x509.load_pem_x509_csr(out.read_bytes()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode() == key["public_key"]


def test_a_swapped_public_key_in_the_database_makes_no_csr(cli, tmp_path):
    """The record's public key edited to another key's: the engine's material does not hold it, so no
    request is signed for the wrong key, and nothing is written."""
    from tests.cli.test_cli_integrity import tamper

    cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "a")
    b = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "b")
    tamper(cli, "UPDATE keys SET public_key = ? WHERE name = 'a'", b["public_key"])
    out = tmp_path / "a.csr"
    proc = cli("keys", "csr", "a", "--subject", "/CN=a", "--out", str(out), code=3)
    said = proc.stderr.decode()
    assert not out.exists(), said
    rows = cli.json("audit", "list", "--limit", "5")
    assert rows[0]["action"] == "key.integrity_failure", rows[0]  # the refusal is on record
    assert "key.csr" not in [r["action"] for r in rows]
