"""Run the installed ``kms-tui`` command against a real Secret Service."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

KMS_TUI = str(Path(sys.executable).with_name("kms-tui"))


class Cli:
    def __init__(self, env: dict[str, str], data_dir: Path):
        self.env = env
        self.data_dir = data_dir

    def __call__(self, *args: str, input: bytes | str | None = None, code: int | None = 0) -> subprocess.CompletedProcess:
        if isinstance(input, str):
            input = input.encode()
        proc = subprocess.run(
            [KMS_TUI, "--data-dir", str(self.data_dir), *args],
            input=input, capture_output=True, env=self.env, timeout=120,
        )
        if code is not None:
            assert proc.returncode == code, (
                f"kms-tui {' '.join(args)} exited {proc.returncode}, wanted {code}\n"
                f"stdout: {proc.stdout.decode(errors='replace')[-2000:]}\nstderr: {proc.stderr.decode(errors='replace')[-2000:]}"
            )
        return proc

    def json(self, *args: str, input: bytes | str | None = None):
        return json.loads(self(*args, "--json", input=input).stdout)

    def key_dir(self, engine_id: str = "golang-default") -> Path:
        return self.data_dir / "keys" / engine_id


@pytest.fixture
def cli(secret_service, tmp_path) -> Cli:
    return Cli(secret_service, tmp_path / "data")
