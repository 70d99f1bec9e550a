"""The installed ``kms-tui`` in a real terminal (tmux): start, find a key, read its detail."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.cli.runner import KMS_TUI

TMUX = shutil.which("tmux")


def capture(socket: str) -> str:
    return subprocess.run([TMUX, "-L", socket, "capture-pane", "-p", "-t", "smoke"],
                          capture_output=True, text=True, timeout=10).stdout


def wait_for(socket: str, text: str, timeout: float = 20.0) -> str:
    deadline, screen = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        screen = capture(socket)
        if text in screen:
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")


def test_installed_tui_in_tmux_shows_a_keys_detail(process_cli, tmp_path):
    cli = process_cli  # the TUI process reads the keys and their secrets
    if TMUX is None:
        pytest.fail("tmux is not installed: run the suite with `bash tests/run.sh`, which installs it.")
    created = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "384", "--name", "smoke-root",
                       "--alias", "smoke-alias", "--tag", "smoke")
    cli("keys", "create", "--algorithm", "Ed25519", "--size", "256", "--name", "other-key")
    socket = f"kms-tui-smoke-{os.getpid()}"
    env_args = [arg for key, value in cli.env.items() if key in ("DBUS_SESSION_BUS_ADDRESS", "HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR")
                for arg in ("-e", f"{key}={value}")]
    command = f"{KMS_TUI} --data-dir {cli.data_dir}"
    subprocess.run([TMUX, "-L", socket, "new-session", "-d", "-s", "smoke", "-x", "100", "-y", "30", *env_args, command],
                   check=True, timeout=10, env={**cli.env, "TERM": "xterm-256color"})
    try:
        wait_for(socket, "2 keys")
        subprocess.run([TMUX, "-L", socket, "send-keys", "-t", "smoke", "/"], check=True, timeout=10)
        time.sleep(0.5)  # a person looks up before typing; focus moves on the next frame
        subprocess.run([TMUX, "-L", socket, "send-keys", "-t", "smoke", *"smoke"], check=True, timeout=10)
        wait_for(socket, "1 key ")
        # Enter in the filter opens the one key that matches.
        subprocess.run([TMUX, "-L", socket, "send-keys", "-t", "smoke", "Enter"], check=True, timeout=10)
        screen = wait_for(socket, "Key id")
        assert created["key_id"][:40] in screen
        assert "ECDSA 384" in screen and "smoke-alias" in screen and "HIGH" in screen
        subprocess.run([TMUX, "-L", socket, "send-keys", "-t", "smoke", "C-q"], check=True, timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "smoke" in subprocess.run(
                [TMUX, "-L", socket, "list-sessions"], capture_output=True, text=True).stdout:
            time.sleep(0.1)
    finally:
        subprocess.run([TMUX, "-L", socket, "kill-server"], capture_output=True, timeout=10)
