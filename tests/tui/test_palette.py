"""The command palette (Ctrl+P) reaches every action, with its target named, from any screen."""

from __future__ import annotations

import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable, Input

from kms_tui.app import KmsApp
from kms_tui.dialogs.form import FormDialog
from kms_tui.dialogs.register_engine import RegisterEngineDialog
from kms_tui.dialogs.sync_progress import SyncDialog
from kms_tui.screens.doctor import DoctorScreen
from kms_tui.screens.engines import EnginesScreen
from kms_tui.screens.key_detail import KeyDetailScreen
from kms_tui.screens.keys import KeysScreen
from kms_tui.wizards.sign import SignWizard
from tests.pilot import settle_view, type_text, until, until_text, workers_idle
from tests.tui.conftest import HOSTILE, SIZES, public_pem

SIZE = SIZES["80x24"]
CLASS_NAMES = ("KeyDetail", "KeysScreen", "Screen)", "(Ceremony)", "(Doctor)")


@pytest.fixture
def ops_app(demo_kms, ui_paths, tmp_path):
    """The demo inventory plus a second engine, hsm-ops."""
    demo_kms.engines.register("GOLANG", "hsm-ops", options={"directory": str(tmp_path / "ops"), "encrypt": "false"})
    return KmsApp(demo_kms, paths=ui_paths)


async def keys_loaded(pilot) -> KeysScreen:
    screen = pilot.app.screen
    await until(pilot, lambda: isinstance(screen, KeysScreen) and screen.query_one(DataTable).row_count == 7
                and workers_idle(pilot.app), "the keys")
    return screen


async def open_key(pilot, text: str) -> KeyDetailScreen:
    """From the keys screen: filter to one key, Enter opens it."""
    screen = await keys_loaded(pilot)
    screen.query_one("#filter", Input).value = text
    await until(pilot, lambda: screen.query_one(DataTable).row_count == 1 and workers_idle(pilot.app), "one key")
    screen.query_one(DataTable).focus()
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, KeyDetailScreen) and pilot.app.screen.record is not None,
                "the key detail")
    return pilot.app.screen


async def palette(pilot, query: str, *expected: str) -> str:
    """Ctrl+P, type ``query``: the palette lists every ``expected`` title; returns the screen's text."""
    if not isinstance(pilot.app.screen, CommandPalette):
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), "the palette")
    field = pilot.app.screen.query_one(Input)
    field.value = ""
    await type_text(pilot, query)
    return await until_text(pilot, *expected)


async def choose(pilot, title: str) -> None:
    """Type the whole title and take the first entry."""
    await palette(pilot, title, title)
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(pilot.app.screen, CommandPalette), "the palette to close")


async def test_from_the_keys_screen_every_action_is_found_by_name(ops_app):
    async with ops_app.run_test(size=SIZE) as pilot:
        await keys_loaded(pilot)  # the first key (the hostile name) is highlighted
        text = await palette(pilot, "sync", "Sync engine golang-default", "Sync engine hsm-ops")
        text += await palette(pilot, "register", "Register an engine")
        text += await palette(pilot, "repair", "Doctor: repair what can be repaired")
        text += await palette(pilot, "unregister", "Unregister engine hsm-ops")
        text += await palette(pilot, "export", "Export public key of [red]alarm[/red]")  # literally: no markup
        text += await palette(pilot, "ceremony", "Ceremony: load a script")
        assert not any(name in text for name in CLASS_NAMES)


async def test_from_a_key_detail_the_key_and_the_engines_are_named(ops_app):
    async with ops_app.run_test(size=SIZE) as pilot:
        await open_key(pilot, "issuing")
        text = await palette(pilot, "export", "Export public key of issuing-ca-2026")
        text += await palette(pilot, "sync", "Sync engine hsm-ops")
        assert "Scroll" not in text  # a widget's bindings are not the screen's actions
        text += await palette(pilot, "bind", "Bind (key issuing-ca-2026)")
        text += await palette(pilot, "sign", "Sign with issuing-ca-2026")
        assert not any(name in text for name in CLASS_NAMES)


