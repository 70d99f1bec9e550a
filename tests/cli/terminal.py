"""Run ``kms-tui`` on a pseudo-terminal, typing answers at its prompts as an operator would."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import termios
import time

from tests.cli.runner import KMS_TUI


def _controlling_terminal() -> None:  # pragma: no cover - runs in the child
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_terminal(env: dict[str, str], data_dir, *args: str, answers: list[str] = (), timeout: float = 60.0
                    ) -> tuple[int, str]:
    """(exit code, everything the terminal showed). Each answer is typed after a prompt ending in ': '."""
    master, slave = os.openpty()
    proc = subprocess.Popen([KMS_TUI, "--data-dir", str(data_dir), *args], stdin=slave, stdout=slave,
                            stderr=slave, env=env, preexec_fn=_controlling_terminal, close_fds=True)
    os.close(slave)
    pending, shown, answered_at = list(answers), b"", 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            if pending and shown.rstrip(b" ").endswith(b":") and len(shown) > answered_at:
                answered_at = len(shown)
                os.write(master, pending.pop(0).encode() + b"\n")
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code, shown.decode(errors="replace")
