"""The in-process runner answers as the installed command does: same exit codes, same bytes out."""

from __future__ import annotations

import logging
import re

SAME_ANSWER = [  # (argv, stdin): JSON, a table, binary output, a refusal, usage errors, help
    (("keys", "list", "--json"), None),
    (("keys", "show", "ed"), None),
    (("keys", "export-public", "ed", "--format", "der"), None),
    (("keys", "sign", "ed", "--algorithm", "ED25519", "--encoding", "raw"), b"a message\n"),
    (("keys", "sign", "ed", "--algorithm", "ED25519", "--batch", "-", "--input-encoding", "hex"), b"00ff\nzz\n"),
    (("keys", "sign", "no-such-key", "--algorithm", "ED25519"), b"m"),
    (("keys", "list", "--limit", "0"), None),
    (("engines", "add", "GOLANG", "--id", "x", "--secret", "s"), None),
    (("--help",), None),
    (("keys", "sign", "--help"), None),
]


TIMING = re.compile(rb"in [0-9.]+ s, [0-9,.]+/s")  # a batch's summary says how fast it went


def answer(proc) -> tuple[int, bytes, bytes]:
    return proc.returncode, proc.stdout, TIMING.sub(b"in <time>", proc.stderr)


def test_in_process_output_is_the_process_output_byte_for_byte(cli, process_cli):
    """Both on one data directory with an Ed25519 key on a clear software engine: no secret,
    so each runner's own keyring is out of play."""
    process = process_cli.at(cli.data_dir)
    process("engines", "add", "GOLANG", "--id", "clear", "--option", "encrypt=false", "--default")
    process("keys", "create", "--algorithm", "Ed25519", "--size", "256", "--name", "ed", "--tag", "red\x1b[31m")
    differ = []
    for args, stdin in SAME_ANSWER:
        by_process, in_process = answer(process(*args, input=stdin, code=None)), answer(cli(*args, input=stdin, code=None))
        if in_process != by_process:
            differ.append((args, in_process, by_process))
    assert differ == []


def test_commands_in_process_leave_logging_and_the_log_file_as_they_found_them(cli):
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    for _ in range(3):
        cli("keys", "list")
    assert root.handlers == handlers and root.level == level
    assert (cli.data_dir / "kms-tui.log").exists()
