"""Snapshots of the keys screen, the key detail and the shared dialogs, at 80x24 and 120x40."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from kms_tui.dialogs.error import ErrorDialog
from kms_tui.dialogs.secret import SecretDialog
from kms_tui.screens.key_detail import KeyDetailScreen
from tests.pilot import type_text, until, workers_idle
from tests.tui.conftest import SIZES


async def settle(pilot, predicate) -> None:
    """Wait for ``predicate`` and for every service call to be over (rows, then the count)."""
    await until(pilot, lambda: predicate() and workers_idle(pilot.app)
                and not getattr(pilot.app.screen, "counting", False), "the screen to settle")


def keys_loaded(pilot, count=7):
    return lambda: pilot.app.screen.query_one("#keys-table", DataTable).row_count == count


@pytest.mark.parametrize("size", SIZES)
def test_keys_screen(snap_compare, demo_app, size):
    async def run_before(pilot):
        await settle(pilot, keys_loaded(pilot))

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_keys_screen_filtered(snap_compare, demo_app, size):
    async def run_before(pilot):
        await settle(pilot, keys_loaded(pilot))
        await pilot.press("slash")
        await settle(pilot, lambda: getattr(pilot.app.focused, "id", None) == "filter")
        await type_text(pilot, "ca")
        await settle(pilot, keys_loaded(pilot, 2))

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_empty_keys_screen(snap_compare, empty_app, size):
    async def run_before(pilot):
        await settle(pilot, lambda: "0 keys" in str(pilot.app.screen.query_one("#keys-status").render()))

    assert snap_compare(empty_app, terminal_size=SIZES[size], run_before=run_before)


def _open_detail(name):
    async def run_before(pilot):
        await settle(pilot, keys_loaded(pilot))
        record = pilot.app.kms.keys.resolve(name)
        await pilot.app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))
        await settle(pilot, lambda: getattr(pilot.app.screen, "record", None) is not None)

    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", ["issuing-ca-2026", "legacy-gateway", "partner-root-public"])
def test_key_detail(snap_compare, demo_app, size, name):
    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=_open_detail(name))


@pytest.mark.parametrize("size", SIZES)
def test_delete_dialog_for_a_bound_key(snap_compare, demo_app, size):
    async def run_before(pilot):
        await _open_detail("issuing-ca-2026")(pilot)
        await pilot.press("d")
        await settle(pilot, lambda: getattr(pilot.app.focused, "id", None) == "confirm-name")
        await type_text(pilot, "issuing")
        await settle(pilot, lambda: pilot.app.screen.query_one("#confirm-name").value == "issuing")
        await settle(pilot, lambda: pilot.app.screen.notice is not None)  # what a delete does on this engine

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, demo_app, size):
    async def run_before(pilot):
        await settle(pilot, keys_loaded(pilot))
        await pilot.press("f1")
        await settle(pilot, lambda: pilot.app.screen.__class__.__name__ == "HelpDialog")

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_error_dialog(snap_compare, demo_app, size):
    async def run_before(pilot):
        await settle(pilot, keys_loaded(pilot))
        await pilot.app.push_screen(ErrorDialog("Engine unreachable", "The engine at https://vault.example:8200 did not answer within 10 s."))
        await pilot.pause()

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_secret_dialog_masks_what_is_typed(snap_compare, demo_app, size):
    async def run_before(pilot):
        await settle(pilot, keys_loaded(pilot))
        await pilot.app.push_screen(SecretDialog("pkcs11-prod-hsm", "user PIN", "No OS keyring is available.", True))
        await settle(pilot, lambda: getattr(pilot.app.focused, "id", None) == "secret")
        await type_text(pilot, "123456")
        await settle(pilot, lambda: len(pilot.app.screen.query_one("#secret").value) == 6)

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)
