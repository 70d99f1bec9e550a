"""Secrets through a real Secret Service, and the no-keyring path on a real terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

from tests.cli.runner import KMS_TUI


def _keyring_get(env, service, username):
    code = "import keyring,sys; print(keyring.get_password(sys.argv[1], sys.argv[2]) or '')"
    out = subprocess.run([sys.executable, "-c", code, service, username], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_secret_service_round_trip(process_cli):
    cli = process_cli  # the real keyring daemon
    created = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "k")
    import sqlite3

    with sqlite3.connect(cli.data_dir / "kms.db") as con:
        namespace = con.execute("SELECT value FROM meta WHERE key = 'instance_id'").fetchone()[0]
    secret = _keyring_get(cli.env, "kms-tui", f"{namespace}/engine/golang-default")
    assert len(secret) >= 32  # generated at first use, stored in gnome-keyring
    # Another process reads it back from the keyring to decrypt the key and sign.
    cli("keys", "sign", created["key_id"], "--algorithm", "ECDSA_SHA_256", input=b"m")
    # It is nowhere on disk in our files.
    for path in cli.data_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    # A second engine's secret given on stdin lands in the keyring; removing the engine removes it.
    cli("engines", "add", "GOLANG", "--id", "second", "--option", f"directory={cli.data_dir}/k2", "--secret-stdin",
        input="operator chosen passphrase\n")
    assert _keyring_get(cli.env, "kms-tui", f"{namespace}/engine/second") == "operator chosen passphrase"
    cli("engines", "remove", "second")
    assert _keyring_get(cli.env, "kms-tui", f"{namespace}/engine/second") == ""


def _run_in_pty(argv, env, answers, timeout=60.0):
    """Run argv on a real pseudo-terminal, answering prompts; returns (exit code, transcript)."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execve(argv[0], argv, env)
    transcript, pending, deadline = b"", list(answers), time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            transcript += chunk
        if pending and pending[0][0] in transcript:
            os.write(fd, pending.pop(0)[1])
            transcript += b"<answered>"
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), transcript


def test_no_keyring_first_run_asks_twice_and_keeps_the_passphrase_in_memory(tmp_path):
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", HOME=str(tmp_path))
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    data = str(tmp_path / "data")
    argv = [KMS_TUI, "--data-dir", data, "keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "k"]
    code, out = _run_in_pty(argv, env, [(b"passphrase: ", b"first try\n"), (b"Repeat", b"different\n")])
    assert code == 3 and b"differ" in out
    code, out = _run_in_pty(argv, env, [(b"passphrase: ", b"memorable words\n"), (b"Repeat", b"memorable words\n")])
    assert code == 0, out
    assert b"no usable backend" in out and b"kept in memory" in out
    sign = [KMS_TUI, "--data-dir", data, "keys", "sign", "k", "--algorithm", "ECDSA_SHA_256", "--in", "/dev/null"]
    code, out = _run_in_pty(sign, env, [(b"passphrase: ", b"memorable words\n")])
    assert code == 0 and b"Repeat" not in out, out
    code, out = _run_in_pty(sign, env, [(b"passphrase: ", b"wrong words\n")])
    assert code == 3 and b"Wrong passphrase" in out
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert b"memorable words" not in path.read_bytes(), path
    # Without a terminal there is nobody to ask: a clear error, not a hang.
    proc = subprocess.run(sign, env=env, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 3 and b"No keyring available" in proc.stderr


def test_the_test_secret_service_restarts_with_its_secrets(secret_service_host, process_cli):
    """The suite's own Secret Service: a daemon that died is started again on the same
    keyring files (unlocked), so secrets stored before are still there."""
    cli = process_cli  # the real keyring daemon
    created = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "k")
    secret_service_host.daemon.kill()
    secret_service_host.daemon.wait(10)
    before = len(secret_service_host.restarts)
    assert secret_service_host.ensure_running() is not None
    assert len(secret_service_host.restarts) == before + 1
    cli("keys", "sign", created["key_id"], "--algorithm", "ECDSA_SHA_256", input=b"m")
