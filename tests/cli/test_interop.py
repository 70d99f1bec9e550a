"""Interoperability with OpenSSL, cryptography and Lamassu's software-engine layout."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl is installed by tests/run.sh")


def openssl(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([OPENSSL, *args], input=input, capture_output=True, timeout=60)


@pytest.mark.parametrize(("algorithm", "size"), [("RSA", 2048), ("ECDSA", 256), ("ECDSA", 521), ("Ed25519", 256)])
def test_key_id_is_sha256_of_openssl_der_spki(cli, tmp_path, algorithm, size):
    created = cli.json("keys", "create", "--algorithm", algorithm, "--size", str(size), "--name", "k")
    pem = tmp_path / "k.pem"
    pem.write_bytes(cli("keys", "export-public", "k").stdout)
    der = openssl("pkey", "-pubin", "-in", str(pem), "-outform", "DER")
    assert der.returncode == 0, der.stderr
    assert hashlib.sha256(der.stdout).hexdigest() == created["key_id"]


@pytest.mark.parametrize(
    ("algorithm", "size", "sig_alg", "digest", "sigopts"),
    [
        ("RSA", 2048, "RSASSA_PKCS1_V1_5_SHA_256", "-sha256", []),
        ("RSA", 3072, "RSASSA_PSS_SHA_384", "-sha384",
         ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest", "-sigopt", "rsa_mgf1_md:sha384"]),
        ("ECDSA", 256, "ECDSA_SHA_256", "-sha256", []),
        ("ECDSA", 384, "ECDSA_SHA_512", "-sha512", []),
    ],
)
def test_signatures_verify_with_openssl_dgst(cli, tmp_path, algorithm, size, sig_alg, digest, sigopts):
    cli("keys", "create", "--algorithm", algorithm, "--size", str(size), "--name", "k")
    message = tmp_path / "msg"
    message.write_bytes(b"ceremony transcript line 1\n" * 50)
    pub, sig = tmp_path / "pub.pem", tmp_path / "sig.bin"
    pub.write_bytes(cli("keys", "export-public", "k").stdout)
    cli("keys", "sign", "k", "--algorithm", sig_alg, "--in", str(message), "--encoding", "raw", "--out", str(sig))
    ok = openssl("dgst", digest, "-verify", str(pub), *sigopts, "-signature", str(sig), str(message))
    assert ok.returncode == 0 and b"Verified OK" in ok.stdout, ok.stdout + ok.stderr
    message.write_bytes(b"tampered")
    bad = openssl("dgst", digest, "-verify", str(pub), *sigopts, "-signature", str(sig), str(message))
    assert bad.returncode != 0


def test_ed25519_signature_verifies_with_cryptography(process_cli, tmp_path):
    cli = process_cli  # raw signature bytes from the real entry point's stdout
    cli("keys", "create", "--algorithm", "Ed25519", "--size", "256", "--name", "ed")
    sig = cli("keys", "sign", "ed", "--algorithm", "ED25519", "--encoding", "raw", input=b"hello").stdout
    public = serialization.load_pem_public_key(cli("keys", "export-public", "ed").stdout)
    public.verify(sig, b"hello")  # raises InvalidSignature on failure


def test_lamassu_clear_pem_file_is_adopted_by_sync_under_the_same_id(cli):
    cli("engines", "list")  # first run makes the engine and its directory
    key = ec.generate_private_key(ec.SECP384R1())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_id = hashlib.sha256(spki).hexdigest()
    directory = cli.key_dir()
    directory.mkdir(parents=True, exist_ok=True)
    # Lamassu's Go engine writes clear PKCS#8 PEM named by the key id.
    (directory / key_id).write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    [report] = cli.json("sync", "golang-default")
    assert report["adopted"] == [key_id]
    shown = cli.json("keys", "show", key_id)
    assert shown["has_private_key"] and (shown["algorithm"], shown["size"]) == ("ECDSA", 384)
    cli("keys", "sign", key_id, "--algorithm", "ECDSA_SHA_384", input=b"m")
    [again] = cli.json("sync")
    assert again["adopted"] == [] and again["unchanged"] == 1
