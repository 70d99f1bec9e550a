"""Two ways for tests to run ``kms-tui NOUN VERB …``: in this process, or as the installed command.

``InProcessCli`` calls ``kms_tui.cli.main`` here, with standard streams over memory
built as Python builds them over pipes, the root logger as a new process has it,
an in-memory keyring and environment variables set only while the command runs.
A call costs milliseconds instead of a process start (~0.3 s and more).

``ProcessCli`` starts the installed ``kms-tui`` with a given environment (usually
the test session's real Secret Service): for what only a process shows (see
tests/cli/conftest.py for which to use when).

Both return a ``subprocess.CompletedProcess`` (``returncode``, ``stdout`` and
``stderr`` as bytes) and check the exit code unless ``code=None``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from kms_tui.cli import main
from store import CredentialStore
from tests.memory_keyring import MemoryKeyring

KMS_TUI = str(Path(sys.executable).with_name("kms-tui"))
PIPE_COLUMNS = "80"  # what argparse formats help for when stdout is a pipe and COLUMNS is unset


class CliRunner:
    """What both runners share: the data directory, the exit-code check, JSON, the key directory."""

    data_dir: Path

    def __call__(self, *args: str, input: bytes | str | None = None, code: int | None = 0
                 ) -> subprocess.CompletedProcess:
        if isinstance(input, str):
            input = input.encode()
        proc = self._run(["--data-dir", str(self.data_dir), *args], input)
        if code is not None:
            assert proc.returncode == code, (
                f"kms-tui {' '.join(args)} exited {proc.returncode}, wanted {code}\n"
                f"stdout: {proc.stdout.decode(errors='replace')[-2000:]}\n"
                f"stderr: {proc.stderr.decode(errors='replace')[-2000:]}"
            )
        return proc

    def _run(self, argv: list[str], input: bytes | None) -> subprocess.CompletedProcess:
        raise NotImplementedError

    def json(self, *args: str, input: bytes | str | None = None) -> Any:
        return json.loads(self(*args, "--json", input=input).stdout)

    def key_dir(self, engine_id: str = "golang-default") -> Path:
        return self.data_dir / "keys" / engine_id


class ProcessCli(CliRunner):
    """The installed ``kms-tui`` in a subprocess with exactly the environment ``env`` (None: this one's)."""

    def __init__(self, env: dict[str, str] | None, data_dir: Path):
        self.env = env
        self.data_dir = data_dir

    def at(self, data_dir: Path) -> ProcessCli:
        """The same command and environment (so the same keyring) on another data directory."""
        return ProcessCli(self.env, data_dir)

    def _run(self, argv: list[str], input: bytes | None) -> subprocess.CompletedProcess:
        return subprocess.run([KMS_TUI, *argv], input=input, capture_output=True, env=self.env, timeout=120)


class InProcessCli(CliRunner):
    """``kms_tui.cli.main`` in this process; its keyring lives as long as this object.

    ``env`` holds variables set while a command runs (None: unset), on top of this
    process's environment. ``at`` gives a runner on another data directory sharing
    the keyring, as two directories on one machine share its Secret Service.
    """

    def __init__(self, data_dir: Path, *, keyring: MemoryKeyring | None = None,
                 env: Mapping[str, str | None] | None = None):
        self.data_dir = data_dir
        self.keyring = keyring if keyring is not None else MemoryKeyring()
        self.env = dict(env or {})

    def at(self, data_dir: Path) -> InProcessCli:
        return InProcessCli(data_dir, keyring=self.keyring, env=self.env)

    def _run(self, argv: list[str], input: bytes | None) -> subprocess.CompletedProcess:
        return run_main(argv, input or b"", CredentialStore(backend=self.keyring), self.env)


def run_main(argv: list[str], stdin: bytes, credentials: CredentialStore,
             env: Mapping[str, str | None]) -> subprocess.CompletedProcess:
    """``main(argv)`` with ``stdin`` as standard input; its exit status and everything it wrote.

    An exception ``main`` lets out is raised here, traceback and all (a process would exit 1).
    """
    out, err = io.BytesIO(), io.BytesIO()
    streams = {
        "stdin": _reader(stdin, sys.__stdin__),
        "stdout": _writer(out, sys.__stdout__, line_buffering=False),
        "stderr": _writer(err, sys.__stderr__, line_buffering=True),  # as Python does since 3.9
    }
    with pytest.MonkeyPatch.context() as patch, _as_a_new_process_logs():
        _set_environment(patch, env)
        for name, stream in streams.items():
            patch.setattr(sys, name, stream)
        try:
            code = _exit_status(main(argv, credentials=credentials))
        except SystemExit as exc:  # argparse: --help, usage errors
            code = _exit_status(exc.code)
        finally:
            streams["stdout"].flush()
            streams["stderr"].flush()
    return subprocess.CompletedProcess(["kms-tui", *argv], code, out.getvalue(), err.getvalue())


def _reader(data: bytes, like: Any) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BufferedReader(io.BytesIO(data)), encoding=like.encoding, errors=like.errors,
                            newline="\n")


def _writer(sink: io.BytesIO, like: Any, *, line_buffering: bool) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BufferedWriter(sink), encoding=like.encoding, errors=like.errors, newline="\n",
                            line_buffering=line_buffering)


def _set_environment(patch: pytest.MonkeyPatch, env: Mapping[str, str | None]) -> None:
    for name, value in env.items():
        if value is None:
            patch.delenv(name, raising=False)
        else:
            patch.setenv(name, value)
    if "COLUMNS" not in os.environ:  # this process's stdout may be a terminal; a command's is a pipe
        patch.setenv("COLUMNS", PIPE_COLUMNS)


def _exit_status(code: object) -> int:
    """The exit status a process would end with, as ``sys.exit(code)`` sets it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


@contextlib.contextmanager
def _as_a_new_process_logs() -> Iterator[None]:
    """The root logger without handlers, at WARNING, as in a new process (pytest's capture set
    aside): warnings before the log file is open reach stderr through logging's last resort.
    A handler left behind by the command fails the test: ``main`` runs many times in a process."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        yield
        left = root.handlers[:]
        assert not left and root.level == logging.WARNING, f"kms-tui left logging changed: {left}, {root.level}"
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def home_env(home: Path) -> dict[str, str]:
    """A home of the test's own, so nothing of the machine's user (~/.aws, ~/.config) is read."""
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share")}
