"""The command line against the test Azure Key Vault: life cycle, and one clear line per failure.

The client secret goes in on stdin only, never in argv; the tests check it never comes
out (stdout, stderr, files of the data directory).
"""

from __future__ import annotations

import socket

import pytest

from tests.engines.azure.helpers import READER, READER_SECRET, SECRET, SENTINEL, engine_options, start_server


@pytest.fixture(scope="module")
def vault(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("azure-cli"))
    yield server
    server.stop()


def add(cli, vault, engine_id="az", secret=SECRET, code=0, **options):
    argv = ["engines", "add", "AZURE_KEY_VAULT", "--id", engine_id]
    for key, value in engine_options(vault, **options).items():
        if value:
            argv += ["--option", f"{key}={value}"]
    assert SENTINEL not in " ".join(argv)
    return cli(*argv, "--secret-stdin", input=f"{secret}\n", code=code)


def one_line_error(proc) -> str:
    """The single stderr line of a failed command; no secret anywhere in its output."""
    err = proc.stderr.decode()
    assert proc.returncode == 3 and len(err.splitlines()) == 1, err
    assert SENTINEL not in err and SENTINEL.encode() not in proc.stdout
    return err


def no_secret_on_disk(cli) -> None:
    for path in cli.data_dir.rglob("*"):
        if path.is_file():
            assert SENTINEL.encode() not in path.read_bytes(), path


def test_key_life_cycle(process_cli, vault, tmp_path):
    cli = process_cli  # the main path through the real entry point and keyring
    assert b"registered" in add(cli, vault).stdout
    shown = cli.json("engines", "show", "az")
    assert shown["type"] == "AZURE_KEY_VAULT" and shown["config"]["vault_url"] == vault.url
    created = cli.json("keys", "create", "--engine", "az", "--algorithm", "ECDSA", "--size", "384",
                       "--name", "az-issuing")
    assert created["strength"] == "HIGH" and created["engine_id"] == "az"
    assert _ref(vault, created["key_id"]) is not None  # tagged x-lamassu-id=<key id> in the vault
    sig = tmp_path / "m.sig"
    cli("keys", "sign", "az-issuing", "--algorithm", "ECDSA_SHA_384", "--out", str(sig), input=b"payload")
    cli("keys", "verify", "az-issuing", "--algorithm", "ECDSA_SHA_384", "--signature", str(sig), input=b"payload")
    cli("keys", "verify", "az-issuing", "--algorithm", "ECDSA_SHA_384", "--signature", str(sig),
        "--engine-verify", input=b"payload")
    cli("keys", "verify", "az-issuing", "--algorithm", "ECDSA_SHA_384", "--signature", str(sig), input=b"x", code=1)
    out = cli("keys", "delete", "az-issuing", "--yes").stdout.decode()
    assert "is now Deleted; it can still be recovered" in out
    actions = cli("keys", "action", "az-issuing").stdout.decode()
    assert "recover" in actions and "purge" in actions
    cli("keys", "action", "az-issuing", "recover")
    cli("keys", "sign", "az-issuing", "--algorithm", "ECDSA_SHA_256", input=b"again")
    cli("keys", "delete", "az-issuing", "--yes")
    cli("keys", "action", "az-issuing", "purge", "--confirm", "az-issuing")
    assert cli.json("keys", "list") == []
    assert _ref(vault, created["key_id"]) is None
    no_secret_on_disk(cli)


def _ref(vault, key_id):
    """The vault's name for a key id, found through its Lamassu tag."""
    items, _ = vault.vault.list(None, 0)
    names = [item["kid"].rsplit("/", 1)[1] for item in items if item.get("tags", {}).get("x-lamassu-id") == key_id]
    return names[0] if names else None


def test_each_failure_is_one_specific_line(cli, vault):
    err = one_line_error(add(cli, vault, "az-bad", secret="wrong-secret-SENTINEL", code=None))
    assert "Engine authentication failed" in err and "AADSTS7000215" in err
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"https://127.0.0.1:{probe.getsockname()[1]}"
    err = one_line_error(add(cli, vault, "az-gone", code=None, vault_url=closed))
    assert "Engine unreachable" in err and closed in err
    err = one_line_error(add(cli, vault, "az-tls", code=None, ca_bundle=""))
    assert "Untrusted TLS certificate" in err
    assert [e["id"] for e in cli.json("engines", "list")] == ["golang-default"]
    add(cli, vault, "az-reader", secret=READER_SECRET, client_id=READER)  # may list, may not create
    err = one_line_error(cli("keys", "create", "--engine", "az-reader", "--algorithm", "RSA", "--size", "2048",
                             "--name", "r", code=None))
    assert "Access denied by Azure Key Vault" in err and "create permission" in err
    add(cli, vault, "az")
    created = cli.json("keys", "create", "--engine", "az", "--algorithm", "RSA", "--size", "2048", "--name", "gone")
    name = _ref(vault, created["key_id"])
    vault.vault.delete(name)  # behind kms-tui's back
    vault.vault.purge(name)
    err = one_line_error(cli("keys", "sign", "gone", "--algorithm", "RSASSA_PSS_SHA_256", input=b"m", code=None))
    assert "Key not found in engine" in err and name in err
    no_secret_on_disk(cli)


def test_outage_then_restart_on_the_same_port(cli, tmp_path):
    server = start_server(tmp_path / "vault")
    try:
        add(cli, server)
        cli("keys", "create", "--engine", "az", "--algorithm", "ECDSA", "--size", "256", "--name", "remote")
        cli("keys", "create", "--algorithm", "Ed25519", "--size", "256", "--name", "local")
        server.stop()
        err = one_line_error(cli("keys", "sign", "remote", "--algorithm", "ECDSA_SHA_256", input=b"m", code=None))
        assert "Engine unreachable" in err and server.url in err
        assert b"NOT reachable" in cli("engines", "test", "az", code=1).stdout
        cli("keys", "sign", "local", "--algorithm", "ED25519", input=b"m")  # other engines keep working
        server.start()
        cli("engines", "test", "az")
        cli("keys", "sign", "remote", "--algorithm", "ECDSA_SHA_256", input=b"m")
    finally:
        server.stop()
