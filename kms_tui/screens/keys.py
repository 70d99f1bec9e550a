"""The keys screen: one table of every key (or one engine's), filtered and sorted in SQLite.

Rows are paged from the database (``PAGE`` at a time) rather than loaded into
the widget, so the table stays quick with 100 000 keys. The cursor moves across
pages as if the table held every row: down on the last row loads the next page,
Ctrl+End the last page. Typing in the filter re-queries; a newer query replaces
an older one still running; the count for the status line follows the rows.
"""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import replace
from itertools import zip_longest

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Select, Static
from textual.widgets.data_table import DuplicateKey, Row, RowKey
from textual.widgets.select import InvalidSelectValueError
from textual.worker import Worker

from ..changes import DatabaseChanged
from ..service import is_retired
from ..service.algorithms import KEY_ALGORITHMS
from ..service.types import KeyQuery, KeyRecord
from ..widgets.cells import literal, strength
from ..widgets.tables import cursor_row_key
from ..workers import ServiceCalls

PAGE = 100  # rows fetched and drawn at a time: two screens' worth at 40 lines, a small table to redraw
COUNT_DELAY = 0.15  # seconds after the last page before the count is asked for
NARROW = 100  # below this many columns the table drops State and truncates harder
COLUMNS = (  # (column key, title, sort column or None)
    ("name", "Name", "name"),
    ("key_id", "Key ID", "key_id"),
    ("engine_id", "Engine", "engine_id"),
    ("algorithm", "Algorithm", "algorithm"),
    ("strength", "Strength", "strength"),
    ("kind", "Kind", None),
    ("bound", "Bound", None),
    ("state", "State", None),
)
SORTABLE = [c[2] for c in COLUMNS if c[2]] + ["creation_ts"]
SELECT_FIELDS = {"engine-filter": "engine_id", "algorithm-filter": "algorithm", "strength-filter": "strength"}
FILTER_FIELDS = ("text", "engine_id", "algorithm", "strength", "size", "bound", "security_level",
                 "expiring_within_days", "quantum_vulnerable")  # what show_only sets
EXPIRY_STEPS = {None: 30, 30: 90, 90: None}  # e: keys with a certificate ending within 30, then 90 days, then all
SORT_WORDS = {"key_id": "key id", "engine_id": "engine", "creation_ts": "creation time"}  # as the status line says them



_pages: ThreadPoolExecutor | None = None


def _page_thread() -> ThreadPoolExecutor:
    """The one thread that reads keys pages (pages queue for the store's one connection anyway)."""
    global _pages
    if _pages is None:
        _pages = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keys-page")
    return _pages


