"""Words on the screens: as people say them ("Add an alias", "sorted by key id")."""

from __future__ import annotations

from kms_tui.dialogs.form import ChoiceDialog
from kms_tui.screens.key_detail import KeyDetailScreen
from tests.pilot import screen_text, until, workers_idle


async def test_the_keys_status_line_names_the_sort_in_words(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: workers_idle(pilot.app) and "sorted by name" in screen_text(pilot.app))
        await pilot.press("o")  # name -> key id
        await until(pilot, lambda: "sorted by key id" in screen_text(pilot.app), "the key id sort")
        text = screen_text(pilot.app)
        assert "key_id" not in text


async def test_the_alias_and_tag_choices_take_the_right_article(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        record = pilot.app.kms.keys.resolve("issuing-ca-2026")
        await pilot.app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))
        detail = pilot.app.screen
        await until(pilot, lambda: detail.record is not None and workers_idle(pilot.app), "the key detail")
        for key, said in (("a", "Add an alias…"), ("t", "Add a tag…")):
            await pilot.press(key)
            await until(pilot, lambda: isinstance(pilot.app.screen, ChoiceDialog), "the choice")
            assert said in screen_text(pilot.app) and "Add a alias" not in screen_text(pilot.app)
            await pilot.press("escape")
            await until(pilot, lambda: pilot.app.screen is detail, "the detail again")
