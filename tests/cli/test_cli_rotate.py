"""``kms-tui keys rotate`` on the software engine, and ``--allow-retired`` on ``keys sign``."""

from __future__ import annotations

import base64


def test_rotate_moves_aliases_and_retires_the_key(cli, tmp_path):
    old = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "web", "--alias", "web-tls")
    cli("keys", "bind", "web", "--type", "ca", "--id", "ca-7")
    shown = cli("keys", "rotate", "web-tls").stdout.decode()
    assert "Key web rotated to web-v2 (ECDSA 256" in shown and "Aliases moved: web-tls." in shown
    assert "Bindings left on web (move them with keys bind/unbind, or rotate with --move-bindings): ca/ca-7." in shown
    new = cli.json("keys", "show", "web-tls")
    assert new["name"] == "web-v2" and new["key_id"] != old["key_id"]
    message = tmp_path / "m"
    message.write_bytes(b"hello")
    refused = cli("keys", "sign", "web", "--algorithm", "ECDSA_SHA_256", "--in", str(message), code=3)
    assert b"is retired (rotated to 'web-v2'" in refused.stderr and b"--allow-retired" in refused.stderr
    signature = tmp_path / "sig"
    signature.write_bytes(cli("keys", "sign", "web", "--algorithm", "ECDSA_SHA_256", "--in", str(message),
                              "--allow-retired").stdout)
    assert cli.json("keys", "verify", "web", "--algorithm", "ECDSA_SHA_256", "--in", str(message),
                    "--signature", str(signature)) == {"valid": True}
    batch = tmp_path / "batch"
    batch.write_text(base64.b64encode(b"x").decode() + "\n")
    cli("keys", "sign", "web", "--algorithm", "ECDSA_SHA_256", "--batch", str(batch), "--input-encoding", "base64",
        code=3)
    lines = cli("keys", "sign", "web", "--algorithm", "ECDSA_SHA_256", "--batch", str(batch), "--input-encoding",
                "base64", "--allow-retired").stdout.splitlines()
    assert len(lines) == 1 and b'"signature"' in lines[0]
    again = cli("keys", "rotate", "web", code=3)
    assert b"already rotated to 'web-v2'" in again.stderr
    moved = cli.json("keys", "rotate", "web-v2", "--name", "web-2027", "--algorithm", "Ed25519", "--move-bindings")
    assert moved["successor"]["name"] == "web-2027" and moved["successor"]["algorithm"] == "Ed25519"
    assert moved["aliases_moved"] == ["web-tls"] and moved["bindings_left"] == []
    assert [r["action"] for r in cli.json("audit", "list", "--limit", "4")][::-1] == [
        "key.create", "key.alias.move", "key.retire", "key.rotate"]
