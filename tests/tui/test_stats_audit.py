"""The stats and audit screens and the bar chart, driven with Pilot; numbers checked against the service."""

from __future__ import annotations

import sqlite3

import pytest
from textual.widgets import DataTable, Input, Static

from kms_tui.screens.audit import AuditScreen
from kms_tui.screens.stats import CHARTS, StatsScreen, chart_bars
from kms_tui.widgets.bar_chart import Bar, BarChart, bar_cells
from tests.pilot import screen_text, type_text, until
from tests.tui.conftest import HOSTILE, SIZES


async def open_stats(pilot) -> StatsScreen:
    await pilot.app.switch_mode("stats")
    await until(pilot, lambda: isinstance(pilot.app.screen, StatsScreen) and pilot.app.screen.stats is not None)
    return pilot.app.screen


def sized(table: DataTable) -> bool:
    """The table has sized its columns to the rows it holds (it does so when idle, after the rows came)."""
    return not table._require_update_dimensions and not table._updated_cells


def audit_settled(app, rows: int | None = None, checked: bool = True):
    def check() -> bool:
        screen = app.screen
        if not isinstance(screen, AuditScreen):
            return False
        table = screen.query_one(DataTable)
        return ((rows is None or len(screen.rows) == rows) and table.row_count == len(screen.rows) and screen.rows
                and sized(table) and (not checked or screen.check is not None))
    return check


async def open_audit(pilot, rows: int | None = None) -> AuditScreen:
    await pilot.app.switch_mode("audit")
    await until(pilot, audit_settled(pilot.app, rows))
    return pilot.app.screen


async def filter_audit(pilot, text: str) -> None:
    screen = pilot.app.screen
    screen.query_one("#audit-filter", Input).value = ""
    await pilot.press("slash")
    await type_text(pilot, text)
    await pilot.press("enter")
    table = screen.query_one(DataTable)
    await until(pilot, lambda: screen.text == text and table.row_count == len(screen.rows) and sized(table))


# --- the bar chart ------------------------------------------------------------------------


def test_bars_scale_to_the_width_and_never_vanish():
    assert bar_cells(10, 10, 40) == "█" * 40
    assert bar_cells(5, 10, 40) == "█" * 20
    assert bar_cells(1, 100_000, 40) == "▏"  # a non-zero count always shows
    assert bar_cells(0, 10, 40) == ""
    assert len(bar_cells(3, 7, 33)) <= 33


async def test_bar_chart_fits_80_columns(demo_app):
    async with demo_app.run_test(size=(80, 24)) as pilot:
        await open_stats(pilot)
        chart = pilot.app.screen.query_one("#chart-strength", BarChart)
        lines = chart.render().plain.splitlines()
        assert len(lines) == 3 and all(len(line) <= chart.content_region.width for line in lines)
        assert lines[0].startswith("HIGH ") and lines[0].endswith("3  43%")


# --- stats --------------------------------------------------------------------------------


async def test_stats_match_the_service_and_refresh(demo_app, demo_kms):
    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_stats(pilot)
        stats = demo_kms.inventory.stats()
        assert screen.stats == stats
        for chart_id, _, key in CHARTS:
            bars = screen.query_one(f"#{chart_id}", BarChart).bars
            assert bars == chart_bars(key, stats)
        by = {chart_id: {b.label: b.count for b in screen.query_one(f"#{chart_id}", BarChart).bars}
              for chart_id, _, _ in CHARTS}
        assert by["chart-strength"] == {"HIGH": 3, "MEDIUM": 3, "LOW": 1}
        assert by["chart-engine"] == {"golang-default": 7}
        assert by["chart-level"] == {"SL2": 0, "SL1": 0, "SL0": 7}
        assert by["chart-bound"] == {"bound": 1, "unbound": 6}
        assert by["chart-size"]["ECDSA 256"] == 2 and sum(by["chart-algorithm"].values()) == 7
        assert "7 keys on 1 engine" in screen_text(pilot.app)
        demo_kms.keys.create("ECDSA", 384, "made-meanwhile")
        await pilot.press("r")
        await until(pilot, lambda: screen.stats["total"] == 8)
        assert "8 keys on 1 engine" in screen_text(pilot.app)
        assert screen.query_one("#chart-strength", BarChart).bars[0] == Bar("HIGH", 4, "bold green")


# --- audit --------------------------------------------------------------------------------


