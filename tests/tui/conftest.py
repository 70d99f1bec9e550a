"""Deterministic apps for Pilot and snapshot tests.

Fixed keys (tests/fixtures/keys), a frozen clock and a fixed data directory make
every run draw the same screens, so snapshots compare exactly.
"""

from __future__ import annotations

import fcntl
import itertools
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import store.audit
import store.engine_repo
import store.key_repo
from kms_tui.app import KmsApp
from kms_tui.service import Kms
from store import CredentialStore

KEYS = Path(__file__).resolve().parents[1] / "fixtures" / "keys"
# Fixed: the engines screen shows the software engine's directory, so every run
# must use the same path (tests/conftest.py keeps its users on one xdist worker).
UI_DATA = Path("/tmp/kms-tui-ui-tests/data")
UI_LOCK = Path("/tmp/kms-tui-ui-tests.lock")
HOSTILE = "[red]alarm[/red] \x1b]0;pwned\x07\x1b[2J \u202eevil"
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


def workers_idle(app) -> bool:
    """No worker is running (the set is copied first: thread workers leave it from their threads)."""
    return all(w.is_finished for w in app.workers._workers.copy())


def fixture_key(name: str) -> bytes:
    return (KEYS / name).read_bytes()


def public_pem(name: str) -> bytes:
    key = serialization.load_pem_private_key(fixture_key(name), None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def frozen_clock(monkeypatch):
    ticks = itertools.count()

    def audit_now() -> str:
        n = next(ticks)
        return f"2026-03-14T09:{n // 60 % 60:02d}:{n % 60:02d}.000000Z"

    monkeypatch.setattr(store.audit, "_now", audit_now)
    monkeypatch.setattr(store.key_repo, "utc_now", lambda: "2026-03-14T09:00:00Z")
    monkeypatch.setattr(store.engine_repo, "utc_now", lambda: "2026-03-14T09:00:00Z")


@pytest.fixture
def ui_kms(frozen_clock, memory_keyring):
    """A Kms on a fixed, empty data directory (the paths it shows are the same every run).

    The directory is fixed so snapshots are stable; a lock file keeps two test
    processes on one machine from sharing it at the same time.
    """
    with open(UI_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(UI_DATA.parent, ignore_errors=True)
        kms = Kms(UI_DATA, credentials=CredentialStore(backend=memory_keyring))
        try:
            yield kms
        finally:
            kms.close()
            shutil.rmtree(UI_DATA.parent, ignore_errors=True)


def populate(kms: Kms) -> None:
    """A small, realistic inventory: CA keys, device keys, a public-only key, a hostile name."""
    kms.import_key(fixture_key("rsa3072.pem"), "intermediate-ca-2026", aliases=["intermediate-ca"], tags=["pki", "ca"])
    kms.import_key(fixture_key("p384.pem"), "issuing-ca-2026", aliases=["issuing-ca"], tags=["pki", "ca"],
                   metadata={"owner": "pki-team", "ceremony": "2026-03"})
    kms.bind("issuing-ca", "ca", "issuing-ca-2026")
    kms.bind("issuing-ca", "certificate", "4f:1a:9c:02")
    kms.import_key(fixture_key("p256.pem"), "device-fleet-01", tags=["devices"])
    kms.import_key(fixture_key("rsa1024.pem"), "legacy-gateway", tags=["legacy"])
    kms.import_key(fixture_key("ed25519.pem"), "firmware-signing", tags=["firmware"])
    kms.import_key(public_pem("rsa2048.pem"), "partner-root-public", tags=["partner"])
    kms.import_key(fixture_key("p256-second.pem"), HOSTILE, tags=["[bold]markup[/bold]"])


@pytest.fixture
def demo_kms(ui_kms):
    populate(ui_kms)
    ui_kms.sign("firmware-signing", "ED25519", b"firmware image 1.4.2")
    return ui_kms


@pytest.fixture
def demo_app(demo_kms):
    return KmsApp(demo_kms)


@pytest.fixture
def empty_app(ui_kms):
    return KmsApp(ui_kms)
