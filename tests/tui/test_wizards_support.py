"""Shared by the wizard tests (no tests here): their shown root, fixed key files, the wizard's steps.

The wizard tests show their root directory as ``SHOWN`` (not the other UI tests'
``UI_SHOWN``), and their data directory is the CLI's default one for the test
(``$KMS_TUI_DATA_DIR``), so the equivalent commands carry no ``--data-dir``.
Import the fixtures into a test module to override conftest's.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.pilot import until
from tests.tui.conftest import fixture_key

SHOWN = "/tmp/kms-tui-ui-tests-wizards"
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def ui_shown() -> str:
    return SHOWN


@pytest.fixture
def ui_kms(ui_kms, monkeypatch):
    """conftest's Kms, on the data directory the CLI would use by default."""
    monkeypatch.setenv("KMS_TUI_DATA_DIR", str(ui_kms.data_dir))
    return ui_kms


@functools.cache
def rsa2048_files() -> tuple[bytes, bytes]:
    """The RSA-2048 fixture key as encrypted PKCS#8 (under ``PASSPHRASE``) and its public key,
    made once per worker (parsing and checking the key is most of the cost)."""
    key = serialization.load_pem_private_key(fixture_key("rsa2048.pem"), None)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(PASSPHRASE.encode()))
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return encrypted, public


@pytest.fixture
def files(ui_root) -> Path:
    """Fixed key files to import: clear PKCS#8 PEM, encrypted PKCS#8, a public key, garbage."""
    folder = ui_root / "files"
    folder.mkdir()
    (folder / "device-p256.pem").write_bytes(fixture_key("p256.pem"))
    encrypted, public = rsa2048_files()
    (folder / "encrypted-rsa2048.pem").write_bytes(encrypted)
    (folder / "partner-public.pem").write_bytes(public)
    (folder / "notes.txt").write_text("not a key at all\n")
    (folder / "keys").mkdir()
    return folder


async def settled(pilot) -> None:
    """The wizard's check or service call is over."""
    await until(pilot, lambda: not pilot.app.screen.busy, "the wizard to finish its check")


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


async def refused(pilot, step: str) -> None:
    """Press Next and wait until the wizard has refused, staying on ``step``."""
    await pilot.press("ctrl+n")
    await settled(pilot)
    assert pilot.app.screen.step_id == step
    assert "error" in pilot.app.screen.query_one("#wizard-message").classes


def message(pilot) -> str:
    """The wizard's inline message line, as text."""
    return str(pilot.app.screen.query_one("#wizard-message").render())
