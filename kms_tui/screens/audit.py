"""The audit screen: the hash-chained log, newest first, filterable, with the chain check.

Rows are read ``PAGE`` at a time (``m`` reads more), never the whole log. The
filter takes an action (``key.create``), an engine id or a key reference
(key id, a name or alias the key has or had, PKCS#11 URI), tried in that order;
a prefix (``action:``, ``engine:``, ``key:``) says which. It applies as you type,
``FILTER_DELAY`` after the last key. A key reference is looked up in the log
through the service (``kms.audit.keys_known_as``), in the worker, so deleted keys
are found too; a key id recorded on several engines shows each, grouped by
engine. Each row shows its key's name beside its id. The chain check
(``kms.audit.verify``) runs in its own worker when the screen opens and on ``c``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from ..changes import DatabaseChanged
from ..service.types import AuditCheck, AuditRow
from ..widgets.cells import literal
from ..widgets.tables import cursor_row_key
from ..workers import ServiceCalls

PAGE = 500
PREFIXES = ("action", "engine", "key")
FILTER_DELAY = 0.3  # seconds after the last key typed before the filter applies
NARROW = 100  # below this many columns the Key column holds less of the name and of the id
KEY_CELL = {False: (16, 8), True: (9, 6)}  # narrow? -> characters of a key's name, then of its id


@dataclass(frozen=True)
class AuditFilter:
    """What the filter text turned out to mean."""

    kind: str | None = None  # "action", "engine", "key" or None (everything)
    value: str | None = None  # the action or the engine id
    shown: str = ""  # how the status line names it
    keys: tuple[tuple[str, str], ...] = ()  # a key filter's (engine id, key id) records, by engine

    def query(self) -> dict[str, object]:
        if self.kind == "key":
            return {"keys": list(self.keys)}
        return {"engine_id" if self.kind == "engine" else "action": self.value} if self.kind else {}

    def grouped(self, rows: list[AuditRow]) -> list[AuditRow]:
        """Rows of a key on several engines, engine by engine (newest first within each)."""
        if len(self.keys) < 2:
            return rows
        order = {pair: i for i, pair in enumerate(self.keys)}
        return sorted(rows, key=lambda r: order.get((r.engine_id or "", r.key_id or ""), len(order)))


def chain_text(check: AuditCheck | None) -> Text:
    if check is None:
        return Text("checking the chain…", style="dim")
    if check.ok:
        return Text(f"✓ chain intact: {check.rows} row{'s' if check.rows != 1 else ''}", style="bold green")
    where = f" at row {check.first_broken}" if check.first_broken is not None else ""
    return Text(f"✗ BROKEN{where}: ", style="bold red") + literal(check.reason or "", style="red")


def interpret(kms, text: str, kind: str | None) -> AuditFilter:
    """An action, an engine id or a key reference, in that order unless ``kind`` says which."""
    if kind == "action" or (kind is None and kms.audit.rows(1, 0, action=text)):
        return AuditFilter("action", text, f"action {text}")
    if kind == "engine" or (kind is None and any(v.record.id == text for v in kms.engines.list())):
        kms.engines.get(text)  # an unknown engine is an error, shown inline
        return AuditFilter("engine", text, f"engine {text}")
    known = kms.audit.keys_known_as(text)  # KeyNotFound: shown inline
    return AuditFilter("key", None, key_shown(text, known), tuple((k.engine_id, k.key_id) for k in known))


def key_shown(text: str, known) -> str:
    """How the status line names a key filter: the key, or how many records the reference found."""
    if len(known) > 1:
        ref = text if len(text) <= 20 else text[:19] + "…"
        return f"key {ref}: {len(known)} records, on {', '.join(sorted({k.engine_id for k in known}))}"
    [key] = known
    return f"key {key.name or text} ({key.key_id[:12]}…{'' if key.recorded else ', deleted'})"


def key_cell(row: AuditRow, narrow: bool = False) -> Text:
    """The Key column: the key's name beside the start of its id (both fit at 80 columns)."""
    if not row.key_id:
        return Text("")
    if not row.key_name:
        return Text(row.key_id[:12])
    name, shown_id = KEY_CELL[narrow]
    return literal(row.key_name, name) + Text(f" {row.key_id[:shown_id]}", style="dim")


