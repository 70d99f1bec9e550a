"""``kms-tui certs …`` in this process: add a bundle, list what expires, export the chain, remove."""

from __future__ import annotations

import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.service.test_certs import certificate, pem


def test_add_list_show_export_remove(cli, tmp_path):
    root_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "root.key").write_bytes(root_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cli("keys", "import", str(tmp_path / "root.key"), "--name", "root-ca")
    leaf_key = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "web")
    leaf_public = serialization.load_pem_public_key(leaf_key["public_key"].encode())
    root = certificate(root_key.public_key(), "Root", root_key, days=3650, ca=True)
    leaf = certificate(leaf_public, "web.example", root_key, "Root", days=25)
    (tmp_path / "bundle.pem").write_bytes(pem(leaf, root))
    added = cli.json("certs", "add", str(tmp_path / "bundle.pem"))
    assert [(c["key_name"], c["chain"]) for c in added] == [
        ("web", "issuer verified"), ("root-ca", "self-signed")]
    leaf_fp = added[0]["fingerprint"]
    assert [c["fingerprint"] for c in cli.json("certs", "list", "--expiring", "30d")] == [leaf_fp]
    assert [c["key_name"] for c in cli.json("certs", "list", "--key", "root-ca")] == ["root-ca"]
    assert "(   24 d)" in cli("certs", "list").stdout.decode() or "(   25 d)" in cli("certs", "list").stdout.decode()
    assert b"issuer verified" in cli("certs", "show", leaf_fp[:10]).stdout
    out = tmp_path / "chain.pem"
    cli("certs", "export", leaf_fp, "--out", str(out))
    assert x509.load_pem_x509_certificates(out.read_bytes()) == [leaf, root]
    verified = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", str(out), str(out)],
                              capture_output=True, text=True, timeout=30)
    assert verified.returncode == 0, verified.stderr
    cli("certs", "export", leaf_fp, "--out", str(out), code=3)  # an existing file is never overwritten
    refused = cli("keys", "delete", "web", "--yes", code=3)
    assert b"bound" in refused.stderr
    cli("certs", "remove", leaf_fp)
    cli("certs", "show", leaf_fp, code=3)
    cli("certs", "list", "--expiring", "soon", code=2)
    cli("keys", "delete", "web", "--yes")