async def test_audit_lists_newest_first_with_the_chain_intact(demo_app, demo_kms):
    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        expected = demo_kms.audit.rows(500)
        assert [r.seq for r in screen.rows] == [r.seq for r in expected]
        assert screen.rows[0].action == "key.sign"
        table = screen.query_one(DataTable)
        assert str(table.get_row_at(0)[2]) == "key.sign"
        assert f"✓ chain intact: {len(expected)} rows" in screen_text(pilot.app)


async def test_audit_filter_by_action_key_and_engine(demo_app, demo_kms):
    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        await filter_audit(pilot, "key.bind")
        assert [r.action for r in screen.rows] == ["key.bind", "key.bind"]
        await filter_audit(pilot, "issuing-ca")  # an alias: resolved through the service
        issuing = demo_kms.keys.resolve("issuing-ca").key_id
        assert {r.key_id for r in screen.rows} == {issuing} and len(screen.rows) == 3
        assert "filter: key issuing-ca-2026" in screen_text(pilot.app)
        await filter_audit(pilot, "engine:golang-default")
        assert len(screen.rows) == len(demo_kms.audit.rows(500, engine_id="golang-default"))
        await filter_audit(pilot, "action:engine.register")
        assert [r.action for r in screen.rows] == ["engine.register"]
        screen.query_one("#audit-filter", Input).value = ""  # clearing shows everything again
        await until(pilot, lambda: screen.text == "" and len(screen.rows) == len(demo_kms.audit.rows(500)))


async def test_audit_filter_that_matches_nothing_is_shown_inline(demo_app):
    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        before = list(screen.rows)
        await pilot.press("slash", *"no-such-thing", "enter")
        await until(pilot, lambda: "not an action, engine or key" in screen_text(pilot.app))
        assert isinstance(pilot.app.screen, AuditScreen)  # inline, no modal
        assert screen.rows == before


async def test_audit_reads_more_rows_on_demand(demo_app, demo_kms, monkeypatch):
    import kms_tui.screens.audit as audit

    monkeypatch.setattr(audit, "PAGE", 4)
    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot, rows=4)
        assert "newest 4 shown (m: more)" in screen_text(pilot.app)
        await pilot.press("m")
        await until(pilot, audit_settled(pilot.app, rows=8))
        assert [r.seq for r in screen.rows] == [r.seq for r in demo_kms.audit.rows(8)]


async def test_audit_shows_hostile_names_literally(demo_app, demo_kms):
    hostile_id = demo_kms.keys.resolve(HOSTILE).key_id
    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        table = screen.query_one(DataTable)
        index = next(i for i, r in enumerate(screen.rows) if r.key_id == hostile_id and r.action == "key.import")
        assert not table.get_row_at(index)[5].spans  # a literal Text: no markup was applied
        table.move_cursor(row=index)
        await until(pilot, lambda: "[red]alarm[/red]" in screen_text(pilot.app))
        text = screen_text(pilot.app)
        assert "\\u001b]0;pwned" in text and "\x1b" not in text  # the escape is shown, not obeyed


async def test_audit_filter_applies_as_you_type_once_typing_pauses(demo_app, monkeypatch):
    import kms_tui.screens.audit as audit

    fetched: list[str] = []
    fetch = AuditScreen._fetch
    monkeypatch.setattr(AuditScreen, "_fetch", staticmethod(lambda kms, text, limit: (
        fetched.append(text), fetch(kms, text, limit))[1]))
    monkeypatch.setattr(audit, "FILTER_DELAY", 0.2)
    async with demo_app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(pilot)
        fetched.clear()
        await pilot.press("slash")
        await type_text(pilot, "key.bind")  # no Enter
        await until(pilot, lambda: [r.action for r in screen.rows] == ["key.bind", "key.bind"])
        assert fetched == ["key.bind"]  # one read once typing paused, none per key
        assert isinstance(pilot.app.focused, Input)  # the cursor stays in the filter
        await type_text(pilot, "x")
        await until(pilot, lambda: "not an action, engine or key" in screen_text(pilot.app))
        assert fetched == ["key.bind", "key.bindx"]


def _rename_then_delete(kms) -> str:
    """partner-root-public renamed, given an alias, then deleted (a public key: its record goes)."""
    key_id = kms.keys.resolve("partner-root-public").key_id
    kms.keys.rename("partner-root-public", "partner-root-2027")
    kms.keys.add_alias("partner-root-2027", "partner")
    kms.keys.delete("partner-root-2027", force=True)
    assert kms.keys.by_key_id(key_id) == []
    return key_id


