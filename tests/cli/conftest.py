"""The ``cli`` fixture runs commands in this process; ``process_cli`` runs the installed ``kms-tui``."""

from __future__ import annotations

import pytest

from tests.cli.runner import InProcessCli, ProcessCli, home_env


@pytest.fixture
def cli(tmp_path) -> InProcessCli:
    """``kms-tui`` commands run in this process through ``kms_tui.cli.main``: the default.

    Same call as ``process_cli`` and the same result (exit code, stdout and stderr as
    bytes, output byte for byte as the process writes it), at a fraction of the cost.
    Secrets go to an in-memory keyring that lasts as long as the fixture, so commands
    see each other's; ``cli.at(dir)`` shares it with another data directory. Use it for
    what a command does, says and stores, and for its exit codes as ``main`` returns them.
    """
    return InProcessCli(tmp_path / "data", env=home_env(tmp_path / "home"))


@pytest.fixture
def process_cli(secret_service, tmp_path) -> ProcessCli:
    """The installed ``kms-tui`` as a subprocess, against the session's real Secret Service.

    Use it only when the process boundary is the point: exit codes of the real entry
    point, signals and KeyboardInterrupt, the argv of processes (secret-leak scans), the
    real keyring daemon, terminals (tests/cli/terminal.py, tmux), other processes sharing
    the data directory or its secrets, a PKCS#11 module (it reads its configuration once
    per process), start-up without Textual. Each test module keeps at least one test of
    its main path on it.
    """
    return ProcessCli(secret_service, tmp_path / "data")
