"""``kms-tui keys backup`` and ``keys restore`` on a real terminal (a pty as the controlling terminal).

The shares go to the terminal only: with stdout and stderr redirected to files, each custodian
sees their share there, confirms it was written down and re-types two of its words; the restore
takes three shares typed (not echoed) at the terminal, and none of them reaches stdout, stderr
or the command line.
"""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import time

import pytest

from kms_tui.cli import backup_cmds
from kms_tui.service.errors import InvalidInput
from tests.cli.runner import KMS_TUI
from tests.cli.terminal import _controlling_terminal, run_on_terminal

ALG = "ECDSA_SHA_256"
HEADER = re.compile(r"Share (\d+) \((\d+) words\), words \d+-\d+:")
WORD = re.compile(r"\b(\d+)\. ([a-z]+)")


def _env(cli) -> dict[str, str]:
    return {**os.environ, **cli.env, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def _shares_shown(shown: str) -> dict[int, list[str]]:
    """Custodian -> the words of the share the terminal showed them (clear-screens in between)."""
    shares: dict[int, dict[int, str]] = {}
    parts = HEADER.split(shown)
    for number, _, page in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        page = page.split("\x1b[2J")[0]
        shares.setdefault(int(number), {}).update({int(n): w for n, w in WORD.findall(page)})
    return {k: [words[n] for n in sorted(words)] for k, words in shares.items()}


def _answer(shown: str) -> str | None:
    """What a diligent custodian types at the prompt the terminal shows last."""
    tail = shown[-200:]
    word = re.search(r"Word #(\d+) of share (\d+):$", tail)
    if word:
        return _shares_shown(shown)[int(word.group(2))][int(word.group(1)) - 1]
    if re.search(r"Type WRITTEN once share \d+ is written down:$", tail):
        return "written"
    if re.search(r"(Press Enter to see share \d+|Press Enter for the next words):$", tail):
        return ""
    return None


def _backup_on_terminal(cli, tmp_path, *args: str) -> tuple[int, str, bytes, bytes]:
    """(exit code, what the terminal showed, stdout, stderr) of ``keys backup`` answered as custodians do."""
    with open(tmp_path / "stdout", "wb+") as out, open(tmp_path / "stderr", "wb+") as err:
        code, shown = _drive(cli, out, err, "keys", "backup", *args)
        out.seek(0)
        err.seek(0)
        return code, shown, out.read(), err.read()


def _drive(cli, out, err, *args: str) -> tuple[int, str]:
    """Run kms-tui with the pty as its controlling terminal and stdin, stdout and stderr to files."""
    master, slave = os.openpty()
    proc = subprocess.Popen([KMS_TUI, "--data-dir", str(cli.data_dir), *args], stdin=slave,
                            stdout=out, stderr=err, env=_env(cli), preexec_fn=_controlling_terminal, close_fds=True)
    os.close(slave)
    shown, answered_at, deadline = b"", 0, time.monotonic() + 30
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    shown += os.read(master, 65536)
                except OSError:
                    break
            answer = _answer(shown.decode(errors="replace")) if len(shown) > answered_at else None
            if answer is not None:
                answered_at = len(shown)
                os.write(master, answer.encode() + b"\n")
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code, shown.decode(errors="replace")


def test_backup_hands_shares_out_on_the_terminal_and_restore_takes_three(cli, tmp_path):
    for engine in ("soft-a", "soft-b"):
        cli("engines", "add", "GOLANG", "--id", engine, "--option", f"directory={tmp_path / engine}",
            "--option", "encrypt=false")
    bad = cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "x", "--engine", "soft-a",
              "--backup", "1-of-3", code=None)
    assert bad.returncode != 0 and b"threshold of 1 with 3 custodians" in bad.stderr
    key = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "root", "--engine", "soft-a",
                   "--backup", "3-of-5", "--json")
    assert b"Backup       policy 3-of-5; not backed up yet" in cli("keys", "show", "root").stdout
    taken = tmp_path / "taken.backup"
    taken.write_bytes(b"keep me")
    refused = cli("keys", "backup", "root", "--custodians", "5", "--threshold", "3", "--out", str(taken), code=None)
    assert refused.returncode != 0 and b"it is not overwritten" in refused.stderr and taken.read_bytes() == b"keep me"

    path = tmp_path / "root.backup"
    code, shown, stdout, stderr = _backup_on_terminal(
        cli, tmp_path, "root", "--custodians", "5", "--threshold", "3", "--out", str(path))
    assert code == 0, shown + stderr.decode()
    shares = _shares_shown(shown)
    assert sorted(shares) == [1, 2, 3, 4, 5] and all(len(words) == 33 for words in shares.values())
    assert shown.count("\x1b[2J") >= 10 and "All 5 shares were handed out" in shown
    assert "Only WRITTEN goes on" not in shown and "That is not word" not in shown  # answered right, once each
    assert shown.count("written\r\n") == 5 and len(re.findall(r"Word #\d+ of share \d+:", shown)) == 10
    digest = stdout.decode().split("SHA-256")[1].split()[0]
    assert f"file SHA-256 {digest[:16]}" in cli("keys", "show", "root").stdout.decode()
    for words in shares.values():
        assert " ".join(words[4:10]).encode() not in stdout + stderr

    typed = [" ".join(shares[k]) for k in (5, 1, 3)]
    code, restored = run_on_terminal(_env(cli), cli.data_dir, "keys", "restore", str(path), "--engine", "soft-b",
                                     "--name", "root-b", answers=typed, timeout=30)
    assert code == 0, restored
    assert "Restored root-b" in restored and restored.count("share is right") == 3
    assert not any(" ".join(shares[k][4:10]) in restored for k in (5, 1, 3))  # typed, never echoed
    copy = cli.json("keys", "show", "root-b", "--json")
    assert copy["key_id"] == key["key_id"] and copy["engine_id"] == "soft-b"
    again = cli("keys", "restore", str(path), "--engine", "soft-b", "--name", "root-c", "--shares-stdin",
                input="\n".join(typed) + "\n", code=None)
    assert again.returncode != 0 and b"already in engine 'soft-b'" in again.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.startswith("kms") and p.parent == cli.data_dir for p in files)  # the database, at least
    for file in files:  # the database, the log, the key files, the backup, stdout and stderr
        data = file.read_bytes()
        assert not any(" ".join(words[4:10]).encode() in data for words in shares.values()), file


def test_a_hand_out_cut_short_leaves_no_share_on_the_terminal():
    """The custodian's terminal closes (or Ctrl+C) while their share is shown: the screen and scroll-back are cleared."""
    share = " ".join(f"word{n}" for n in range(33))
    for answers in ("", "\n", "\nWRITTEN\n"):  # cut at the next page, at WRITTEN, at the words' check
        shown = io.StringIO()
        with pytest.raises(InvalidInput, match="terminal closed"):
            backup_cmds.show_share(backup_cmds.Terminal(io.StringIO(answers), shown), 1, share)
        assert "word32" in shown.getvalue() or "word19" in shown.getvalue()
        assert "word" not in shown.getvalue().rpartition(backup_cmds.CLEAR)[2]
