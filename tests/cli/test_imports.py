"""Each one-shot command imports only what it uses.

A command runs as the installed entry point does (``kms_tui.cli:entry``) in a fresh
interpreter, which reports the modules it holds when it exits. Nothing of an engine SDK,
Textual or rich, YAML, the ceremony package or another noun's handlers may be among them;
``--version`` and ``--help`` load neither the service nor cryptography nor SQLite; ``keys list``
loads no key-material code (cryptography, its SSH serialisation, engines.keys); ``keys sign``
reaches the Secret Service without importing ``keyring`` (whose import and entry-point
discovery alone cost more than the command's budget), and one signature loads nothing of
batches, new keys, deletion or rotations.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

SDKS = ("boto3", "botocore", "azure", "hvac", "pkcs11")
NEVER = (*SDKS, "textual", "rich", "yaml", "kms_tui.ceremony", "kms_tui.app")
HANDLERS = tuple(f"kms_tui.cli.{m}" for m in ("ceremony_cmds", "deletion_cmds", "doctor_cmds", "engine_cmds",
                                               "key_cmds", "misc_cmds"))
SSH = "cryptography.hazmat.primitives.serialization.ssh"
NOTHING_BEHIND = ("cryptography", "sqlite3", "keyring", "secretstorage", "engines", "kms_tui.service.core",
                  "store.db", "importlib.metadata")
PROBE = ("import atexit, sys\n"
         "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n'))\n"
         "sys.argv[0] = 'kms-tui'\n"
         "from kms_tui.cli import entry\n"
         "entry()\n")


def modules_of(argv: list[str], env: dict[str, str] | None = None, stdin: bytes = b"") -> tuple[int, set[str]]:
    """(exit code, the modules loaded) of ``kms-tui ARGV`` in a new interpreter."""
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], input=stdin, capture_output=True, env=env, timeout=60)
    lines = [line for line in done.stderr.decode().splitlines() if line.startswith("MODULES ")]
    assert lines, done.stderr.decode()[-2000:]
    return done.returncode, set(lines[-1].split()[1:])


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    """The modules that are one of ``packages`` or inside one of them."""
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_the_probe_sees_what_a_command_imports():
    code, modules = modules_of(["--version"])
    assert code == 0 and {"kms_tui.cli", "argparse"} <= modules
    assert loaded(modules, ("argparse",)) == ["argparse"] and loaded(modules, ("rich",)) == []


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_load_nothing_behind_the_parser(flag, tmp_path):
    code, modules = modules_of([flag, "--data-dir", str(tmp_path / "never-made")])
    assert code == 0
    assert loaded(modules, NEVER + HANDLERS + NOTHING_BEHIND) == []
    assert not (tmp_path / "never-made").exists()


@pytest.mark.parametrize("output", [["--json"], []])
def test_keys_list_loads_its_handler_and_no_key_material_code(tmp_path, output):
    argv = ["--data-dir", str(tmp_path / "data"), "keys", "list", *output]
    assert modules_of(argv)[0] == 0  # the first run makes the data directory and its default engine
    code, modules = modules_of(argv)
    assert code == 0
    assert {"kms_tui.cli.key_cmds", "store.db"} <= modules
    unwanted = NEVER + tuple(h for h in HANDLERS if not h.endswith("key_cmds"))
    no_key_material = ("cryptography", SSH, "engines.keys", "engines.software", "keyring", "secretstorage")
    assert loaded(modules, unwanted + no_key_material + ("importlib.metadata",)) == []


def test_keys_sign_on_the_software_engine_reads_the_secret_service_without_keyring(process_cli, tmp_path):
    process_cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "k")
    message = tmp_path / "message.txt"
    message.write_bytes(b"a small file to sign\n")
    argv = ["--data-dir", str(process_cli.data_dir), "keys", "sign", "k", "--algorithm", "ECDSA_SHA_256",
            "--in", str(message), "--out", str(tmp_path / "sig")]
    code, modules = modules_of(argv, process_cli.env)
    assert code == 0 and (tmp_path / "sig").stat().st_size > 0
    assert {"secretstorage", "store.secret_service", "engines.software.engine"} <= modules
    unwanted = NEVER + tuple(h for h in HANDLERS if not h.endswith("key_cmds"))
    one_signature_needs_none_of = (  # batches, new keys, deletion, rotations, PKCS#11 URIs, Lamassu output
        "kms_tui.batch", "kms_tui.service.batch_run", "concurrent.futures", "kms_tui.service.new_keys",
        "kms_tui.service.compat", "kms_tui.service.deletion", "kms_tui.service.rotation_links",
        "kms_tui.service.key_uris", "kms_tui.cli.lamassu_output")
    assert loaded(modules, unwanted + one_signature_needs_none_of + (
        "keyring", "importlib.metadata", "kms_tui.service.doctor", "kms_tui.service.audit",
        "kms_tui.service.inventory")) == []


def _handler_refs(parser, path="kms-tui"):
    """(command, handler reference) of every verb of the tree."""
    import argparse

    if "handler" in parser._defaults:
        yield path, parser._defaults["handler"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _handler_refs(sub, f"{path} {name}")


def test_every_verb_names_a_handler_that_exists():
    """Handlers are named, not imported, while the tree is built: each name must reach a function."""
    from kms_tui.cli.parser import build_parser
    from kms_tui.cli.parsers.options import resolve_handler

    refs = dict(_handler_refs(build_parser()))
    assert len(refs) >= 37 and "kms-tui keys sign" in refs and "kms-tui doctor" in refs
    for command, ref in refs.items():
        assert isinstance(ref, str) and callable(resolve_handler(ref)), command
