"""A TUI session and CLI processes on one database for 12 seconds (longer with
``KMS_TUI_CONCURRENCY_SECONDS``, e.g. 600 for a soak).

The TUI (Pilot, in process, every call through its thread workers) and two
streams of ``kms-tui`` processes create, sign, edit (tags on one shared key,
renames) and sync at the same time. No "database is locked" may reach a user
(CLI exit codes and stderr, the TUI's error modal), no update may be lost (every
created key recorded under its final name, every tag added to the shared key
present), and the audit chain must verify.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from kms_tui.app import KmsApp
from kms_tui.service import Kms
from store import CredentialStore
from tests.memory_keyring import MemoryKeyring
from tests.pilot import until
from tests.reliability.fixtures_hostile import report

KMS_TUI = str(Path(sys.executable).with_name("kms-tui"))
SECONDS = float(os.environ.get("KMS_TUI_CONCURRENCY_SECONDS", "12"))
ENGINE = "plain"  # clear-file software engine: no keyring needed by either side
CLI_STREAMS = 2


class CliStream(threading.Thread):
    """One operator's script: create, sign, tag the shared key, rename, sync, until the deadline."""

    def __init__(self, data_dir: Path, n: int, deadline: float, env: dict[str, str]):
        super().__init__(daemon=True)
        self.data_dir, self.n, self.deadline, self.env = data_dir, n, deadline, env
        self.ops: Counter[str] = Counter()
        self.failures: list[str] = []
        self.names: list[str] = []
        self.tags: list[str] = []

    def run_cli(self, op: str, *args: str, input: bytes | None = None) -> None:
        proc = subprocess.run([KMS_TUI, "--data-dir", str(self.data_dir), *args], input=input,
                              capture_output=True, timeout=120, env=self.env)
        self.ops[op] += 1
        stderr = proc.stderr.decode(errors="replace")
        if proc.returncode != 0 or "locked" in stderr.lower() or "busy" in stderr.lower():
            self.failures.append(f"{' '.join(args)} -> {proc.returncode}: {stderr.strip()[:300]}")

    def run(self) -> None:
        i = 0
        while time.monotonic() < self.deadline:
            name = f"cli-{self.n}-{i}"
            self.run_cli("create", "keys", "create", "--engine", ENGINE, "--algorithm", "ECDSA", "--size", "256",
                         "--name", name)
            self.run_cli("sign", "keys", "sign", name, "--algorithm", "ECDSA_SHA_256", input=b"message")
            tag = f"cli-{self.n}-{i}"
            self.run_cli("tag", "keys", "tag", "add", "shared", tag)
            self.tags.append(tag)
            if i % 2:
                self.run_cli("rename", "keys", "rename", name, f"{name}-renamed")
                name = f"{name}-renamed"
            if i % 3 == 2:
                self.run_cli("sync", "sync", ENGINE)
            self.names.append(name)
            i += 1


@pytest.fixture
def shared_dir(tmp_path):
    data = tmp_path / "data"
    with Kms(data, credentials=CredentialStore(backend=MemoryKeyring())) as kms:
        kms.engines.register("GOLANG", ENGINE, options={"encrypt": "false", "directory": str(tmp_path / "keys")})
        kms.keys.create("ECDSA", 256, "shared", engine_id=ENGINE)
    return data


