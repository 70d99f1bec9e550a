"""Type-ahead in a wizard step: keys that arrive in one read (over SSH) land in the fields they were typed for."""

from __future__ import annotations

from textual.events import Key
from textual.widgets import Input

from tests.pilot import until
from tests.tui import test_wizards_support as support
from tests.tui.test_wizards_create import choose, start
from tests.tui.test_wizards_support import next_step

ui_kms = support.ui_kms
ui_shown = support.ui_shown

SPECIAL = {"\t": ("tab", "\t"), "\r": ("enter", "\r"), "\x1b[Z": ("shift+tab", None)}


async def arrive_at_once(pilot, keys: list[str]) -> None:
    """Queue every key before the app handles any (as one read from a terminal delivers them), then wait."""
    app = pilot.app
    for key in keys:
        name, char = SPECIAL.get(key, (key, key))
        event = Key(name, char)
        event.set_sender(app)
        app._driver.send_message(event)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def names(wizard) -> list[str]:
    return [wizard.query_one(field, Input).value for field in ("#name", "#aliases", "#tags")]


async def at_names_step(pilot):
    wizard = await start(pilot)
    await next_step(pilot, "algorithm")
    await choose(pilot, wizard, "ECDSA", 384)
    await next_step(pilot, "names")
    await until(pilot, lambda: wizard.focused is wizard.query_one("#name"), "the name field's focus")
    return wizard


async def test_tab_in_type_ahead_moves_to_the_next_field(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        wizard = await at_names_step(pilot)
        await arrive_at_once(pilot, [*"abc", "\t", *"def", "\t", *"pki"])
        assert names(wizard) == ["abc", "def", "pki"]
        await arrive_at_once(pilot, ["\x1b[Z", *"xyz"])  # Shift+Tab goes back as promptly (and selects, as ever)
        assert names(wizard) == ["abc", "xyz", "pki"]


async def test_enter_in_type_ahead_moves_to_the_next_field(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        wizard = await at_names_step(pilot)
        await arrive_at_once(pilot, [*"ghi", "\r", *"jkl", "\r", *"mno"])
        assert names(wizard) == ["ghi", "jkl", "mno"]
        assert wizard.step_id == "names"  # Enter in the last field is what goes on (nothing was pressed there)
