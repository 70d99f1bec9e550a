"""The create and import wizards' confirm step says which clients cannot use the key, before it is made;
on an engine shared with Lamassu, a key Lamassu cannot use is refused and nothing is written.

A key every client can use shows no note: test_wizards_snap_create_import.py's confirm snapshots."""

from __future__ import annotations

from textual.widgets import Input

from kms_tui.wizards.create import CreateKeyWizard
from kms_tui.wizards.import_key import ImportKeyWizard
from tests.pilot import screen_text, settle_view, type_text, until, until_text
from tests.tui import test_wizards_support as support
from tests.tui.conftest import fixture_key
from tests.tui.test_wizards_support import message, next_step, refused

ui_kms = support.ui_kms  # the wizard tests' data directory is the CLI's default one
ui_shown = support.ui_shown

LAMASSU_WARNING = "Warning: Lamassu cannot use this key: Lamassu creates, imports and signs with RSA and ECDSA"


async def create_ed25519_up_to_confirm(pilot) -> CreateKeyWizard:
    wizard = CreateKeyWizard()
    pilot.app.push_screen(wizard)
    await until(pilot, lambda: wizard.supported_for == "golang-default" and wizard.focused is not None)
    await next_step(pilot, "algorithm")
    await pilot.press("down", "down")  # RSA, ECDSA, Ed25519
    await until(pilot, lambda: wizard.algorithm == "Ed25519")
    await next_step(pilot, "names")
    await type_text(pilot, "firmware-2027")
    await next_step(pilot, "confirm")
    await until(pilot, lambda: wizard.query_one("#confirm-compat").display, "the compatibility note")
    return wizard


async def test_create_confirm_warns_then_creates(demo_app, demo_kms):
    async with demo_app.run_test(size=(100, 32)) as pilot:
        await create_ed25519_up_to_confirm(pilot)
        assert LAMASSU_WARNING in screen_text(pilot.app)
        await pilot.press("ctrl+n")  # a warning, not a refusal: the engine is not shared with Lamassu
        await until(pilot, lambda: not isinstance(pilot.app.screen, CreateKeyWizard), "the wizard to close")
        assert demo_kms.keys.resolve("firmware-2027").algorithm == "Ed25519"


def test_create_confirm_with_a_warning_80x24(snap_compare, demo_app):
    async def run_before(pilot):
        await create_ed25519_up_to_confirm(pilot)
        await settle_view(pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=run_before)


async def test_import_on_a_lamassu_shared_engine_is_refused_at_confirm(empty_app, ui_kms, tmp_path):
    directory = tmp_path / "lamassu-keys"
    ui_kms.engines.register("GOLANG", "lamassu", options={"directory": str(directory), "lamassu": "true",
                                                          "encrypt": "false"})
    (tmp_path / "ed.pem").write_bytes(fixture_key("ed25519.pem"))
    count = ui_kms.keys.count()
    async with empty_app.run_test(size=(100, 32)) as pilot:
        wizard = ImportKeyWizard(engine_id="lamassu")
        pilot.app.push_screen(wizard)
        await until(pilot, lambda: wizard.engine_id == "lamassu" and getattr(wizard.focused, "id", "") == "key-file-path")
        await type_text(pilot, str(tmp_path / "ed.pem"))
        await next_step(pilot, "preview")
        await next_step(pilot, "names")
        wizard.query_one("#name", Input).value = "firmware-imported"
        await next_step(pilot, "confirm")
        await until_text(pilot, "Refused: this engine is shared with Lamassu, and Lamassu creates, imports and signs")
        await refused(pilot, "confirm")
        assert "shared with Lamassu" in message(pilot)
    assert ui_kms.keys.count() == count
    assert not directory.exists() or not any(directory.iterdir())