def _width(cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


class FilterInput(Input):
    """The filter field: an Input whose text never lays the screen out again.

    Input's virtual size (the width of its text) is a layout reactive, so every keystroke
    laid out the whole screen and redrew a dozen widgets before the keystroke's page could
    be shown. This field's size never depends on its text (an ``auto`` size would still ask
    for a layout: Input does that itself), and it scrolls its cursor into view from the
    virtual size directly.
    """

    virtual_size = Reactive(Size(0, 0), layout=False)


class KeysTable(DataTable):
    """A DataTable holding one page of keys; at its edges it asks the screen for the next one."""

    class Edge(Message):
        def __init__(self, where: str):
            super().__init__()
            self.where = where  # "first", "last", "next" or "previous"

    def _update_dimensions(self, new_rows) -> None:
        # Every column has a fixed width and every row is one line high, so measuring
        # each cell of a new page (DataTable's way, for auto-width columns) changes
        # nothing; it was most of the time a filter keystroke took to show. Only the
        # scrollable size is left to set.
        if any(column.auto_width for column in self.columns.values()):
            super()._update_dimensions(new_rows)
            return
        width = sum(column.get_render_width(self) for column in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width + self._row_label_column_width, self._total_row_height + header)

    def show_page(self, rows: list[tuple[str, list]]) -> None:
        """Hold these rows (key, cells) and no others: ``clear()`` and ``add_row`` for each, in one pass.

        ``add_row`` re-sets the cursor (a reactive that always runs its watchers), asks
        for an idle pass and counts an update for every row; a page of rows needs each
        once, after the last row, where a cleared table's cursor (0, 0) ends up the same.
        """
        self.clear()
        keys = [column.key for column in self.ordered_columns]
        locations, data, held, new = self._row_locations, self._data, self.rows, self._new_rows
        for key, cells in rows:
            if len(cells) > len(keys):
                raise ValueError("More values provided than there are columns.")
            row_key = RowKey(key)
            if row_key in locations:
                raise DuplicateKey(f"The row key {row_key!r} already exists.")
            locations[row_key] = len(held)
            data[row_key] = dict(zip_longest(keys, cells))
            held[row_key] = Row(row_key, 1)
            new.add(row_key)
        if not rows:
            return
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if self.columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()  # a cursor where the empty table had none
        self._update_count += 1
        self.check_idle()

    def _clear_caches(self) -> None:
        # A Textual LRUCache keeps its entries in a ring of lists that its clear() leaves
        # to the cycle collector, rendered lines and all. A new page clears them on every
        # keystroke: unlinked first, they are freed here and then, not later in one full
        # collection that stalls a keystroke.
        for cache in (self._row_render_cache, self._cell_render_cache, self._row_renderable_cache,
                      self._line_cache, self._offset_cache, self._ordered_row_cache):
            for entry in cache._cache.values():
                entry.clear()
        super()._clear_caches()

    def _at_top(self) -> bool:
        return self.cursor_row <= 0

    def _at_bottom(self) -> bool:
        return self.cursor_row >= self.row_count - 1

    def action_cursor_down(self) -> None:
        if self._at_bottom():
            self.post_message(self.Edge("next"))
        else:
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self._at_top():
            self.post_message(self.Edge("previous"))
        else:
            super().action_cursor_up()

    def action_page_down(self) -> None:
        if self._at_bottom():
            self.post_message(self.Edge("next"))
        else:
            super().action_page_down()

    def action_page_up(self) -> None:
        if self._at_top():
            self.post_message(self.Edge("previous"))
        else:
            super().action_page_up()

    def action_scroll_bottom(self) -> None:
        super().action_scroll_bottom()
        self.post_message(self.Edge("last"))

    def action_scroll_top(self) -> None:
        super().action_scroll_top()
        self.post_message(self.Edge("first"))


class KeysScreen(ServiceCalls, Screen):
    """All keys: filter as you type, quick filters, sort, page, open, act."""

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="keys.filter"),
        Binding("n", "create", "New", id="keys.create"),
        Binding("i", "import", "Import", id="keys.import"),
        Binding("s", "sign", "Sign", id="keys.sign"),
        Binding("v", "verify", "Verify", id="keys.verify"),
        Binding("C", "csr", "Make a CSR", id="keys.csr", show=False, tooltip="Make a certificate signing request with the key"),
        Binding("R", "rotate", "Rotate", id="keys.rotate", show=False,
                tooltip="Rotate the key: a successor takes its aliases, the key is retired"),
        Binding("d", "delete", "Delete", id="keys.delete"),
        Binding("o", "sort", "Sort", id="keys.sort", show=False),  # the status line says "sorted by … (o)"
        Binding("O", "reverse", "Reverse", id="keys.reverse", show=False),
        Binding("right_square_bracket", "page(1)", "Next page", id="keys.next_page", show=False),
        Binding("left_square_bracket", "page(-1)", "Prev page", id="keys.prev_page", show=False),
        Binding("r", "refresh", "Refresh", id="keys.refresh", show=False),
        Binding("e", "expiring", "Expiring certificates", id="keys.expiring", show=False,
                tooltip="Only keys with a certificate ending within 30 days, then 90, then every key"),
        Binding("q", "quantum", "Quantum-vulnerable", id="keys.quantum", show=False,
                tooltip="Only keys a quantum computer breaks (RSA, ECDSA, EdDSA, DSA: not ML-DSA); again for all"),
        Binding("x", "clear_filters", "Clear filters", id="keys.clear_filters", show=False,
                tooltip="Show every key: the text, engine, algorithm, strength, size, bound, security-level "
                        "and quantum filters cleared"),
        Binding("escape", "focus_table", "Clear filter / table", id="keys.table", show=False,
                tooltip="In the filter: clear it, then go back to the table"),
    ]

    def __init__(self, engine_id: str | None = None):
        super().__init__()
        self.query_state = KeyQuery(engine_id=engine_id, limit=PAGE)
        self.total = 0
        self.records: dict[str, KeyRecord] = {}
        self._cursor_to: str | None = None  # "first" / "last" row once the next page arrives
        self._count_timer = None
        self._page: Future[list[KeyRecord]] | None = None  # the page asked for last, its token and worker
        self._page_token: object = None
        self._page_worker: Worker[list[KeyRecord]] | None = None
        self._count_running = False
        self._count_query: KeyQuery | None = None
        self._shown_text: str | None = None  # the filter text of the rows on show
        self._narrowing: tuple[KeyQuery, str] | None = None  # rows on show fresh: their query and first name
        self._open_single = False  # Enter in the filter: open the key once its rows are in, if just one
        # Cells that repeat from row to row (an engine, a strength, a state) are one Text each,
        # made once and shared by every row that shows it (Text is never changed once made):
        # fewer objects per page for the collector to follow.
        self._shared_cells: dict[tuple[str, str], Text] = {}
        self._expiring: dict[int, int] = {}  # certificates ending within 30 and 90 days, for the status line

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="key-filters"):
            yield FilterInput(placeholder="Filter: name, alias, tag or key id prefix", id="filter")
            yield Select([], prompt="Engine", id="engine-filter")
            yield Select([(a, a) for a in KEY_ALGORITHMS], prompt="Algorithm", id="algorithm-filter")
            yield Select([(s, s) for s in ("HIGH", "MEDIUM", "LOW")], prompt="Strength", id="strength-filter")
        table = KeysTable(id="keys-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="keys-status")
        yield Footer()

    def on_mount(self) -> None:
        self.narrow: bool | None = None
        self._set_columns()
        self.query_one(DataTable).focus()
        # The filter's text is read as it is set, not from the Input.Changed message: that
        # message reaches the screen a few event-loop turns later, behind whatever else is
        # queued (a redraw), and the keystroke's page waits for it.
        self.watch(self.query_one("#filter", Input), "value", self._filter_changed, init=False)
        self.when_ready(self._first_load, show=self._note)

    def _first_load(self) -> None:
        self.call(self.kms.engines.list, then=self._engines_loaded, group="engines", exclusive=False)
        self.reload()

    def _note(self, text: str) -> None:
        self.query_one("#keys-status", Static).update(Text(text), layout=False)

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.reload()

    def on_database_changed(self, event: DatabaseChanged) -> None:
        # The same query (filter, sort, page), the cursor on the same key, or where a page turn on its way puts it.
        self.reload(self._cursor_to)

    def on_resize(self) -> None:
        if self._set_columns():
            self.reload()

    def _set_columns(self) -> bool:
        """Lay the columns out for this width; True when they changed."""
        narrow = self.size.width < NARROW
        if narrow == self.narrow:
            return False
        self.narrow = narrow
        self._shared_cells = {}  # their truncation is the layout's
        table = self.query_one(DataTable)
        table.clear(columns=True)
        # Widths are set here and grown by _show from the page's own cells, never measured
        # by the table: a table of auto-width columns renders every cell of every new page
        # to measure it, most of the cost of showing one (see KeysTable._update_dimensions).
        for key, title, _ in COLUMNS:
            if not (narrow and key == "state"):
                table.add_column(title, key=key, width=cell_len(title))
        return True

    def _engines_loaded(self, views) -> None:
        select = self.query_one("#engine-filter", Select)
        select.set_options([(v.record.id, v.record.id) for v in views])
        if self.query_state.engine_id:
            select.value = self.query_state.engine_id

    # --- loading -------------------------------------------------------------

    def reload(self, cursor_to: str | None = None) -> None:
        """Fetch the page the query names; the count follows in a second call, once the rows are in."""
        if not self.kms_ready:
            return  # the first load, once the service is open, fetches the query as it is by then
        self._cursor_to = cursor_to
        self._narrowing = None  # until these rows are in, the ones on show may be out of date
        self._fetch(replace(self.query_state))
        self.call(self.kms.certs.expiring_counts, then=self._expiring_counted, group="keys-certs")

    def _fetch(self, query: KeyQuery) -> None:
        if self._count_timer is not None:  # a count waiting for rows about to be replaced: theirs comes after them
            self._count_timer.stop()
            self._count_timer = None
        # The page is read from now on, not from when the event loop next turns to the worker's
        # task (behind a redraw of the Input a keystroke just changed), and shown as soon as it
        # is read, not a few event-loop turns later through the worker's state messages. The
        # worker waits for it all the same: a newer page (or the screen going) cancels it, which
        # drops this one's rows; an error reaches the error dialog; and it ends after the rows
        # are shown (they are handed over before it can see the page read).
        loop, context = asyncio.get_running_loop(), contextvars.copy_context()
        read, token = self.kms.keys.list, object()

        def page() -> list[KeyRecord]:  # in the page thread
            records = read(query)
            with suppress(RuntimeError):  # the app has ended meanwhile: nothing to show them on
                loop.call_soon_threadsafe(self._page_read, token, records, query, context=context)
            return records

        future = _page_thread().submit(page)
        self._replace_page(future, token)
        self._page_worker = self.call(future.result, group="keys")

    def _replace_page(self, page: Future[list[KeyRecord]] | None, token: object = None) -> None:
        older, self._page, self._page_token = self._page, page, token
        if older is not None:
            older.cancel()  # a page not begun yet is no longer wanted

    def _page_read(self, token: object, records: list[KeyRecord], query: KeyQuery) -> None:
        # As a worker's result: dropped once a newer page or the screen's end cancelled the worker.
        if token is self._page_token and self._page_worker is not None and not self._page_worker.is_cancelled:
            self._take(records, query)

    def _narrow(self) -> None:
        """The filter text grew: fetch its page, the walk in name order starting where the rows on show start.

        Every key the longer text matches, the shorter one matched too, so none of them sorts
        before the first row on show (fetched afresh, with the same other filters); the walk
        skips the keys before it. Anything else (rows not yet in, another sort, a page past the
        first, a text edited rather than typed on) fetches the whole query.
        """
        q = self.query_state
        fresh = self._narrowing
        if fresh is None or not self.kms_ready:
            self.reload()
            return
        shown, first = fresh
        text, earlier = (q.text or "").strip().lower(), (shown.text or "").strip().lower()
        same_filters = replace(shown, text=None, name_from=None) == replace(q, text=None, name_from=None)
        if not (same_filters and q.sort == "name" and not q.descending and q.offset == 0
                and text.startswith(earlier)):
            self.reload()
            return
        self._cursor_to = None
        self._fetch(replace(q, name_from=first))

    @property
    def counting(self) -> bool:
        """A count is still to come for the rows shown (the status line is not final yet)."""
        return self._count_timer is not None or self._count_running

    def _count(self) -> None:
        self._count_timer = None
        self._count_running = True
        self.call(self.kms.keys.count, self._count_query, then=self._counted, failed=self._count_failed,
                  group="count")

    def _count_failed(self, error: BaseException) -> None:
        self._count_running = False  # and the app shows the error

    def _counted(self, total: int) -> None:
        self._count_running = False
        self.total = total
        self._status()

    def _take(self, records: list[KeyRecord], query: KeyQuery) -> None:
        """Show a page read for ``query``, then let go of the list it came in."""
        self._show(records, query)
        # The worker and the future hold the list until the cycle collector finds them, in a
        # full collection by then (such a pause is what a keystroke waits longest for): emptied,
        # the records go by reference counting, once the next page replaces them.
        records.clear()

    def _show(self, records, query: KeyQuery | None = None) -> None:
        self._narrowing = None
        if query is not None:
            self._shown_text = query.text
            if records and query.offset == 0:
                self._narrowing = (query, records[0].name)
            # The count follows the rows, once typing pauses: with a text filter it may scan
            # every key, and it must not hold up the next keystroke's page.
            self._count_query = query
            if self._count_timer is not None:
                self._count_timer.reset()
            else:
                self._count_timer = self.set_timer(COUNT_DELAY, self._count)
        table = self.query_one(KeysTable)
        selected = self.selected_key_ref()
        self.records = {}
        rows = []
        shared = self._shared_cells
        for r in records:
            row_key = f"{r.engine_id}/{r.key_id}"
            self.records[row_key] = r
            engine = shared.get(("engine", r.engine_id))
            if engine is None:
                engine = shared[("engine", r.engine_id)] = literal(r.engine_id, 12 if self.narrow else 24)
            level = shared.get(("strength", r.strength))
            if level is None:
                level = shared[("strength", r.strength)] = strength(r.strength)
            cells = [
                literal(r.name, 16 if self.narrow else 40), r.key_id[: 8 if self.narrow else 12],
                engine, f"{r.algorithm} {r.size}", level, "priv" if r.has_private_key else "pub",
                "yes" if r.bound else "",
            ]
            if not self.narrow:
                state = r.state or ("missing" if r.status == "missing" else "retired" if is_retired(r) else "")
                cell = shared.get(("state", state))
                if cell is None:
                    cell = shared[("state", state)] = literal(state, 18)
                cells.append(cell)
            rows.append((row_key, cells))
        # Columns grow to the widest cell seen (as auto-width columns do), never shrink.
        for index, column in enumerate(table.ordered_columns):
            column.width = max([column.width, *(_width(cells[index]) for _, cells in rows)])
        table.show_page(rows)
        cursor_to, self._cursor_to = self._cursor_to, None
        if cursor_to == "first" and records:
            table.move_cursor(row=0)
        elif cursor_to == "last" and records:
            table.move_cursor(row=len(records) - 1)
        elif selected in self.records:
            table.move_cursor(row=table.get_row_index(selected))
        self._status()
        self._open_if_single()

    def on_keys_table_edge(self, event: KeysTable.Edge) -> None:
        if not self.kms_ready:
            return
        q = self.query_state
        if event.where == "last":  # counted afresh: the status line's count may still be on its way
            self._cursor_to = "last"
            self._replace_page(None)
            self.call(self._last_page, replace(q), then=self._show_last, group="keys")
            return
        last = max(0, (self.total - 1) // PAGE) * PAGE
        offset, cursor_to = {
            "first": (0, "first"), "last": (last, "last"),
            "next": (q.offset + PAGE, "first"), "previous": (q.offset - PAGE, "last"),
        }[event.where]
        if 0 <= offset <= last and offset != q.offset:
            q.offset = offset
            self.reload(cursor_to)

    def _last_page(self, query: KeyQuery):
        total = self.kms.keys.count(query)
        query.offset = max(0, (total - 1) // PAGE) * PAGE
        return total, query, self.kms.keys.list(query)

    def _show_last(self, result) -> None:
        total, query, records = result
        self.total, self.query_state.offset = total, query.offset
        self._shown_text = query.text
        self._show(records)

    def _status(self) -> None:
        q = self.query_state
        pages = max(1, -(-self.total // PAGE))
        page = q.offset // PAGE + 1
        arrow = "↓" if q.descending else "↑"
        where = f"engine {q.engine_id} · " if q.engine_id else ""
        if q.size is not None or q.bound is not None or q.security_level is not None or \
                q.expiring_within_days is not None or q.quantum_vulnerable:  # a stats bar's or quick filters
            only = [f"{q.algorithm or ''} {q.size} only".strip()] if q.size is not None else []
            only += [f"{'bound' if q.bound else 'unbound'} only"] if q.bound is not None else []
            only += [f"SL{q.security_level} engines only"] if q.security_level is not None else []
            only += [f"certificate ending ≤{q.expiring_within_days} d"] if q.expiring_within_days is not None else []
            only += ["quantum-vulnerable only"] if q.quantum_vulnerable else []
            where += f"{', '.join(only)} (x clears) · "
        elif self._expiring.get(90):
            where += f"certificates ending ≤30 d: {self._expiring.get(30, 0)}, ≤90 d: {self._expiring[90]} (e) · "
        self.query_one("#keys-status", Static).update(
            f"{self.total} key{'s' if self.total != 1 else ''} · {where}page {page}/{pages} ([ ]) · sorted by {SORT_WORDS.get(q.sort, q.sort)} {arrow} (o)",
            layout=False,  # one line of fixed height: no layout pass for the whole screen
        )

    def _expiring_counted(self, counts: dict[int, int]) -> None:
        if counts != self._expiring:
            self._expiring = counts
            self._status()

    def action_expiring(self) -> None:
        """e: keys with a certificate ending within 30 days, then 90, then every key."""
        self.query_state.expiring_within_days = EXPIRY_STEPS.get(self.query_state.expiring_within_days)
        self.query_state.offset = 0
        self.reload()

    def action_quantum(self) -> None:
        """q: only the quantum-vulnerable keys (every algorithm but ML-DSA), then every key again."""
        self.query_state.quantum_vulnerable = None if self.query_state.quantum_vulnerable else True
        self.query_state.offset = 0
        self.reload()

    # --- filters -------------------------------------------------------------

    def show_only(self, **fields: object) -> None:
        """Show the keys these ``KeyQuery`` fields pick (a stats bar's), every other filter cleared."""
        q = self.query_state
        for name in FILTER_FIELDS:
            setattr(q, name, fields.get(name))
        q.offset = 0
        if self.is_mounted:
            self.query_one("#filter", Input).value = q.text or ""
            for select_id, name in SELECT_FIELDS.items():
                self._show_filter(self.query_one(f"#{select_id}", Select), getattr(q, name))
        self.reload()

    @staticmethod
    def _show_filter(select: Select, value: object) -> None:
        """The Select shows the filter (its own Changed message then finds the query already so)."""
        if value is None:
            select.clear()
            return
        with suppress(InvalidSelectValueError):  # an engine not listed yet: _engines_loaded shows it
            select.value = value

    def action_clear_filters(self) -> None:
        self.show_only()

    def _filter_changed(self, value: str) -> None:
        self._open_single = False  # an Enter is for the text it was pressed on
        self.query_state.text = value or None
        self.query_state.offset = 0
        self._narrow()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the filter opens the key when exactly one matches (once its rows are in), else goes to the table."""
        if event.input.id == "filter":
            self.query_one(DataTable).focus()
            self._open_single = self.kms_ready  # rows still to come for this text: opened when they are in
            self._open_if_single()

    def _open_if_single(self) -> None:
        if not self._open_single or self._shown_text != self.query_state.text:
            return  # no Enter waiting, or the rows of the text typed are still on their way
        self._open_single = False
        if self.query_state.offset == 0 and len(self.records) == 1:
            self._open(next(iter(self.records.values())))

    def on_select_changed(self, event: Select.Changed) -> None:
        value = None if event.value in (Select.NULL, Select.BLANK) else event.value
        field = SELECT_FIELDS.get(event.select.id or "")
        if field and getattr(self.query_state, field) != value:
            setattr(self.query_state, field, value)
            if field == "algorithm":
                self.query_state.size = None  # a size of another algorithm means nothing
            self.query_state.offset = 0
            self.reload()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = dict((c[0], c[2]) for c in COLUMNS).get(str(event.column_key.value))
        if column:
            q = self.query_state
            q.descending = (not q.descending) if q.sort == column else False
            q.sort = column
            self.reload()

    def action_sort(self) -> None:
        q = self.query_state
        q.sort = SORTABLE[(SORTABLE.index(q.sort) + 1) % len(SORTABLE)] if q.sort in SORTABLE else "name"
        self.reload()

    def action_reverse(self) -> None:
        self.query_state.descending = not self.query_state.descending
        self.reload()

    def action_page(self, step: int) -> None:
        q = self.query_state
        last = max(0, (self.total - 1) // PAGE) * PAGE
        offset = min(max(0, q.offset + step * PAGE), last)
        if offset != q.offset:
            q.offset = offset
            self.reload()

    def action_refresh(self) -> None:
        self.reload()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_focus_table(self) -> None:
        """Esc: in a filter that holds text, clears it; otherwise (a second Esc) back to the table."""
        field = self.query_one("#filter", Input)
        if field.has_focus and field.value:
            field.value = ""
            return
        self.query_one(DataTable).focus()

    # --- actions on the selected key ------------------------------------------

    def selected_key_ref(self) -> str | None:
        return cursor_row_key(self.query_one(DataTable))

    def selected_record(self) -> KeyRecord | None:
        ref = self.selected_key_ref()
        return self.records.get(ref) if ref else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        record = self.records.get(event.row_key.value)
        if record is not None:
            self._open(record)

    def _open(self, record: KeyRecord) -> None:
        from .key_detail import KeyDetailScreen

        self.app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))

    def action_create(self) -> None:
        from ..actions import open_create

        open_create(self.app, engine_id=self.query_state.engine_id)

    def action_import(self) -> None:
        from ..actions import open_import

        open_import(self.app, engine_id=self.query_state.engine_id)

    def action_sign(self) -> None:
        from ..actions import open_sign

        open_sign(self.app, self.selected_record())

    def action_verify(self) -> None:
        from ..actions import open_verify

        open_verify(self.app, self.selected_record())

    def action_csr(self) -> None:
        from ..actions import open_csr

        open_csr(self.app, self.selected_record())

    def action_rotate(self) -> None:
        from ..actions import open_rotate

        open_rotate(self.app, self.selected_record())

    def action_delete(self) -> None:
        record = self.selected_record()
        if record is not None:
            from ..actions import open_delete

            open_delete(self.app, record, done=lambda _: self.reload())