class AuditScreen(ServiceCalls, Screen):
    """The audit log with a filter, more rows on demand, and the chain status."""

    DEFAULT_CSS = """
    AuditScreen #audit-filter { height: 3; }
    AuditScreen #audit-chain { height: auto; padding: 0 1; }
    AuditScreen #audit-row { height: auto; max-height: 6; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="audit.filter", tooltip="Filter by action, engine or key"),
        Binding("m", "more", "More rows", id="audit.more", tooltip=f"Read {PAGE} older rows"),
        Binding("c", "check", "Check chain", id="audit.check", tooltip="Verify the hash chain again"),
        Binding("r", "refresh", "Refresh", id="audit.refresh", show=False),
        Binding("escape", "focus_table", "Table", id="audit.table", show=False),
    ]

    def __init__(self):
        super().__init__()
        self.text = ""
        self.filter = AuditFilter()
        self.limit = PAGE
        self.rows: list[AuditRow] = []
        self.check: AuditCheck | None = None
        self._filter_timer = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="Filter: action (key.sign), engine id or key; or action: engine: key:",
                    id="audit-filter")
        yield Static(chain_text(None), id="audit-chain")
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="audit-row")
        yield Static("Loading…", id="audit-status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, title in (("seq", "#"), ("ts", "Time (UTC)"), ("action", "Action"), ("engine", "Engine"),
                           ("key", "Key"), ("details", "Details")):
            table.add_column(title, key=key)
        table.focus()
        self.when_ready(self._first_load, show=lambda note: self.query_one("#audit-status", Static).update(Text(note)))

    def _first_load(self) -> None:
        self.reload()
        self.action_check()

    def on_screen_resume(self) -> None:
        if self.is_mounted:  # other screens append rows
            self.reload()

    def on_database_changed(self, event: DatabaseChanged) -> None:
        self.reload()  # the same filter and as many rows; the cursor stays on the same row

    # --- loading ---------------------------------------------------------------

    def reload(self) -> None:
        if not self.kms_ready:
            return  # the first load runs once the service is open
        self.call(self._fetch, self.kms, self.text, self.limit, then=self._show, failed=self._filter_failed,
                  group="rows")

    @staticmethod
    def _fetch(kms, text: str, limit: int) -> tuple[AuditFilter, list[AuditRow]]:
        """In the worker: work out what the filter means, then read the rows."""
        kind, _, rest = text.partition(":")
        if kind in PREFIXES and rest.strip():
            found = interpret(kms, rest.strip(), kind)
        else:
            found = interpret(kms, text, None) if text else AuditFilter()
        return found, found.grouped(kms.audit.rows(limit, 0, **found.query()))

    def _show(self, result: tuple[AuditFilter, list[AuditRow]]) -> None:
        self.filter, self.rows = result
        table = self.query_one(DataTable)
        selected = self._selected_seq()
        table.clear()
        room = max(20, self.size.width - 88)  # what the other columns leave: no sideways scrolling
        for row in self.rows:
            table.add_row(
                str(row.seq), row.ts[:19].replace("T", " "), literal(row.action, 20), literal(row.engine_id or "", 18),
                key_cell(row, self.size.width < NARROW), literal(self._details(row), room), key=str(row.seq),
            )
        if selected is not None and selected in {str(r.seq) for r in self.rows}:
            table.move_cursor(row=table.get_row_index(selected))
        self._status()
        self._row_detail()
        self._mark_broken()

    def _filter_failed(self, error: BaseException) -> bool:
        from ..service.errors import KmsError, render

        if not isinstance(error, KmsError):
            return False
        title, message = render(error)
        self.query_one("#audit-status", Static).update(
            Text(f"Filter {self.text!r}: not an action, engine or key — {message}", style="bold red"))
        return True  # a filter that matches nothing is shown inline, not in a modal

    def _status(self) -> None:
        n = len(self.rows)
        where = f" · filter: {self.filter.shown}" if self.filter.kind else ""
        more = f"newest {n} shown (m: more)" if n >= self.limit else f"{n} row{'s' if n != 1 else ''}"
        self.query_one("#audit-status", Static).update(literal(f"{more}{where} · / filter · c check the chain"))

    @staticmethod
    def _details(row: AuditRow) -> str:
        return json.dumps(row.details, ensure_ascii=False, sort_keys=True) if row.details else ""

    # --- the highlighted row -----------------------------------------------------

    def _selected_seq(self) -> str | None:
        return cursor_row_key(self.query_one(DataTable))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._row_detail()

    def _row_detail(self) -> None:
        seq = self._selected_seq()
        row = next((r for r in self.rows if str(r.seq) == seq), None)
        detail = self.query_one("#audit-row", Static)
        if row is None:
            detail.update("")
            return
        text = Text()
        text.append(f"#{row.seq} {row.ts} ", style="bold")
        text.append_text(literal(row.action, style="bold"))
        if row.key_id:
            text.append(f"\nkey {row.key_id}")
            if row.key_name:
                text.append(" ")
                text.append_text(literal(row.key_name, style="bold"))
        if row.details:
            text.append("\n")
            text.append_text(literal(self._details(row)))
        detail.update(text)

    # --- actions -------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._apply_filter(event.value)
        self.query_one(DataTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """The filter applies as you type: at once when cleared, else once typing pauses."""
        self._cancel_filter_timer()
        if not event.value.strip():
            if self.text:  # clearing the filter shows everything at once
                self._apply_filter("")
            return
        value = event.value
        self._filter_timer = self.set_timer(FILTER_DELAY, lambda: self._apply_filter(value))

    def _cancel_filter_timer(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None

    def _apply_filter(self, value: str) -> None:
        self._cancel_filter_timer()
        self.text, self.limit = value.strip(), PAGE
        self.reload()

    def action_more(self) -> None:
        if len(self.rows) >= self.limit:
            self.limit += PAGE
            self.reload()
        else:
            self.notify("That is the whole log for this filter.", timeout=2)

    def action_check(self) -> None:
        if not self.kms_ready:
            return
        self.check = None
        self.query_one("#audit-chain", Static).update(chain_text(None))
        self.call(self.kms.audit.verify, then=self._checked, group="chain")

    def _checked(self, check: AuditCheck) -> None:
        self.check = check
        self.query_one("#audit-chain", Static).update(chain_text(check))
        self._mark_broken()

    def _mark_broken(self) -> None:
        """Point at the first row where the chain breaks, when it is on screen."""
        check = self.check
        if check is None or check.ok or check.first_broken is None:
            return
        key = str(check.first_broken)
        if any(str(r.seq) == key for r in self.rows):
            self.query_one(DataTable).update_cell(key, "seq", Text(f"{key} ✗", style="bold red"), update_width=True)

    def action_refresh(self) -> None:
        self.reload()
        self.action_check()

    def action_focus_filter(self) -> None:
        self.query_one("#audit-filter", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one(DataTable).focus()
