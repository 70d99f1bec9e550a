"""The screens follow the database: what another process commits shows within a second, cursor and filter kept.

A second ``Kms`` on the same data directory plays the CLI (its own SQLite
connection); nothing is pressed in the app between its change and the check.
"""

from __future__ import annotations

import time

import pytest
from textual.widgets import DataTable, Input

from kms_tui.app import KmsApp
from kms_tui.changes import WATCH_INTERVAL
from kms_tui.service import Kms
from store import CredentialStore
from tests.pilot import until

FOLLOW = 1.5  # seconds: a change shows within this, with no key pressed


@pytest.fixture
def other_kms(demo_kms, memory_keyring, ui_root):
    """Another connection to the same database, as the CLI or a second workstation has."""
    kms = Kms(ui_root / "data", credentials=CredentialStore(backend=memory_keyring))
    try:
        yield kms
    finally:
        kms.close()


def row_names(screen) -> list[str]:
    """The names of the keys in the table's rows, top to bottom."""
    table = screen.query_one(DataTable)
    return [screen.records[str(table.coordinate_to_cell_key((i, 0)).row_key.value)].name
            for i in range(table.row_count)]


def cursor_name(screen) -> str:
    return screen.selected_record().name


async def followed(pilot, predicate, what: str) -> None:
    """``predicate`` holds within FOLLOW seconds of now."""
    started = time.monotonic()
    await until(pilot, predicate, what, timeout=FOLLOW + 1)
    assert time.monotonic() - started <= FOLLOW, f"{what} took longer than {FOLLOW} s"


def test_the_poll_is_cheap_and_sees_every_connection(demo_kms, other_kms):
    before = demo_kms.inventory.data_version()
    assert demo_kms.inventory.data_version() == before  # nothing committed: no change
    other_kms.keys.create("ECDSA", 256, "from-elsewhere")
    after_other = demo_kms.inventory.data_version()
    assert after_other != before
    demo_kms.keys.delete("from-elsewhere", force=True)  # this process's own connection counts too
    assert demo_kms.inventory.data_version() != after_other
    started = time.perf_counter()
    for _ in range(100):
        demo_kms.inventory.data_version()
    assert (time.perf_counter() - started) / 100 < 0.001  # polled on the UI thread: well under a millisecond


async def test_keys_screen_follows_creates_and_deletes_keeping_cursor_and_filter(demo_kms, other_kms, ui_paths):
    app = KmsApp(demo_kms, paths=ui_paths)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        table = screen.query_one(DataTable)
        await until(pilot, lambda: "issuing-ca-2026" in row_names(screen), "the keys")
        screen.query_one("#filter", Input).value = "-"  # a filter the new key matches too
        await until(pilot, lambda: screen.query_state.text == "-" and "partner-root-public" in row_names(screen))
        table.focus()
        table.move_cursor(row=row_names(screen).index("issuing-ca-2026"))
        assert WATCH_INTERVAL < FOLLOW

        other_kms.keys.create("ECDSA", 256, "added-by-cli")
        await followed(pilot, lambda: "added-by-cli" in row_names(screen), "the key created elsewhere")
        assert cursor_name(screen) == "issuing-ca-2026"
        assert screen.query_state.text == "-"

        other_kms.keys.delete("added-by-cli", force=True)  # to the software engine's trash: shown as pending
        other_kms.keys.run_action("added-by-cli", "purge")  # destroyed: the record goes
        await followed(pilot, lambda: "added-by-cli" not in row_names(screen), "the key deleted elsewhere")
        assert cursor_name(screen) == "issuing-ca-2026"
        assert screen.query_one("#filter", Input).value == "-"


async def test_engines_screen_follows_a_registration(demo_kms, other_kms, ui_paths):
    app = KmsApp(demo_kms, paths=ui_paths)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("engines")
        screen = app.screen
        table = screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 1, "the engines")
        first = screen.selected_id()

        other_kms.engines.register("GOLANG", "second-soft", options={"directory": str(other_kms.data_dir / "k2")})
        await followed(pilot, lambda: "second-soft" in screen.views, "the engine registered elsewhere")
        assert screen.selected_id() == first


async def test_audit_screen_follows_a_new_row(demo_kms, other_kms, ui_paths):
    app = KmsApp(demo_kms, paths=ui_paths)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("audit")
        screen = app.screen
        table = screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count > 0 and table.row_count == len(screen.rows), "the audit rows")
        before = len(screen.rows)
        table.move_cursor(row=2)
        selected = screen._selected_seq()

        other_kms.signing.sign("firmware-signing", "ED25519", b"signed elsewhere")
        await followed(pilot, lambda: len(screen.rows) > before, "the audit row written elsewhere")
        assert screen.rows[0].action == "key.sign"
        assert screen._selected_seq() == selected


async def test_stats_screen_follows_a_new_key_keeping_the_bar_chosen(demo_kms, other_kms, ui_paths):
    from kms_tui.widgets.bar_chart import BarChart

    app = KmsApp(demo_kms, paths=ui_paths)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("stats")
        screen = app.screen
        await until(pilot, lambda: screen.stats is not None and screen.stats["total"] == 7, "the stats")
        chart = screen.query_one("#chart-strength", BarChart)
        chart.focus()
        await pilot.press("down")
        assert chart.selected.label == "MEDIUM"

        other_kms.keys.create("ECDSA", 384, "counted-elsewhere")
        await followed(pilot, lambda: screen.stats["total"] == 8, "the key created elsewhere, counted")
        assert chart.bars[0].count == 4  # HIGH
        assert chart.selected.label == "MEDIUM" and screen.focused is chart


def test_a_change_seen_while_the_app_has_no_screen_is_dropped_not_raised(demo_kms, monkeypatch):
    """The database watch ticks on a timer; one tick can land while the app shuts down, its screen stack
    already empty (seen as a ScreenStackError at exit)."""
    app = KmsApp(demo_kms)  # not running: no screen on its stack
    monkeypatch.setattr(app._watch, "changed", lambda: True)
    app._follow_database()
