"""``keys create`` / ``keys import`` and the compatibility check: a warning line per client that
cannot use the key, and a refusal (exit 3, nothing written) on an engine shared with Lamassu."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

LAMASSU_LINE = b"warning: Lamassu cannot use this key: Lamassu creates, imports and signs with RSA and ECDSA keys only\n"


def _ed25519_pem(tmp_path):
    path = tmp_path / "ed.pem"
    path.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(path)


def test_a_key_lamassu_cannot_use_gets_a_warning_line(cli, tmp_path):
    proc = cli("keys", "create", "--algorithm", "Ed25519", "--name", "ed", "--json")
    assert proc.stderr == LAMASSU_LINE
    assert proc.stdout.startswith(b"{")  # the JSON on stdout is untouched
    assert cli("keys", "import", _ed25519_pem(tmp_path), "--name", "imported").stderr == LAMASSU_LINE
    assert cli("keys", "create", "--algorithm", "RSA", "--size", "2048", "--name", "rsa").stderr == b""
    assert cli("keys", "create", "--algorithm", "ECDSA", "--size", "224", "--name", "p224").stderr == b""


def test_a_lamassu_shared_engine_refuses_it_and_writes_nothing(cli, tmp_path):
    directory = tmp_path / "lamassu-keys"
    cli("engines", "add", "GOLANG", "--id", "lamassu", "--option", f"directory={directory}",
        "--option", "lamassu=true", "--option", "encrypt=false")
    for command in (("keys", "create", "--algorithm", "Ed25519"), ("keys", "import", _ed25519_pem(tmp_path))):
        proc = cli(*command, "--engine", "lamassu", "--name", "ed", code=3)
        assert proc.stderr.decode().splitlines() == [
            "kms-tui: Not usable by Lamassu: Engine 'lamassu' is shared with Lamassu, and Lamassu creates, "
            "imports and signs with RSA and ECDSA keys only. Choose an RSA or ECDSA key, or another engine."]
    assert not directory.exists() or os.listdir(directory) == []
    assert cli.json("keys", "list") == []
    proc = cli("keys", "create", "--engine", "lamassu", "--algorithm", "ECDSA", "--size", "256", "--name", "ec")
    assert proc.stderr == b"" and len(os.listdir(directory)) == 1
