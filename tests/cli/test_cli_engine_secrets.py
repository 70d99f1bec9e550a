"""The at-rest passphrase through the CLI (and a real Secret Service on a terminal): never lost, shown only when asked."""

from __future__ import annotations

import shutil

from tests.cli.runner import CliRunner, ProcessCli
from tests.cli.terminal import run_on_terminal

ENGINE = "golang-default"


def _sign_ok(cli: CliRunner, name: str = "root") -> None:
    assert cli("keys", "sign", name, "--algorithm", "ECDSA_SHA_256", input=b"hello").stdout


def _create(cli: CliRunner, name: str = "root") -> None:
    cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", name)


def test_remove_keeps_the_passphrase_and_the_engine_back_on_its_directory_finds_it(cli):
    _create(cli)
    out = cli("engines", "remove", ENGINE, "--force").stdout.decode()
    assert "stays in the keyring" in out
    # The next command registers the default engine again, on the same directory.
    cli("sync", ENGINE)
    _sign_ok(cli, cli.json("keys", "list")[0]["key_id"])
    cli("engines", "remove", ENGINE, "--force")
    # Another data directory keeps nothing for these files: it asks, and never makes one up.
    other = cli.at(cli.data_dir.parent / "other-data")
    refused = other("engines", "add", "GOLANG", "--id", "soft-2", "--option", f"directory={cli.key_dir()}", code=3)
    assert b"never made up" in refused.stderr


def test_a_wrong_passphrase_is_refused_and_the_keys_still_sign(cli):
    _create(cli)
    proc = cli("engines", "secret", ENGINE, "--secret-stdin", input="x\n", code=None)
    assert proc.returncode != 0
    assert b"does not decrypt" in proc.stderr and b"engines rekey" in proc.stderr
    _sign_ok(cli)
    assert "kept in the OS keyring" in cli("engines", "show", ENGINE).stdout.decode()


def test_rekey_then_sign(cli):
    _create(cli)
    out = cli.json("engines", "rekey", ENGINE, "--secret-stdin", input="the new passphrase\n")
    assert out["reencrypted"] == 1
    _sign_ok(cli)
    short = cli("engines", "rekey", ENGINE, "--secret-stdin", input="short\n", code=3)
    assert b"at least 12" in short.stderr
    _sign_ok(cli)


def test_a_copy_of_the_data_directory_cannot_break_the_original(cli, tmp_path):
    _create(cli)
    copy = cli.at(tmp_path / "copy")
    shutil.copytree(cli.data_dir, copy.data_dir, symlinks=True)
    _sign_ok(copy)
    copy("engines", "rekey", ENGINE, "--secret-stdin", input="the copy's passphrase\n")
    copy("engines", "remove", ENGINE, "--force")
    _sign_ok(cli)


def test_reveal_only_to_a_terminal_after_typing_the_engine_id(process_cli):
    cli = process_cli  # a real terminal and the real keyring
    _create(cli)
    refused = cli("engines", "secret", ENGINE, "--reveal", code=3)
    assert b"terminal" in refused.stderr
    code, shown = run_on_terminal(cli.env, cli.data_dir, "engines", "secret", ENGINE, "--reveal", answers=["nope"])
    assert code != 0 and "nothing was shown" in shown
    code, shown = run_on_terminal(cli.env, cli.data_dir, "engines", "secret", ENGINE, "--reveal", answers=[ENGINE])
    assert code == 0, shown
    secret = shown.strip().splitlines()[-1].strip()
    assert len(secret) >= 32
    rows = cli.json("audit", "list")
    assert sum(r["action"] == "engine.secret.reveal" for r in rows) == 1
    assert all(secret not in str(r) for r in rows)
    # The revealed passphrase is the one that opens the files: set again, it is accepted.
    cli("engines", "secret", ENGINE, "--secret-stdin", input=secret + "\n")


def test_without_a_keyring_a_mistyped_passphrase_encrypts_nothing(process_cli):
    cli = process_cli  # a real terminal, with and without the real keyring
    _create(cli)
    code, shown = run_on_terminal(cli.env, cli.data_dir, "engines", "secret", ENGINE, "--reveal", answers=[ENGINE])
    secret = shown.strip().splitlines()[-1].strip()
    no_keyring = {**cli.env, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    assert "not known: no keyring" in ProcessCli(no_keyring, cli.data_dir)("engines", "show", ENGINE).stdout.decode()
    args = ("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "second")
    code, shown = run_on_terminal(no_keyring, cli.data_dir, *args, answers=["mistyped passphrase"])
    assert code != 0 and "does not decrypt" in shown
    assert len(cli.json("keys", "list")) == 1
    code, shown = run_on_terminal(no_keyring, cli.data_dir, *args, answers=[secret])
    assert code == 0, shown
    assert len(cli.json("keys", "list")) == 2
    _sign_ok(cli, "second")
