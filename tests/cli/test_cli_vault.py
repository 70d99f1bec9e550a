"""The command line with a Vault KV v2 engine on a real OpenBao server."""

from __future__ import annotations

import base64
import hashlib
import json

import hvac.exceptions
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.engines.vault.openbao import Lab, OpenBao
from tests.ports import free_port

TYPE = "HASHICORP_VAULT_KV_V2"


@pytest.fixture(scope="module")
def bao(tmp_path_factory):
    server = OpenBao(tmp_path_factory.mktemp("openbao-cli"))
    server.start()
    lab = Lab(server)
    try:
        yield server, lab
    finally:
        lab.close()
        server.stop()


def no_secret_anywhere(cli, procs, *secrets: str) -> None:
    """Neither the output of any command nor any file of the data directory holds a secret."""
    for proc in procs:
        for secret in secrets:
            assert secret.encode() not in proc.stdout + proc.stderr
    for path in cli.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(secret.encode() in data for secret in secrets), path


def test_vault_engine_end_to_end(process_cli, bao, tmp_path):
    cli = process_cli  # the main path through the real entry point and keyring
    server, lab = bao
    mount = server.new_mount()
    procs = [cli("engines", "add", TYPE, "--id", "vault", "--option", f"address={server.address}",
                 "--option", f"mount={mount}", "--secret-stdin", input=lab.full_token + "\n")]
    assert b"registered" in procs[0].stdout
    procs.append(cli("engines", "show", "vault"))
    created = cli.json("keys", "create", "--engine", "vault", "--algorithm", "ECDSA", "--size", "256", "--name", "v1")
    raw = server.client().secrets.kv.v2.read_secret_version(created["key_id"], mount_point=mount,
                                                            raise_on_deleted_version=True)["data"]["data"]
    assert set(raw) == {"key"} and base64.b64decode(raw["key"]).startswith(b"-----BEGIN PRIVATE KEY-----\n")

    by_hand = ec.generate_private_key(ec.SECP384R1())
    pem = by_hand.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    by_hand_id = hashlib.sha256(by_hand.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()
    server.kv_put(mount, by_hand_id, "key", base64.b64encode(pem).decode())
    [report] = cli.json("sync", "vault")
    assert report["adopted"] == [by_hand_id]

    sig = tmp_path / "m.sig"
    procs.append(cli("keys", "sign", "v1", "--algorithm", "ECDSA_SHA_256", "--out", str(sig), input=b"payload"))
    procs.append(cli("keys", "verify", "v1", "--algorithm", "ECDSA_SHA_256", "--signature", str(sig),
                     input=b"payload"))

    procs.append(cli("keys", "delete", "v1", "--yes"))
    assert b"SoftDeleted" in procs[-1].stdout and b"recovered" in procs[-1].stdout
    assert set(cli.json("keys", "action", "v1")) == {"undelete", "destroy"}
    procs.append(cli("keys", "action", "v1", "undelete"))
    assert b"undelete done; state ok" in procs[-1].stdout
    procs.append(cli("keys", "sign", "v1", "--algorithm", "ECDSA_SHA_256", input=b"again"))
    procs.append(cli("keys", "action", "v1", "destroy", code=3))  # destructive: needs a typed confirmation
    procs.append(cli("keys", "action", "v1", "destroy", "--yes", code=3))  # --yes does not name the key
    procs.append(cli("keys", "action", "v1", "destroy", "--confirm", "v1"))
    assert b"the key is gone" in procs[-1].stdout
    with pytest.raises(hvac.exceptions.InvalidPath):
        server.client().secrets.kv.v2.read_secret_metadata(created["key_id"], mount_point=mount)
    assert [k["name"] for k in cli.json("keys", "list", "--engine", "vault")] == [f"vault-{by_hand_id[:12]}"]
    no_secret_anywhere(cli, procs, lab.full_token)


def error_cases(server, lab):
    address = f"address={server.address}"
    secret_id = lab.secret_id()
    return {
        "wrong token": (["--option", address], "s.not-a-real-token", "Vault token rejected", "invalid, expired"),
        "unreachable": (["--option", f"address=http://127.0.0.1:{free_port()}"], lab.full_token,
                        "Engine unreachable", "cannot be reached"),
        "forbidden path": (["--option", address], lab.narrow_token, "Forbidden by Vault policy", "do not allow"),
        "missing mount": (["--option", address, "--option", "mount=nowhere"], lab.full_token,
                          "Vault mount not found", "no KV v2 mount named 'nowhere'"),
        "approle login": (["--option", address, "--option", "auth=approle", "--option", "role_id=not-the-role"],
                          secret_id, "Vault login failed", "AppRole login"),
    }


@pytest.mark.parametrize("case", ["wrong token", "unreachable", "forbidden path", "missing mount", "approle login"])
def test_registration_errors_are_one_specific_line(cli, bao, case):
    server, lab = bao
    options, secret, title, needle = error_cases(server, lab)[case]
    proc = cli("engines", "add", TYPE, "--id", "vault", *options, "--option", "timeout=3", "--secret-stdin",
               input=secret + "\n", code=3)
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kms-tui: {title}: "), proc.stderr
    assert needle in lines[0] and "Traceback" not in lines[0]
    assert [e["id"] for e in cli.json("engines", "list")] == ["golang-default"]
    no_secret_anywhere(cli, [proc], secret)


def test_expired_token_then_a_new_one(cli, bao):
    server, lab = bao
    token = server.token("kms-full", ttl="3s")
    cli("engines", "add", TYPE, "--id", "vault", "--option", f"address={server.address}", "--secret-stdin",
        input=token + "\n")
    server.wait_expired(token)
    proc = cli("engines", "test", "vault", code=1)
    assert b"Vault token rejected" in proc.stdout and b"expired" in proc.stdout
    proc = cli("keys", "create", "--engine", "vault", "--algorithm", "Ed25519", "--size", "256", "--name", "k", code=3)
    assert proc.stderr.startswith(b"kms-tui: Vault token rejected: ")
    assert b"kms-tui engines secret vault --secret-stdin" in proc.stderr
    cli("engines", "secret", "vault", "--secret-stdin", input=lab.full_token + "\n")
    cli("keys", "create", "--engine", "vault", "--algorithm", "Ed25519", "--size", "256", "--name", "k")
    no_secret_anywhere(cli, [proc], token, lab.full_token)


def test_engine_that_stops_answering(cli, tmp_path):
    server = OpenBao(tmp_path / "bao")
    server.start()
    try:
        cli("engines", "add", TYPE, "--id", "vault", "--option", f"address={server.address}",
            "--option", "timeout=3", "--secret-stdin", input=server.root_token + "\n")
        cli("keys", "create", "--engine", "vault", "--algorithm", "Ed25519", "--size", "256", "--name", "remote")
        server.stop()
        proc = cli("engines", "test", "vault", code=1)
        assert b"NOT reachable" in proc.stdout and b"cannot be reached" in proc.stdout
        proc = cli("keys", "sign", "remote", "--algorithm", "ED25519", input=b"m", code=3)
        assert proc.stderr.startswith(b"kms-tui: Engine unreachable: ")
        cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "local")  # the default engine
        server.restart()
        assert json.loads(cli("engines", "test", "vault", "--json").stdout)["reachable"]
    finally:
        server.stop()
