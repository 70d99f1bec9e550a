"""Fixtures shared by every test layer: a temporary data dir, an in-memory keyring, a Kms."""

from __future__ import annotations

import pytest

from kms_tui.service import Kms
from store import CredentialStore
from tests.memory_keyring import MemoryKeyring


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def kms(data_dir, memory_keyring):
    with Kms(data_dir, credentials=CredentialStore(backend=memory_keyring)) as service:
        yield service


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory):
    """A real Secret Service: a private D-Bus session bus with an unlocked gnome-keyring.

    Yields the environment (for subprocesses) that points at it. Started once per
    test session and stopped at its end; its keyring files live in a temp dir.
    """
    import os
    import shutil
    import subprocess
    import sys
    import time

    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run the suite with `bash tests/run.sh`, which installs it.")
    base = tmp_path_factory.mktemp("secret-service")
    runtime = base / "run"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS")}
    env.update(HOME=str(base), XDG_DATA_HOME=str(base / "data"), XDG_RUNTIME_DIR=str(runtime),
               XDG_CONFIG_HOME=str(base / "config"))
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1", f"--address=unix:path={runtime}/bus"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )
    env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    daemon.stdin.write(b"keyring-password-for-tests")
    daemon.stdin.close()
    probe = "import secretstorage; assert secretstorage.check_service_availability(secretstorage.dbus_init())"
    try:
        for _ in range(100):
            if subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail("gnome-keyring did not come up on the private D-Bus session")
        yield env
    finally:
        for proc in (daemon, bus):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def pytest_collection_modifyitems(config, items):
    """Tests that share a fixed UI data directory run on one xdist worker, one after the other.

    Snapshots show paths (the software engine's directory, files the wizards
    read and write), so those directories are the same on every run and locked;
    grouping keeps two workers from waiting on each other's lock while every
    other test spreads freely.
    """
    for item in items:
        defs = getattr(item, "_fixtureinfo", None)
        chain = defs.name2fixturedefs.get("ui_kms") if defs is not None else None
        if chain:
            item.add_marker(pytest.mark.xdist_group(f"ui-data:{chain[-1].func.__module__}"))


def pytest_terminal_summary(terminalreporter):
    """The figures tests recorded (kills survived, inputs tried, sentinels scanned, …), one per line.

    Tests record them as ``("figure", text)`` user properties, which xdist carries
    back from its workers (a print in a worker would never reach this terminal).
    """
    # A test's teardown report carries every property it recorded, fixtures' teardowns included.
    reports = [report for reports in terminalreporter.stats.values() for report in reports
               if getattr(report, "when", None) == "teardown"]
    lines = [f"{report.nodeid.split('::')[-1]}: {value}"
             for report in reports for name, value in report.user_properties if name == "figure"]
    counts: dict[str, int] = {}
    for report in reports:
        for name, value in report.user_properties:
            if name == "figure-count":
                label, n = value
                counts[label] = counts.get(label, 0) + n
    lines += [f"{label}: {n}" for label, n in sorted(counts.items())]
    if lines:
        terminalreporter.section("figures")
        for line in lines:
            terminalreporter.write_line(line)
