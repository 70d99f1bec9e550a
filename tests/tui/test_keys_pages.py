"""How the keys screen gets a keystroke's page: read at once, shown only if still wanted, nothing left behind."""

from __future__ import annotations

import threading

from textual.widgets import DataTable, Input

from kms_tui.screens.keys import PAGE, KeysScreen
from kms_tui.service.key_ops import KeyService
from kms_tui.service.types import KeyQuery
from tests.pilot import until, workers_idle


def _names(pilot) -> list[str]:
    screen = pilot.app.screen
    table = screen.query_one("#keys-table", DataTable)
    return [screen.records[str(table.coordinate_to_cell_key((i, 0)).row_key.value)].name
            for i in range(table.row_count)]


async def _loaded(pilot, kms, text: str = "") -> None:
    expected = [r.name for r in kms.keys.list(KeyQuery(text=text or None, limit=PAGE))]
    await until(pilot, lambda: _names(pilot) == expected and workers_idle(pilot.app), f"the rows of {text!r}")


async def test_the_filter_text_is_taken_as_it_is_set(demo_app, demo_kms, monkeypatch):
    """The page is asked for when the text changes, not once the Input's Changed message comes round."""
    asked: list[KeyQuery] = []
    fetch = KeysScreen._fetch
    monkeypatch.setattr(KeysScreen, "_fetch", lambda self, query: asked.append(query) or fetch(self, query))
    async with demo_app.run_test(size=(100, 30)) as pilot:
        await _loaded(pilot, demo_kms)
        screen = pilot.app.screen
        screen.query_one("#filter", Input).value = "dev"
        assert screen.query_state.text == "dev" and asked[-1].text == "dev"
        await _loaded(pilot, demo_kms, "dev")


async def test_a_page_asked_for_before_a_newer_one_is_never_shown(demo_app, demo_kms, monkeypatch):
    """Its rows come in after the newer text was typed: dropped. A page not begun by then is never read."""
    expected = [r.name for r in demo_kms.keys.list(KeyQuery(text="iss", limit=PAGE))]
    listing, show = KeyService.list, KeysScreen._show
    gate, read, shown = threading.Event(), [], []

    def held_list(self, query=None):
        read.append(query.text if query else None)
        if query is not None and query.text == "i":
            gate.wait(10)  # still being read while "is" and "iss" are typed
        return listing(self, query)

    def spy_show(self, records, query=None):
        shown.append(query.text if query else None)
        return show(self, records, query)

    async with demo_app.run_test(size=(100, 30)) as pilot:
        await _loaded(pilot, demo_kms)
        monkeypatch.setattr(KeyService, "list", held_list)
        monkeypatch.setattr(KeysScreen, "_show", spy_show)
        field = pilot.app.screen.query_one("#filter", Input)
        field.value = "i"
        await until(pilot, lambda: read == ["i"], "the page of 'i' being read")
        field.value = "is"
        field.value = "iss"
        gate.set()
        await until(pilot, lambda: _names(pilot) == expected and workers_idle(pilot.app), "the rows of 'iss'")
        assert read == ["i", "iss"] and shown == ["iss"]


async def test_a_new_page_lets_go_of_the_drawing_of_the_last_one_at_once(demo_app, demo_kms):
    """The table's render caches are unlinked when cleared: freed then, not left in rings for a full collection."""
    async with demo_app.run_test(size=(100, 30)) as pilot:
        await _loaded(pilot, demo_kms)
        await pilot.pause()
        table = pilot.app.screen.query_one("#keys-table", DataTable)
        entries = [entry for cache in (table._row_render_cache, table._cell_render_cache, table._line_cache)
                   for entry in cache._cache.values()]
        assert entries  # the page was drawn
        pilot.app.screen.query_one("#filter", Input).value = "dev"
        await _loaded(pilot, demo_kms, "dev")
        assert not any(entries)