@pytest.mark.parametrize("text", ["partner-root-public", "partner", "key:partner-root-2027"])
async def test_audit_filter_finds_a_deleted_key_by_any_name_it_had(demo_app, demo_kms, text):
    key_id = _rename_then_delete(demo_kms)
    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        await filter_audit(pilot, text)
        assert [r.action for r in screen.rows] == ["key.delete", "key.alias.add", "key.rename", "key.import"]
        assert {r.key_id for r in screen.rows} == {key_id}
        shown = screen_text(pilot.app)
        assert f"filter: key partner-root-2027 ({key_id[:12]}…, deleted)" in shown
        assert str(screen.query_one(DataTable).get_row_at(0)[4]) == f"partner-root-20… {key_id[:8]}"  # 120 wide


@pytest.mark.parametrize("size, cell", [("120x40", "issuing-ca-2026 {:.8}"), ("80x24", "issuing-… {:.6}")])
async def test_audit_rows_show_the_key_name_beside_its_id(demo_app, demo_kms, size, cell):
    issuing = demo_kms.keys.resolve("issuing-ca")
    async with demo_app.run_test(size=SIZES[size]) as pilot:
        screen = await open_audit(pilot)
        table = screen.query_one(DataTable)
        index = next(i for i, r in enumerate(screen.rows) if r.key_id == issuing.key_id)
        assert str(table.get_row_at(index)[4]) == cell.format(issuing.key_id)
        assert cell.format(issuing.key_id) in screen_text(pilot.app)  # on screen whole, not cut at the edge
        table.move_cursor(row=index)
        detail = screen.query_one("#audit-row", Static)
        await until(pilot, lambda: f"key {issuing.key_id} issuing-ca-2026" in str(detail.render()))


async def test_audit_filter_by_a_key_id_on_two_engines_groups_them_by_engine(demo_app, demo_kms, tmp_path):
    from tests.tui.conftest import fixture_key

    demo_kms.engines.register("GOLANG", "soft-2", options={"directory": str(tmp_path / "soft-2")},
                              secret="a passphrase for soft-2")
    other = demo_kms.keys.import_key(fixture_key("p256.pem"), "device-copy", engine_id="soft-2")
    demo_kms.signing.sign("device-fleet-01", "ECDSA_SHA_256", b"newest on the first engine")
    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        await filter_audit(pilot, other.key_id)
        assert [(r.engine_id, r.action) for r in screen.rows] == [
            ("golang-default", "key.sign"), ("golang-default", "key.import"), ("soft-2", "key.import")]
        assert [r.key_name for r in screen.rows] == ["device-fleet-01", "device-fleet-01", "device-copy"]
        assert f"filter: key {other.key_id[:19]}…: 2 records, on golang-default, soft-2" in screen_text(pilot.app)


def tamper(data_dir, seq_action: str = "key.bind") -> int:
    """Edit one audit row behind the log's back, as an attacker with file access would."""
    with sqlite3.connect(data_dir / "kms.db") as con:
        seq = con.execute("SELECT MIN(seq) FROM audit WHERE action = ?", (seq_action,)).fetchone()[0]
        con.execute("UPDATE audit SET details = '{}' WHERE seq = ?", (seq,))
    con.close()
    return seq


async def test_audit_chain_broken_after_tampering_and_recheck(demo_app, demo_kms):
    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        assert screen.check.ok
        seq = tamper(demo_kms.data_dir)
        await pilot.press("c")
        await until(pilot, lambda: screen.check is not None and not screen.check.ok)
        assert screen.check.first_broken == seq
        assert f"✗ BROKEN at row {seq}: Row {seq} was altered" in screen_text(pilot.app)


# --- snapshots ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_stats(snap_compare, demo_app, size):
    async def run_before(pilot):
        await open_stats(pilot)

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_stats_empty(snap_compare, empty_app, size):
    async def run_before(pilot):
        await open_stats(pilot)

    assert snap_compare(empty_app, terminal_size=SIZES[size], run_before=run_before)


def test_snapshot_audit_deleted_key(snap_compare, demo_app, demo_kms):
    """80×24: a deleted key's rows found by its first name, its last name beside its id."""
    _rename_then_delete(demo_kms)

    async def run_before(pilot):
        await open_audit(pilot)
        await filter_audit(pilot, "partner-root-public")

    assert snap_compare(demo_app, terminal_size=SIZES["80x24"], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", ["log", "filtered", "broken"])
def test_snapshot_audit(snap_compare, demo_app, size, step):
    async def run_before(pilot):
        if step == "broken":
            tamper(pilot.app.kms.data_dir)
        await open_audit(pilot)
        if step == "filtered":
            await filter_audit(pilot, "issuing-ca")

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)
