"""The command line: key life cycle, JSON output, errors that change nothing."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.cli.runner import KMS_TUI

KEY_FIELDS = {
    "key_id", "name", "aliases", "engine_id", "algorithm", "size", "has_private_key", "public_key",
    "pkcs11_uri", "creation_ts", "tags", "metadata", "strength", "bound", "status", "state",
}


def snapshot(cli):
    """What must not change when a command fails: keys, key files and the audit log."""
    files = sorted(p.name for p in cli.key_dir().iterdir()) if cli.key_dir().exists() else []
    return cli.json("keys", "list"), files, len(cli.json("audit", "list", "--limit", "100000"))


def test_create_show_list_json_fields(cli):
    created = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "384", "--name", "issuing",
                       "--alias", "issuing-ca", "--tag", "pki", "--metadata", '{"owner": "pki"}')
    assert set(created) >= KEY_FIELDS
    assert created["strength"] == "HIGH" and created["aliases"] == ["issuing-ca"] and created["tags"] == ["pki"]
    assert cli.json("keys", "show", "issuing-ca")["key_id"] == created["key_id"]
    assert cli.json("keys", "show", created["key_id"])["name"] == "issuing"
    [listed] = cli.json("keys", "list", "--strength", "HIGH")
    assert listed["key_id"] == created["key_id"]
    assert cli.json("keys", "list", "--strength", "LOW") == []
    human = cli("keys", "list").stdout.decode()
    assert "issuing" in human and created["key_id"][:12] in human


def test_sign_verify_round_trip_and_invalid_signature_exit_1(process_cli, tmp_path):
    cli = process_cli  # the main path through the real entry point: exit 0, 1 and 3
    cli("keys", "create", "--algorithm", "Ed25519", "--size", "256", "--name", "ed")
    sig = tmp_path / "m.sig"
    cli("keys", "sign", "ed", "--algorithm", "ED25519", "--out", str(sig), input=b"payload")
    assert cli("keys", "verify", "ed", "--algorithm", "ED25519", "--signature", str(sig), input=b"payload").stdout
    bad = cli("keys", "verify", "ed", "--algorithm", "ED25519", "--signature", str(sig), input=b"payloaD", code=1)
    assert b"INVALID" in bad.stdout
    # an existing output file is never overwritten
    err = cli("keys", "sign", "ed", "--algorithm", "ED25519", "--out", str(sig), input=b"x", code=3)
    assert b"not overwritten" in err.stderr


def test_bind_then_delete_needs_force(cli):
    created = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "dev")
    cli("keys", "bind", "dev", "--type", "certificate", "--id", "01:02")
    before = snapshot(cli)
    err = cli("keys", "delete", "dev", "--yes", code=3)
    assert b"bound" in err.stderr and len(err.stderr.splitlines()) == 1
    assert snapshot(cli) == before
    # no --yes and no terminal: refused, nothing deleted
    cli("keys", "delete", "dev", "--force", code=3)
    assert snapshot(cli) == before
    cli("keys", "delete", "dev", "--force", "--yes")
    # Recoverable: listed pending deletion, its file moved to the engine's trash.
    assert [k["state"] for k in cli.json("keys", "list")] == ["PendingDeletion"]
    assert not (cli.key_dir() / created["key_id"]).exists()
    assert [r["action"] for r in cli.json("audit", "list", "--limit", "2")] == ["key.delete", "key.delete.intent"]


def _pem(key, password=None):
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def test_bad_input_gives_one_clear_line_and_changes_nothing(cli, tmp_path):
    cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "ec", "--alias", "taken")
    cli("keys", "bind", "ec", "--type", "ca", "--id", "root")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good, enc = _pem(key), _pem(key, b"right")
    (tmp_path / "trunc.pem").write_bytes(good[:200])
    (tmp_path / "enc.pem").write_bytes(enc)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "trunc.der").write_bytes(der[: len(der) // 3])
    (tmp_path / "sig").write_text("not hex at all")
    before = snapshot(cli)
    cases = [
        (("keys", "import", str(tmp_path / "trunc.pem"), "--name", "x"), None, b"not a readable key"),
        (("keys", "import", str(tmp_path / "trunc.der"), "--name", "x"), None, b"not a readable key"),
        (("keys", "import", str(tmp_path / "enc.pem"), "--name", "x", "--passphrase-stdin"), b"wrong\n", b"passphrase"),
        (("keys", "import", str(tmp_path / "missing.pem"), "--name", "x"), None, b"does not exist"),
        (("keys", "create", "--algorithm", "RSA", "--size", "1024", "--name", "x"), None, b"size 1024"),
        (("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "x", "--engine", "nope"), None, b"nope"),
        (("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "x", "--alias", "taken"), None, b"taken"),
        (("keys", "alias", "add", "ec", "ec"), None, b"name"),
        (("keys", "sign", "ec", "--algorithm", "ECDSA_SHA_256", "--message-type", "digest"), b"short", b"32-byte"),
        (("keys", "sign", "ec", "--algorithm", "RSASSA_PSS_SHA_256"), b"m", b"cannot be used with a ECDSA key"),
        (("keys", "sign", "nokey", "--algorithm", "ECDSA_SHA_256"), b"m", b"No key is known"),
        (("keys", "delete", "ec", "--yes"), None, b"bound"),
        (("keys", "verify", "ec", "--algorithm", "ECDSA_SHA_256", "--signature", str(tmp_path / "sig"),
          "--encoding", "hex"), b"m", b"not valid hex"),
        (("engines", "show", "nope"), None, b"nope"),
    ]
    for args, stdin, needle in cases:
        proc = cli(*args, input=stdin, code=3)
        lines = proc.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("kms-tui: "), (args, proc.stderr)
        assert needle.lower() in proc.stderr.lower(), (args, proc.stderr)
        assert b"Traceback" not in proc.stderr
    assert snapshot(cli) == before


def test_secrets_are_not_accepted_on_the_command_line(process_cli):
    cli = process_cli  # a usage error's exit 2 from the real entry point
    proc = cli("engines", "add", "GOLANG", "--id", "x", "--secret", "hunter2", code=2)
    assert b"unrecognized arguments" in proc.stderr


def test_export_public_formats(cli, tmp_path):
    created = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "ec")
    pem = cli("keys", "export-public", "ec").stdout
    der = cli("keys", "export-public", "ec", "--format", "der").stdout
    public = serialization.load_pem_public_key(pem)
    assert public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == der
    assert hashlib.sha256(der).hexdigest() == created["key_id"]
    assert cli.json("keys", "show", "ec")["public_key"].encode() == pem
    jwk = cli("keys", "export-public", "ec", "--format", "jwk").stdout
    assert b'"crv": "P-256"' in jwk and created["key_id"].encode() in jwk
    assert cli("keys", "export-public", "ec", "--format", "ssh").stdout.startswith(b"ecdsa-sha2-nistp256 ")


def test_two_cli_processes_share_one_database(process_cli):
    cli = process_cli  # processes racing, sharing the keyring's secret
    cli("engines", "list")  # first run done before the race
    procs = [
        subprocess.Popen(
            ["bash", "-c", f'for i in 1 2 3 4; do "$0" --data-dir "$1" keys create --algorithm ECDSA --size 256 '
             f'--name p{n}-$i --json >/dev/null || exit 1; done', KMS_TUI, str(cli.data_dir)],
            env=cli.env, stderr=subprocess.PIPE,
        )
        for n in (1, 2)
    ]
    for proc in procs:
        assert proc.wait(120) == 0, proc.stderr.read()
    assert len(cli.json("keys", "list")) == 8
    assert cli.json("audit", "verify")["ok"]


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_digest_input_encodings(cli, encoding):
    cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "ec")
    digest = hashlib.sha256(b"hello").digest()
    text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    sig = cli.json("keys", "sign", "ec", "--algorithm", "ECDSA_SHA_256", "--message-type", "digest",
                   "--input-encoding", encoding, input=text)["signature"]
    public = serialization.load_pem_public_key(cli("keys", "export-public", "ec").stdout)
    from cryptography.hazmat.primitives import hashes

    public.verify(base64.b64decode(sig), b"hello", ec.ECDSA(hashes.SHA256()))


def test_messages_can_come_from_a_pipe_but_not_a_directory(cli, tmp_path):
    cli("keys", "create", "--algorithm", "Ed25519", "--size", "256", "--name", "ed")
    read_end, write_end = os.pipe()  # what a shell's <(printf hello) hands over
    os.write(write_end, b"hello")
    os.close(write_end)
    try:
        signed = cli.json("keys", "sign", "ed", "--algorithm", "ED25519", "--in", f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
    public = serialization.load_pem_public_key(cli("keys", "export-public", "ed").stdout)
    public.verify(base64.b64decode(signed["signature"]), b"hello")
    err = cli("keys", "sign", "ed", "--algorithm", "ED25519", "--in", str(tmp_path), code=3)
    assert b"is a directory" in err.stderr
