"""What the CLI says: every option explains itself, Ed25519 needs no --size, a wrong-length signature says so."""

from __future__ import annotations

import argparse
import os

from kms_tui.cli.parser import build_parser


def _undocumented(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _undocumented(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            yield f"{path} {'/'.join(action.option_strings) or action.dest}"


def test_every_option_and_argument_has_help_text():
    assert list(_undocumented(build_parser(), "kms-tui")) == []


def test_ed25519_needs_no_size_and_the_others_say_which_size(cli):
    created = cli.json("keys", "create", "--algorithm", "Ed25519", "--name", "ed")
    assert (created["algorithm"], created["size"]) == ("Ed25519", 256)
    err = cli("keys", "create", "--algorithm", "RSA", "--name", "r", code=3).stderr
    assert b"--size" in err and b"RSA 2048/3072/4096" in err
    assert [k["name"] for k in cli.json("keys", "list")] == ["ed"]


def test_a_signature_of_the_wrong_length_is_reported_as_such(cli, tmp_path):
    cli("keys", "create", "--algorithm", "RSA", "--size", "2048", "--name", "rsa")
    cli("keys", "create", "--algorithm", "Ed25519", "--name", "ed")
    junk = tmp_path / "junk.sig"
    junk.write_bytes(os.urandom(1221))
    for ref, alg, said in (("rsa", "RSASSA_PSS_SHA_256", b"An RSA-2048 signature is 256 bytes; this one is 1221."),
                           ("ed", "ED25519", b"An Ed25519 signature is 64 bytes; this one is 1221.")):
        for through_engine in ((), ("--engine-verify",)):
            err = cli("keys", "verify", ref, "--algorithm", alg, "--signature", str(junk), "--encoding", "raw",
                      *through_engine, input=b"payload", code=3).stderr
            assert said in err and b"INVALID" not in err, err
