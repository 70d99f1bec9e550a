"""Stats drill down: Enter or a click on a bar shows the keys screen filtered to the keys that bar counts."""

from __future__ import annotations

import pytest
from textual.widgets import Select

from kms_tui.screens.keys import FILTER_FIELDS, KeysScreen
from kms_tui.screens.stats import StatsScreen, bar_filter
from kms_tui.service.types import KeyQuery
from kms_tui.widgets.bar_chart import BarChart
from tests.pilot import settle_view, until
from tests.tui.conftest import SIZES


async def open_stats(pilot) -> StatsScreen:
    await pilot.app.switch_mode("stats")
    await until(pilot, lambda: isinstance(pilot.app.screen, StatsScreen) and pilot.app.screen.stats is not None)
    return pilot.app.screen


def keys_shown(app, **fields) -> bool:
    """The keys screen is on view, its query is ``fields`` and its rows are the service's for that query."""
    screen = app.screen
    if not isinstance(screen, KeysScreen):
        return False
    q = screen.query_state
    wanted = {name: fields.get(name) for name in FILTER_FIELDS}
    if {name: getattr(q, name) for name in wanted} != wanted:
        return False
    expected = app.kms.keys.list(KeyQuery(**wanted))
    return sorted(r.key_id for r in screen.records.values()) == sorted(r.key_id for r in expected) and screen.total \
        == len(expected)


def status(app) -> str:
    return str(app.screen.query_one("#keys-status").render())


def test_every_drillable_bar_names_a_key_query():
    assert bar_filter("by_engine", "golang-default") == {"engine_id": "golang-default"}
    assert bar_filter("by_strength", "LOW") == {"strength": "LOW"}
    assert bar_filter("by_algorithm", "Ed25519") == {"algorithm": "Ed25519"}
    assert bar_filter("by_size", "RSA 3072") == {"algorithm": "RSA", "size": 3072}
    assert bar_filter("by_security_level", "SL2") == {"security_level": 2}
    assert bar_filter(None, "bound") == {"bound": True}
    assert bar_filter(None, "unbound") == {"bound": False}


async def test_enter_on_a_strength_bar_shows_those_keys(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        screen = await open_stats(pilot)
        chart = screen.query_one("#chart-strength", BarChart)
        chart.focus()
        await pilot.press("down")  # HIGH, then MEDIUM
        assert chart.selected.label == "MEDIUM"
        await pilot.press("enter")
        await until(pilot, lambda: keys_shown(pilot.app, strength="MEDIUM"), "the MEDIUM keys")
        keys = pilot.app.screen
        assert keys.query_one("#strength-filter", Select).value == "MEDIUM"
        assert len(keys.records) == 3
        await pilot.press("x")  # every filter cleared: all seven keys again
        await until(pilot, lambda: keys_shown(pilot.app), "every key")
        assert keys.query_one("#strength-filter", Select).value is Select.NULL
        assert len(keys.records) == 7


async def test_click_on_an_engine_bar_shows_its_keys(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        screen = await open_stats(pilot)
        chart = screen.query_one("#chart-engine", BarChart)
        assert [b.label for b in chart.bars] == ["golang-default"]
        await pilot.click(chart, offset=(4, 1))  # the first line inside the border
        await until(pilot, lambda: keys_shown(pilot.app, engine_id="golang-default"), "the engine's keys")
        await until(pilot, lambda: pilot.app.screen.query_one("#engine-filter", Select).value == "golang-default")


async def test_size_and_bound_bars_filter_and_say_so(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        screen = await open_stats(pilot)
        size_chart = screen.query_one("#chart-size", BarChart)
        size_chart.focus()
        labels = [b.label for b in size_chart.bars]
        for _ in range(labels.index("RSA 3072")):
            await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: keys_shown(pilot.app, algorithm="RSA", size=3072), "the RSA 3072 keys")
        assert [r.name for r in pilot.app.screen.records.values()] == ["intermediate-ca-2026"]
        assert "RSA 3072 only (x clears)" in status(pilot.app)

        await pilot.app.switch_mode("stats")
        bound = screen.query_one("#chart-bound", BarChart)
        bound.focus()
        await pilot.press("enter")  # "bound"; the size filter of the last drill goes
        await until(pilot, lambda: keys_shown(pilot.app, bound=True), "the bound keys")
        assert [r.name for r in pilot.app.screen.records.values()] == ["issuing-ca-2026"]
        assert "bound only (x clears)" in status(pilot.app)


async def test_enter_on_a_security_level_bar_shows_the_keys_of_engines_at_that_level(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        screen = await open_stats(pilot)
        assert screen.focused is screen.query_one("#chart-engine", BarChart)  # the first chart still has the focus
        chart = screen.query_one("#chart-level", BarChart)
        assert [b.label for b in chart.bars] == ["SL2", "SL1", "SL0"]
        chart.focus()
        await pilot.press("enter")  # SL2: no engine of the demo is at SL2
        assert isinstance(pilot.app.screen, StatsScreen)
        await pilot.press("down", "down", "enter")  # SL0: the software engine's keys
        await until(pilot, lambda: keys_shown(pilot.app, security_level=0), "the SL0 keys")
        assert len(pilot.app.screen.records) == 7
        assert "SL0 engines only (x clears)" in status(pilot.app)
        await pilot.press("x")
        await until(pilot, lambda: keys_shown(pilot.app), "every key")
        assert "SL0" not in status(pilot.app)


@pytest.mark.parametrize("size", ["80x24"])
def test_snapshot_drilled_keys(snap_compare, demo_app, size):
    async def run_before(pilot):
        screen = await open_stats(pilot)
        screen.query_one("#chart-size", BarChart).focus()
        await pilot.press("enter")  # the first size: ECDSA 256
        await until(pilot, lambda: keys_shown(pilot.app, algorithm="ECDSA", size=256), "the ECDSA 256 keys")
        await until(pilot, lambda: not pilot.app.screen.counting)
        await settle_view(pilot)

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)
