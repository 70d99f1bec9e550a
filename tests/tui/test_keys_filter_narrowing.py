"""Typing on in the keys filter: the walk starts at the first row on show, and the rows are the full query's."""

from __future__ import annotations

import time
from dataclasses import replace

from textual.widgets import DataTable, Input

from kms_tui.screens import keys as keys_screen
from kms_tui.screens.keys import PAGE, KeysScreen
from kms_tui.service.key_ops import KeyService
from kms_tui.service.types import KeyQuery
from tests.pilot import screen_text, until, workers_idle


def _spy(monkeypatch) -> list[KeyQuery]:
    """The queries the keys screen asks for, in the order it asks."""
    asked: list[KeyQuery] = []
    fetch = KeysScreen._fetch

    def spy(self, query):
        asked.append(query)
        return fetch(self, query)

    monkeypatch.setattr(KeysScreen, "_fetch", spy)
    return asked


async def _filtered(pilot, text: str, kms) -> list[str]:
    """Type ``text`` into the filter; the names on show once they equal what a fresh full query gives."""
    pilot.app.screen.query_one("#filter", Input).value = text
    expected = [r.name for r in kms.keys.list(KeyQuery(text=text, limit=PAGE))]
    table = pilot.app.screen.query_one("#keys-table", DataTable)

    def shown() -> list[str]:
        return [pilot.app.screen.records[str(table.coordinate_to_cell_key((i, 0)).row_key.value)].name
                for i in range(table.row_count)]

    await until(pilot, lambda: shown() == expected and workers_idle(pilot.app), f"the rows of {text!r}")
    return expected


async def test_a_longer_text_walks_from_the_first_row_on_show_and_finds_the_same_rows(demo_app, demo_kms,
                                                                                     monkeypatch):
    asked = _spy(monkeypatch)
    async with demo_app.run_test(size=(100, 30)) as pilot:
        first = (await _filtered(pilot, "i", demo_kms))[0]
        narrowed = await _filtered(pilot, "is", demo_kms)
        assert narrowed and asked[-1].text == "is" and asked[-1].name_from == first
        await _filtered(pilot, "i", demo_kms)  # shorter: the whole query again
        assert asked[-1].text == "i" and asked[-1].name_from is None
        assert pilot.app.screen.query_state.name_from is None  # the start is the fetch's, never the screen's query


async def test_after_a_reload_a_longer_text_does_not_start_from_rows_that_may_be_out_of_date(demo_app, demo_kms,
                                                                                            monkeypatch):
    asked = _spy(monkeypatch)
    async with demo_app.run_test(size=(100, 30)) as pilot:
        await _filtered(pilot, "is", demo_kms)
        demo_kms.keys.create("ECDSA", 256, "aaa-issuer")  # sorts before every row on show, and matches "iss"
        screen = pilot.app.screen
        screen.reload()  # what a change of the database does
        screen.query_state.text = "iss"
        screen._narrow()  # the next keystroke, before the reload's rows are in
        assert asked[-1].text == "iss" and asked[-1].name_from is None
        assert "aaa-issuer" in await _filtered(pilot, "iss", demo_kms)


async def test_a_count_waiting_for_rows_being_replaced_waits_for_the_new_rows(demo_app, demo_kms, monkeypatch):
    """A keystroke's page and the previous text's count never run side by side: the count follows the new rows."""
    counted: list[str | None] = []
    count, listing = KeyService.count, KeyService.list

    def slow_list(self, query=None):
        if query is not None and query.text == "is":
            time.sleep(0.1)  # longer than the count's wait: the old count would run meanwhile
        return listing(self, query)

    def spy_count(self, query=None):
        counted.append(query.text if query else None)
        return count(self, query)

    monkeypatch.setattr(keys_screen, "COUNT_DELAY", 0.03)
    async with demo_app.run_test(size=(100, 30)) as pilot:
        await _filtered(pilot, "", demo_kms)
        screen = pilot.app.screen
        await until(pilot, lambda: not screen.counting, "the first count")
        monkeypatch.setattr(KeyService, "list", slow_list)
        monkeypatch.setattr(KeyService, "count", spy_count)
        screen._show(list(screen.records.values()), replace(screen.query_state))  # rows in, their count armed
        assert screen.counting
        await _filtered(pilot, "is", demo_kms)
        await until(pilot, lambda: not screen.counting, "the count of 'is'")
        assert counted == ["is"] and f"{screen.total} key" in screen_text(pilot.app)
