"""The rotation wizard, driven with Pilot on the software engine; the sign wizard's switch for a retired key."""

from __future__ import annotations

from textual.widgets import Checkbox, DataTable, Input

from kms_tui.actions import key_commands, open_rotate
from kms_tui.screens.key_detail import KeyDetailScreen
from kms_tui.screens.keys import KeysScreen
from kms_tui.wizards.rotate import RotateWizard
from kms_tui.wizards.sign import SignWizard
from tests.pilot import screen_text, settle_view, until
from tests.tui import test_wizards_support as support
from tests.tui.test_wizards_support import message, next_step, open_wizard, refused

ui_kms = support.ui_kms  # the wizard tests' data directory is the CLI's default one
ui_shown = support.ui_shown


async def start(pilot, name: str) -> RotateWizard:
    open_rotate(pilot.app, pilot.app.kms.keys.resolve(name))
    await until(pilot, lambda: isinstance(pilot.app.screen, RotateWizard), "the rotation wizard")
    wizard = pilot.app.screen
    await until(pilot, lambda: getattr(wizard.focused, "id", "") == "key-ref", "the key field")
    return wizard


async def test_rotation_in_the_wizard_then_signing_with_the_retired_key(demo_app, demo_kms):
    record = demo_kms.keys.resolve("issuing-ca")
    bound = {b.id: b.action for b in [*KeysScreen.BINDINGS, *KeyDetailScreen.BINDINGS]}
    assert bound["keys.rotate"] == bound["detail.rotate"] == "rotate"
    async with demo_app.run_test(size=(100, 32)) as pilot:
        assert "Rotate key issuing-ca-2026" in {c.title for c in key_commands(pilot.app, pilot.app.screen, record)}
        wizard = await start(pilot, "issuing-ca")
        await next_step(pilot, "options")
        assert wizard.query_one("#successor-name", Input).value == "issuing-ca-2026-v2"
        wizard.query_one("#successor-name", Input).value = "issuing-ca-2027"
        wizard.query_one("#move-bindings", Checkbox).value = True
        await next_step(pilot, "confirm")
        shown = screen_text(pilot.app)
        assert "issuing-ca-2027  ECDSA 384" in shown and "ca/issuing-ca-2026 (move)" in shown
        assert "certificate/" in shown and "(stay)" in shown  # a certificate certifies this key: it stays
        await next_step(pilot, "done")
        shown = screen_text(pilot.app)
        assert "issuing-ca-2026 → issuing-ca-2027" in shown
        assert "kms-tui keys rotate issuing-ca-2026 --name issuing-ca-2027 --move-bindings" in shown
        new = demo_kms.keys.resolve("issuing-ca")
        assert new.name == "issuing-ca-2027" and [b["resource_type"] for b in new.bindings] == ["ca"]
        await pilot.press("ctrl+n")
        await until(pilot, lambda: not isinstance(pilot.app.screen, RotateWizard), "the wizard to close")
        pilot.app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))
        await until(pilot, lambda: "Rotated to issuing-ca-2027 on " in screen_text(pilot.app), "the rotation line")
        pilot.app.pop_screen()  # the keys screen marks the predecessor retired in its State column
        table = pilot.app.screen.query_one("#keys-table", DataTable)
        row = f"{record.engine_id}/{record.key_id}"

        def state() -> str:
            return str(table.get_cell(row, "state")) if row in table.rows else ""

        await until(pilot, lambda: state() == "retired", "the retired mark")

        # Signing with it: refused until the operator ticks the switch the wizard then shows.
        sign = SignWizard(demo_kms.keys.resolve("issuing-ca-2026"))
        await open_wizard(pilot, sign, "key")
        allow = sign.query_one("#allow-retired", Checkbox)
        assert not allow.display
        await refused(pilot, "key")
        assert "is retired" in message(pilot) and allow.display
        allow.value = True
        await next_step(pilot, "algorithm")
        assert sign.allow_retired


def test_rotate_wizard_confirm_80x24(snap_compare, demo_app):
    async def run_before(pilot):
        wizard = await start(pilot, "issuing-ca-2026")
        await next_step(pilot, "options")
        assert wizard.query_one("#successor-name", Input).value == "issuing-ca-2026-v2"
        await next_step(pilot, "confirm")
        await settle_view(pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=run_before)