async def test_choosing_sync_syncs_that_engine_from_the_keys_screen(ops_app):
    async with ops_app.run_test(size=SIZE) as pilot:
        await keys_loaded(pilot)
        await choose(pilot, "Sync engine hsm-ops")
        await until(pilot, lambda: isinstance(pilot.app.screen, SyncDialog), "the sync")
        assert pilot.app.screen.engine_id == "hsm-ops"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, EnginesScreen), "the engines screen")
        assert pilot.app.screen.selected_id() == "hsm-ops"


async def test_choosing_register_opens_the_registration(ops_app):
    async with ops_app.run_test(size=SIZE) as pilot:
        await keys_loaded(pilot)
        await choose(pilot, "Register an engine")
        await until(pilot, lambda: isinstance(pilot.app.screen, RegisterEngineDialog), "the registration form")


async def test_choosing_repair_runs_the_doctor_with_repair(ops_app, demo_kms, monkeypatch):
    asked: list[bool] = []
    run = demo_kms.doctor.run

    def spy(*, repair: bool = False):
        asked.append(repair)
        return run(repair=repair)

    monkeypatch.setattr(demo_kms.doctor, "run", spy)
    async with ops_app.run_test(size=SIZE) as pilot:
        await keys_loaded(pilot)
        await choose(pilot, "Doctor: repair what can be repaired")
        await until(pilot, lambda: isinstance(pilot.app.screen, DoctorScreen) and True in asked
                    and not pilot.app.screen.running, "the repair")
        assert asked == [False, True]  # the doctor's first look as it opened, then the repair chosen


async def test_choosing_export_writes_the_public_key(ops_app, ui_root):
    async with ops_app.run_test(size=SIZE) as pilot:
        await open_key(pilot, "issuing")
        await choose(pilot, "Export public key of issuing-ca-2026")
        await until(pilot, lambda: isinstance(pilot.app.screen, FormDialog), "where to write it")
        target = ui_root / "issuing.pem"
        pilot.app.screen.query_one("#field-path", Input).value = str(target)
        pilot.app.screen.query_one("#field-path", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: target.exists() and workers_idle(pilot.app), "the file")
        assert target.read_bytes() == public_pem("p384.pem")
        assert isinstance(pilot.app.screen, KeyDetailScreen)


async def test_choosing_sign_with_the_hostile_key_opens_the_wizard_for_it(ops_app):
    async with ops_app.run_test(size=SIZE) as pilot:
        await keys_loaded(pilot)
        await palette(pilot, "sign with", "Sign with [red]alarm[/red]")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, SignWizard), "the sign wizard")
        assert pilot.app.screen.record.name == HOSTILE


async def test_choosing_a_ceremony_goes_to_its_script_field(ops_app):
    async with ops_app.run_test(size=SIZE) as pilot:
        await keys_loaded(pilot)
        await choose(pilot, "Ceremony: load a script")
        await until(pilot, lambda: isinstance(pilot.app.focused, Input) and pilot.app.focused.id == "ceremony-path",
                    "the ceremony's script field")


async def test_an_engine_action_from_its_own_key_list_shows_the_engine(ops_app):
    async with ops_app.run_test(size=SIZE) as pilot:
        await keys_loaded(pilot)
        await choose(pilot, "Keys of engine hsm-ops")
        await until(pilot, lambda: isinstance(pilot.app.screen, KeysScreen)
                    and pilot.app.screen.query_state.engine_id == "hsm-ops", "the keys of hsm-ops")
        await choose(pilot, "Test engine hsm-ops")  # from the engine's key list: back on the engines screen
        await until(pilot, lambda: isinstance(pilot.app.screen, EnginesScreen)
                    and pilot.app.screen.checks.get("hsm-ops") is not None, "the test")
        assert pilot.app.screen.selected_id() == "hsm-ops" and pilot.app.screen.checks["hsm-ops"].reachable


@pytest.mark.parametrize("query", ["sync", "export"])
def test_snapshot_palette_names_its_targets(snap_compare, ops_app, query):
    """At 80×24 the palette's entries name their engine or key, never a class."""
    async def run_before(pilot):
        await keys_loaded(pilot)
        expected = {"sync": ("Sync engine golang-default", "Sync engine hsm-ops"),
                    "export": ("Export public key of [red]alarm[/red]",)}[query]
        await palette(pilot, query, *expected)
        await until(pilot, lambda: workers_idle(pilot.app), "the palette's search")
        await settle_view(pilot)

    assert snap_compare(ops_app, terminal_size=SIZE, run_before=run_before)
