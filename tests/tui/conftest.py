"""Deterministic apps for Pilot and snapshot tests.

Fixed keys (tests/fixtures/keys), a frozen clock and fixed *shown* paths make
every run draw the same screens, so snapshots compare exactly. Each test has
its own data directory under ``tmp_path``; the app is told to show that
directory's root as ``UI_SHOWN`` (a ``PathDisplay`` alias), so tests run in
parallel and still draw the same paths.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import store.audit
import store.engine_repo
import store.key_repo
from kms_tui.app import KmsApp
from kms_tui.path_display import PathDisplay
from kms_tui.service import Kms
from store import CredentialStore

KEYS = Path(__file__).resolve().parents[1] / "fixtures" / "keys"
UI_SHOWN = "/tmp/kms-tui-ui-tests"  # how the app shows a UI test's root directory (``ui_root``)
HOSTILE = "[red]alarm[/red] \x1b]0;pwned\x07\x1b[2J \u202eevil"
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


def fixture_key(name: str) -> bytes:
    return (KEYS / name).read_bytes()


@functools.cache
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
def ui_shown() -> str:
    """The text the app shows for ``ui_root`` (a test module may override it)."""
    return UI_SHOWN


@pytest.fixture
def ui_root(tmp_path) -> Path:
    """This test's own root directory: the data directory is ``data`` in it."""
    root = tmp_path / "ui"
    root.mkdir()
    return root


@pytest.fixture
def ui_paths(ui_root, ui_shown) -> PathDisplay:
    """How the app shows paths: ``ui_root`` as ``ui_shown``, so every run draws the same ones."""
    return PathDisplay({ui_root: ui_shown})


@pytest.fixture
def ui_kms(frozen_clock, memory_keyring, ui_root):
    """A Kms on this test's empty data directory (``ui_root``/data)."""
    kms = Kms(ui_root / "data", credentials=CredentialStore(backend=memory_keyring))
    try:
        yield kms
    finally:
        kms.close()


_PARSED: dict[bytes, object] = {}


@contextlib.contextmanager
def fixture_files_parsed_once():
    """Setup only: the fixture files (clear PEM) are parsed once per worker, not once per
    test (checking an RSA-3072 key costs ~0.08 s a parse). What the engine then writes and
    reads back (encrypted under the test's own passphrase: before each new key it opens one of
    its files to check the passphrase) is decrypted every time, without checking the RSA
    numbers again: they are those of a fixture key, checked when it was parsed here."""
    load = serialization.load_pem_private_key

    def parsed(data, password=None, **kwargs):
        if kwargs:
            return load(data, password, **kwargs)
        if password is not None:
            return load(data, password, unsafe_skip_rsa_key_validation=True)
        key = bytes(data)
        if key not in _PARSED:
            _PARSED[key] = load(data, None)
        return _PARSED[key]

    serialization.load_pem_private_key = parsed
    try:
        yield
    finally:
        serialization.load_pem_private_key = load


def populate(kms: Kms) -> None:
    """A small, realistic inventory: CA keys, device keys, a public-only key, a hostile name."""
    with fixture_files_parsed_once():
        _populate(kms)


def _populate(kms: Kms) -> None:
    kms.keys.import_key(fixture_key("rsa3072.pem"), "intermediate-ca-2026", aliases=["intermediate-ca"], tags=["pki", "ca"])
    kms.keys.import_key(fixture_key("p384.pem"), "issuing-ca-2026", aliases=["issuing-ca"], tags=["pki", "ca"],
                   metadata={"owner": "pki-team", "ceremony": "2026-03"})
    kms.keys.bind("issuing-ca", "ca", "issuing-ca-2026")
    kms.keys.bind("issuing-ca", "certificate", "4f:1a:9c:02")
    kms.keys.import_key(fixture_key("p256.pem"), "device-fleet-01", tags=["devices"])
    kms.keys.import_key(fixture_key("rsa1024.pem"), "legacy-gateway", tags=["legacy"])
    kms.keys.import_key(fixture_key("ed25519.pem"), "firmware-signing", tags=["firmware"])
    kms.keys.import_key(public_pem("rsa2048.pem"), "partner-root-public", tags=["partner"])
    kms.keys.import_key(fixture_key("p256-second.pem"), HOSTILE, tags=["[bold]markup[/bold]"])


@pytest.fixture
def demo_kms(ui_kms):
    populate(ui_kms)
    ui_kms.signing.sign("firmware-signing", "ED25519", b"firmware image 1.4.2")
    return ui_kms


@pytest.fixture
def demo_app(demo_kms, ui_paths):
    return KmsApp(demo_kms, paths=ui_paths)


@pytest.fixture
def empty_app(ui_kms, ui_paths):
    return KmsApp(ui_kms, paths=ui_paths)
