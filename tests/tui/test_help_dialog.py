"""The help at 80×24: grouped under human titles, the F-keys from the screen table, every row reachable."""

from __future__ import annotations

import io

from rich.console import Console
from textual.containers import VerticalScroll
from textual.widgets import Static

from kms_tui.app import SCREENS
from kms_tui.dialogs.help import HelpDialog
from kms_tui.screens.key_detail import KeyDetailScreen
from tests.pilot import screen_text, until, workers_idle


def help_text(dialog: HelpDialog) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(dialog.query_one("#help-bindings", Static).content)
    return console.export_text()


async def open_help(pilot) -> HelpDialog:
    await until(pilot, lambda: workers_idle(pilot.app), "the screen's first load")
    await pilot.press("f1")
    await until(pilot, lambda: isinstance(pilot.app.screen, HelpDialog), "the help")
    return pilot.app.screen


async def test_help_groups_bindings_by_screen_under_human_titles(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        dialog = await open_help(pilot)
        listed = help_text(dialog)
        titles = ["Keys screen", "Screens (from anywhere)", "Everywhere", "Moving around"]
        assert [line.strip() for line in listed.splitlines() if line.strip() in titles] == titles
        for entry in SCREENS:  # every screen of the table, F6 and F7 too (not in the footer)
            assert f"{entry.key.upper()}" in listed.upper() and f"Go to {entry.long_title or entry.title}" in listed
        assert "Command palette" in listed and "^p" in listed and "Quit" in listed
        for class_name in ("KeysTable", "KeysScreen", "KmsApp", "everywhere  "):
            assert class_name not in listed
        await pilot.press("escape")
        record = pilot.app.kms.keys.resolve("issuing-ca-2026")
        await pilot.app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))
        await until(pilot, lambda: getattr(pilot.app.screen, "record", None) is not None)
        dialog = await open_help(pilot)
        assert help_text(dialog).splitlines()[0].strip() == "Key detail"


async def test_every_help_row_is_reachable_at_80x24(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        dialog = await open_help(pilot)
        shown = screen_text(pilot.app)
        assert "Keys screen" in shown and "Go to Doctor" not in shown  # the list is longer than 24 rows
        scroll = dialog.query_one("#dialog-scroll", VerticalScroll)
        assert scroll.max_scroll_y > 0
        await pilot.press("end")
        await until(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y, "the end of the help")
        seen = ""
        for y in range(0, scroll.max_scroll_y + 1, 5):
            scroll.scroll_to(y=y, animate=False)
            await pilot.pause()
            seen += screen_text(pilot.app)
        scroll.scroll_end(animate=False)
        await pilot.pause()
        seen += screen_text(pilot.app)
        for row in ("Go to Keys", "Go to Ceremony", "Go to Doctor", "^p", "Command palette", "^q", "Quit"):
            assert row in seen, row
        last = [line for line in help_text(dialog).splitlines() if line.strip()][-1].split()[-1]
        assert last in screen_text(pilot.app).split("Moving around")[-1]  # the end of the list is in view


async def test_the_footer_at_80_columns_shows_the_screens_own_actions_and_f1_not_the_f_keys(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: workers_idle(pilot.app), "the screen's first load")
        for mode, own in (("keys", ["/ Filter", "n New", "i Import", "s Sign", "v Verify", "d Delete"]),
                          ("engines", ["a Register", "t Test", "y Sync", "x Unregister"])):
            await pilot.app.switch_mode(mode)
            await until(pilot, lambda: workers_idle(pilot.app), f"the {mode} screen")
            footer = screen_text(pilot.app).splitlines()[-1]
            positions = [footer.find(label) for label in own]
            assert -1 not in positions and positions == sorted(positions), footer  # all there, in their order
            assert footer.find("f1 Help") > positions[-1], footer  # the way to the rest comes after them
            for entry in SCREENS:
                assert f"{entry.key} {entry.title}" not in footer, footer
        record = pilot.app.kms.keys.resolve("issuing-ca-2026")
        await pilot.app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))
        await until(pilot, lambda: "esc Back" in screen_text(pilot.app).splitlines()[-1], "the key detail's footer")
        footer = screen_text(pilot.app).splitlines()[-1]  # the destructive and the daily actions fit at 80
        positions = [footer.find(label) for label in ("esc Back", "s Sign", "v Verify", "d Delete", "c Copy PEM")]
        assert -1 not in positions and positions == sorted(positions), footer
        assert "b Bind" not in footer and "(b bind · u unbind)" in screen_text(pilot.app)  # named by its panel