@pytest.mark.slow
async def test_tui_and_cli_processes_share_one_database(shared_dir, tmp_path, request):
    env = {k: v for k, v in os.environ.items() if k not in ("DBUS_SESSION_BUS_ADDRESS",)}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # proves no keyring is involved
    kms = Kms(shared_dir, credentials=CredentialStore(backend=MemoryKeyring()))
    shown: list[BaseException] = []
    tui_ops: Counter[str] = Counter()
    tui_names: list[str] = []
    tui_tags: list[str] = []
    deadline = time.monotonic() + SECONDS
    streams = [CliStream(shared_dir, n, deadline, env) for n in range(CLI_STREAMS)]
    try:
        app = KmsApp(kms)
        app.show_error = shown.append  # the one place errors reach an operator in the TUI
        async with app.run_test(size=(120, 40)) as pilot:
            for stream in streams:
                stream.start()

            async def through_worker(op: str, fn, *args, **kwargs):
                worker = pilot.app.screen.call(partial(fn, *args, **kwargs))
                await until(pilot, lambda: worker.is_finished, f"the {op} worker", timeout=120)
                tui_ops[op] += 1
                return worker.result

            i = 0
            while time.monotonic() < deadline:
                name = f"tui-{i}"
                await through_worker("create", kms.keys.create, "ECDSA", 256, name, engine_id=ENGINE)
                await through_worker("sign", kms.signing.sign, name, "ECDSA_SHA_256", b"message")
                for j in range(3):  # the TUI is fast: it edits the shared key more often
                    await through_worker("tag", kms.keys.add_tag, "shared", f"tui-{i}-{j}")
                    tui_tags.append(f"tui-{i}-{j}")
                if i % 2:
                    await through_worker("rename", kms.keys.rename, name, f"{name}-renamed")
                    name = f"{name}-renamed"
                if i % 4 == 3:
                    await through_worker("sync", kms.inventory.sync, ENGINE)
                    await pilot.press("f4")  # and the screens keep answering
                    await pilot.press("f2")
                tui_names.append(name)
                i += 1
            for stream in streams:
                stream.join(120)
    finally:
        kms.close()
    failures = [f for s in streams for f in s.failures]
    assert not failures, "\n".join(failures[:10])
    assert not shown, [f"{type(e).__name__}: {e}" for e in shown[:5]]

    with Kms(shared_dir, credentials=CredentialStore(backend=MemoryKeyring())) as check:
        names = {r.name for r in check.keys.list()}
        cli_names = [n for s in streams for n in s.names]
        missing = set(cli_names + tui_names) - names
        assert not missing, sorted(missing)[:10]
        assert not {n for n in names if n.startswith(("cli-", "tui-")) and n not in set(cli_names + tui_names)}
        shared = check.keys.resolve("shared")
        lost = set(tui_tags + [t for s in streams for t in s.tags]) - set(shared.tags)
        assert not lost, f"{len(lost)} tag(s) lost: {sorted(lost)[:10]}"
        assert check.audit.verify().ok
        created = sum(1 for r in check.audit.rows(limit=100_000, action="key.create"))
        assert created == len(cli_names) + len(tui_names) + 1
    verify = subprocess.run([KMS_TUI, "--data-dir", str(shared_dir), "audit", "verify"], capture_output=True, env=env)
    assert verify.returncode == 0, verify.stderr
    cli_ops = sum((s.ops for s in streams), Counter())
    report(request, f"concurrency over {SECONDS:.0f} s: CLI {sum(cli_ops.values())} commands {dict(cli_ops)}, "
                    f"TUI {sum(tui_ops.values())} calls {dict(tui_ops)}, {len(names)} keys, "
                    f"{len(shared.tags)} tags on the shared key, audit chain intact")


def test_concurrent_edits_of_one_key_from_separate_connections_are_all_kept(shared_dir, request):
    """Each edit is computed from the key as it is under the write lock, not as it was read before."""
    errors: list[BaseException] = []

    def editor(n: int) -> None:
        try:
            with Kms(shared_dir, credentials=CredentialStore(backend=MemoryKeyring())) as kms:
                for i in range(40):
                    kms.keys.add_tag("shared", f"t{n}-{i}")
                    kms.keys.bind("shared", "certificate", f"c{n}-{i}")
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=editor, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    with Kms(shared_dir, credentials=CredentialStore(backend=MemoryKeyring())) as kms:
        record = kms.keys.resolve("shared")
        assert len(record.tags) == 120 and len(record.bindings) == 120
        assert kms.audit.verify().ok
    report(request, "concurrent edits of one key: 240 from 3 connections, 240 kept")
