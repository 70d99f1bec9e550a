"""Shared by the wizard tests (no tests here): their own data directory, fixed files, waiting helpers.

The wizard tests use a data directory of their own, so they never share
/tmp/kms-tui-ui-tests with the other UI tests (nor trip over a run of them in
another checkout). Everything they show is still fixed from run to run.
Import the fixtures into a test module to override conftest's ``ui_kms``.
"""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from textual.widgets import Input, TextArea

from kms_tui.service import Kms
from store import CredentialStore
from tests.tui.conftest import fixture_key
from tests.tui.screen_text import screen_text

ROOT = Path("/tmp/kms-tui-ui-tests-wizards")
DATA = ROOT / "data"
FILES = ROOT / "files"
LOCK = Path("/tmp/kms-tui-ui-tests-wizards.lock")
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def ui_kms(frozen_clock, memory_keyring, monkeypatch):
    """A Kms on the wizard tests' fixed, empty data directory (the CLI's default one, so no --data-dir).

    The directory is fixed so that snapshots show the same paths; a lock file
    makes two test runs on one machine take turns with it instead of clashing.
    """
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            shutil.rmtree(ROOT, ignore_errors=True)
            monkeypatch.setenv("KMS_TUI_DATA_DIR", str(DATA))
            kms = Kms(DATA, credentials=CredentialStore(backend=memory_keyring))
            yield kms
            kms.close()
            shutil.rmtree(ROOT, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def files(ui_kms) -> Path:
    """Fixed key files to import: clear PKCS#8 PEM, encrypted PKCS#8, a public key, garbage."""
    FILES.mkdir(parents=True)
    (FILES / "device-p256.pem").write_bytes(fixture_key("p256.pem"))
    key = serialization.load_pem_private_key(fixture_key("rsa2048.pem"), None)
    (FILES / "encrypted-rsa2048.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode())))
    (FILES / "partner-public.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    (FILES / "notes.txt").write_text("not a key at all\n")
    (FILES / "keys").mkdir()
    return FILES


async def until(pilot, predicate, what: str = "the expected state", tries: int = 300) -> None:
    """Wait (polling, bounded) until ``predicate()`` holds."""
    for _ in range(tries):
        await pilot.pause(0.02)
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - the screen may be between states
            pass
    screen = pilot.app.screen
    state = f"{type(screen).__name__} step={getattr(screen, 'step_id', None)} busy={getattr(screen, 'busy', None)}"
    raise AssertionError(f"timed out waiting for {what} ({state})\n{screen_text(pilot.app)}")


async def settled(pilot) -> None:
    """The wizard's check or service call is over."""
    await until(pilot, lambda: not pilot.app.screen.busy, "the wizard to finish its check")
    await pilot.pause(0.02)


async def open_wizard(pilot, wizard, step: str) -> None:
    """Push a wizard and wait until it shows ``step`` with its first field focused."""
    pilot.app.push_screen(wizard)
    await until(pilot, lambda: pilot.app.screen is wizard and wizard.step_id == step, f"the {step} step")
    await settled(pilot)
    await until(pilot, lambda: wizard.focused is not None, "a focused field")


async def next_step(pilot, step: str) -> None:
    """Press Next (Ctrl+N) and wait for ``step`` (with its field focused)."""
    await pilot.press("ctrl+n")
    await until(pilot, lambda: pilot.app.screen.step_id == step and not pilot.app.screen.busy, f"the {step} step")
    await pilot.pause(0.05)


async def refused(pilot, step: str) -> None:
    """Press Next and wait until the wizard has refused, staying on ``step``."""
    await pilot.press("ctrl+n")
    await settled(pilot)
    assert pilot.app.screen.step_id == step
    assert "error" in pilot.app.screen.query_one("#wizard-message").classes


def message(pilot) -> str:
    """The wizard's inline message line, as text."""
    return str(pilot.app.screen.query_one("#wizard-message").render())


def steady(app) -> None:
    """No cursor blink and no animation: snapshots draw the same every time."""
    app.animation_level = "none"
    for widget in app.screen.query("Input, TextArea"):
        if isinstance(widget, (Input, TextArea)):
            widget.cursor_blink = False


async def settle_view(pilot) -> None:
    """Ready for a snapshot: no blink, no animation, no button still showing its 0.2 s press effect."""
    steady(pilot.app)

    def pressed() -> bool:
        return any(b.has_class("-active") for screen in pilot.app.screen_stack for b in screen.query("Button"))

    await until(pilot, lambda: not pressed(), "pressed buttons to settle")
    await pilot.pause(0.1)
