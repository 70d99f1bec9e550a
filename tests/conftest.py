"""Fixtures shared by every test layer: a temporary data dir, an in-memory keyring, a Kms.

Test directories (``tmp_path`` and friends) live in memory when the machine has a roomy
``/dev/shm``: the store and the engines fsync what they write, which costs milliseconds a
call on a shared disk and proves nothing a test can observe (a killed process loses no
page cache either). ``--basetemp`` or ``PYTEST_DEBUG_TEMPROOT`` still choose the place.
"""

from __future__ import annotations

import os

import pytest

from kms_tui.service import Kms
from store import CredentialStore
from tests.memory_keyring import MemoryKeyring

MEMORY_TEMP_ROOT = "/dev/shm"
MEMORY_TEMP_FREE = 4 << 30  # bytes free, at least: the suite's directories, with pytest's three kept runs


def memory_temp_root() -> str | None:
    """``/dev/shm`` if tests can put their directories there: writable, executable (the crash tests
    load a copied SoftHSM2 library from theirs) and roomy; else None."""
    try:
        fs = os.statvfs(MEMORY_TEMP_ROOT)
    except OSError:
        return None
    usable = os.access(MEMORY_TEMP_ROOT, os.W_OK | os.X_OK) and not fs.f_flag & (os.ST_NOEXEC | os.ST_RDONLY)
    return MEMORY_TEMP_ROOT if usable and fs.f_bavail * fs.f_frsize >= MEMORY_TEMP_FREE else None


def use_memory_temp_root() -> None:
    """Unless a place was chosen; pytest reads it when it makes the first temporary directory."""
    root = memory_temp_root()
    if root is not None and "PYTEST_DEBUG_TEMPROOT" not in os.environ:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = root


use_memory_temp_root()


def share_parsed_css() -> None:
    """Textual parses every widget's CSS again for each App it starts; the suite starts hundreds
    of apps with the same CSS and theme in each worker. The parsed rules (never changed once
    made: a stylesheet already shares them between its own parses) are kept per process, keyed
    as Textual keys its per-stylesheet cache, plus the theme's variables that parsing reads."""
    from textual.css.stylesheet import Stylesheet

    parse_rules = Stylesheet._parse_rules
    parsed: dict = {}

    def shared(self, css, read_from, is_default_rules=False, tie_breaker=0, scope=""):
        key = (css, read_from, is_default_rules, tie_breaker, scope, tuple(sorted(self._variables.items())))
        try:
            return parsed[key]
        except KeyError:
            rules = parsed[key] = parse_rules(self, css, read_from, is_default_rules, tie_breaker, scope)
            return rules

    Stylesheet._parse_rules = shared


share_parsed_css()


async def tables_measured(pilot, timeout: float = 10.0) -> None:
    """Until every DataTable on the screen has measured its rows: a table sizes its columns on
    its next idle, which a loaded machine can leave until after a snapshot is taken."""
    import time

    from textual.widgets import DataTable

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(table._require_update_dimensions for table in pilot.app.screen.query(DataTable)):
            return
        await pilot.pause(0.01)


@pytest.fixture
def snap_compare(snap_compare):
    """pytest-textual-snapshot's snap_compare, the screenshot taken once the screen's tables are laid out."""
    import inspect

    def compare(app, *args, run_before=None, **kwargs):
        async def before(pilot):
            if run_before is not None:
                done = run_before(pilot)
                if inspect.isawaitable(done):
                    await done
            await tables_measured(pilot)

        return snap_compare(app, *args, run_before=before, **kwargs)

    return compare


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


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
KEYRING_PASSWORD = b"keyring-password-for-tests"


class SecretServiceHost:
    """A private D-Bus session bus (no service activation: nothing but this daemon may own
    org.freedesktop.secrets, and no prompter is ever started) with gnome-keyring on it."""

    def __init__(self, base):
        import os
        import subprocess

        self.base = base
        runtime = base / "run"
        runtime.mkdir(mode=0o700)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS")}
        env.update(HOME=str(base), XDG_DATA_HOME=str(base / "data"), XDG_RUNTIME_DIR=str(runtime),
                   XDG_CONFIG_HOME=str(base / "config"))
        config = base / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=runtime / "bus"))
        self.bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
        )
        env["DBUS_SESSION_BUS_ADDRESS"] = self.bus.stdout.readline().strip()
        self.env = env
        self.daemon = None
        self.restarts: list[str] = []

    def start_daemon(self) -> None:
        """gnome-keyring-daemon, unlocking the login keyring (made on first start, kept on disk)."""
        import subprocess
        import sys
        import time

        with open(self.base / "gnome-keyring.log", "ab") as log:  # the daemon keeps its own descriptor
            self.daemon = subprocess.Popen(
                ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log, env=self.env,
            )
        self.daemon.stdin.write(KEYRING_PASSWORD)
        self.daemon.stdin.close()
        probe = ("import secretstorage; c = secretstorage.dbus_init(); "
                 "assert not secretstorage.get_default_collection(c).is_locked()")
        for _ in range(100):
            if subprocess.run([sys.executable, "-c", probe], env=self.env, capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        pytest.fail(f"gnome-keyring did not come up on the private D-Bus session (log: {self.base}/gnome-keyring.log)")

    def ensure_running(self) -> str | None:
        """Start the daemon again if it has exited; says how it had ended, or None."""
        if self.daemon.poll() is None:
            return None
        ended = f"gnome-keyring-daemon had exited with {self.daemon.returncode}"
        self.restarts.append(ended)
        self.start_daemon()
        return ended

    def stop(self) -> None:
        import subprocess

        for proc in (self.daemon, self.bus):
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def secret_service_host(tmp_path_factory):
    """One Secret Service for the test session (per xdist worker), stopped at its end."""
    import shutil

    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run the suite with `bash tests/run.sh`, which installs it.")
    host = SecretServiceHost(tmp_path_factory.mktemp("secret-service"))
    try:
        host.start_daemon()
        yield host
    finally:
        host.stop()


@pytest.fixture
def secret_service(secret_service_host, record_property):
    """A real Secret Service: a private D-Bus session bus with an unlocked gnome-keyring.

    Yields the environment (for subprocesses) that points at it. Should the daemon
    have died (gnome-keyring-daemon can abort on a client's race), it is started
    again on the same keyring files, and the restart is counted in the figures.
    """
    ended = secret_service_host.ensure_running()
    if ended:
        record_property("figure-count", (f"Secret Service restarts ({ended})", 1))
    return secret_service_host.env


def pytest_collection_modifyitems(config, items):
    """Tests marked slow (tens of seconds each) are handed out first, so that the workers
    end on short tests together instead of one finishing a long test alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_collection_finish(session):
    """Python's cycle collector, tuned for a process that runs thousands of tests.

    Everything imported and collected by now lives as long as the process: frozen, the
    full collections no longer walk it. Each app a test starts makes hundreds of thousands
    of short-lived objects (styles, strips, messages); collecting the youngest generation
    every 700 of them cost the Textual tests about a sixth of their time. Cycles are still
    collected, less often; nothing a test checks depends on when.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 20, 10)


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
