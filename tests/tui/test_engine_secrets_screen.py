"""The engines screen keeps the at-rest passphrase: a wrong one is refused, re-key is its own action."""

from __future__ import annotations

import pytest

from kms_tui.dialogs.error import ErrorDialog
from kms_tui.dialogs.secret import SecretDialog
from kms_tui.service import DEFAULT_ENGINE_ID
from tests.pilot import type_text, until, until_text
from tests.tui.conftest import SIZES
from tests.tui.test_engines_screen import open_engines


def _passphrase(kms) -> str:
    return kms.engines.secrets.reveal(DEFAULT_ENGINE_ID)


async def test_a_wrong_passphrase_is_refused_with_what_to_do(ui_kms, empty_app, memory_keyring):
    ui_kms.keys.create("ECDSA", 256, "root")
    before = _passphrase(ui_kms)
    async with empty_app.run_test(size=(100, 30)) as pilot:
        await open_engines(pilot, 1, select=DEFAULT_ENGINE_ID)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(pilot.app.screen, SecretDialog))
        for _ in range(2):  # the passphrase, then again to confirm it
            await type_text(pilot, "not the passphrase")
            await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ErrorDialog))
        text = await until_text(pilot, "does not decrypt", "rekey")
        assert "not the passphrase" not in text
    assert _passphrase(ui_kms) == before
    assert ui_kms.signing.sign("root", "ECDSA_SHA_256", b"m")


async def test_rekey_from_the_engines_screen(ui_kms, empty_app):
    ui_kms.keys.create("ECDSA", 256, "root")
    async with empty_app.run_test(size=(100, 30)) as pilot:
        await open_engines(pilot, 1, select=DEFAULT_ENGINE_ID)
        assert "kept in the OS keyring" in await until_text(pilot, "at-rest passphrase:")
        await pilot.press("K")
        await until(pilot, lambda: isinstance(pilot.app.screen, SecretDialog))
        for _ in range(2):
            await type_text(pilot, "the new passphrase")
            await pilot.press("enter")
        await until(pilot, lambda: ui_kms.engines.secrets.pending() == [] and _passphrase(ui_kms) == "the new passphrase")
        messages = [n.message for n in pilot.app._notifications]
        assert any("1 key file(s) re-encrypted" in m for m in messages), messages
    assert ui_kms.signing.sign("root", "ECDSA_SHA_256", b"m")


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_rekey_dialog(snap_compare, ui_kms, empty_app, size):
    ui_kms.keys.create("ECDSA", 256, "root")

    async def run_before(pilot):
        await open_engines(pilot, 1, select=DEFAULT_ENGINE_ID)
        await pilot.press("K")
        await until(pilot, lambda: isinstance(pilot.app.screen, SecretDialog))
        await type_text(pilot, "typed, never shown")

    assert snap_compare(empty_app, terminal_size=SIZES[size], run_before=run_before)
