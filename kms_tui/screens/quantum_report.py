"""The quantum migration report: every key's exposure, replace-by date and suggested ML-DSA set.

The same rows as ``kms-tui report quantum`` (``kms.quantum.rows``), soonest replace-by date
first, read by a thread worker. The table holds the ``MAX_ROWS`` most urgent keys; the line
above it counts them all and names the command that writes every row. Enter opens a key.
"""

from __future__ import annotations

from datetime import date
from itertools import islice
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ..changes import DatabaseChanged
from ..service.types import KeyQuery
from ..widgets.cells import literal
from ..widgets.tables import cursor_row_key
from ..workers import ServiceCalls

if TYPE_CHECKING:
    from ..service.quantum_report import QuantumRow

MAX_ROWS = 1000
NARROW = 130  # below this many columns: no engine, security level, certificate or bindings column
# (column key, title, shown when narrow)
COLUMNS = (
    ("name", "Name", True), ("type", "Key", True), ("bits", "Bits", True), ("role", "Role", True),
    ("replace_by", "Replace by", True), ("suggested", "Move to", True), ("engine", "Engine", False),
    ("level", "SL", False), ("outlives", "Cert >2030", False), ("bindings", "Bindings", False),
)
ROLE_SHORT = {"End entity": "End entity", "Other binding": "Other"}  # a narrow table's role cell


def urgency_style(row: QuantumRow) -> str:
    if not row.quantum_vulnerable:
        return "green"
    if row.replace_by is not None and row.replace_by.year < 2030:
        return "bold red"
    return "yellow" if row.replace_by is not None and row.replace_by.year == 2030 else ""


class QuantumReportScreen(ServiceCalls, Screen):
    """Which keys a quantum computer breaks, by when each must be replaced, and with what."""

    DEFAULT_CSS = """
    QuantumReportScreen #quantum-summary { height: auto; padding: 0 1; }
    QuantumReportScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="quantum.back"),
        Binding("r", "refresh", "Refresh", id="quantum.refresh", tooltip="Read the report again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[QuantumRow] | None = None
        self.total = 0
        self._loaded: tuple[list[QuantumRow], int, int] | None = None
        self._narrow: bool | None = None  # the layout the table was filled for

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Reading the keys…", id="quantum-summary")
        yield DataTable(id="quantum-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Quantum migration (NIST IR 8547 draft, CNSA 2.0)"
        self.query_one(DataTable).focus()
        self.when_ready(self.reload, show=lambda note: self.query_one("#quantum-summary", Static).update(Text(note)))

    def on_database_changed(self, event: DatabaseChanged) -> None:
        self.reload()

    def action_refresh(self) -> None:
        self.reload()

    def reload(self) -> None:
        if self.kms_ready:
            self.call(self._load, then=self._show, group="quantum-report")

    def _load(self) -> tuple[list[QuantumRow], int, int]:
        """The most urgent rows, how many keys there are and how many are quantum-vulnerable (worker thread)."""
        rows = list(islice(self.kms.quantum.rows(), MAX_ROWS))
        vulnerable = self.kms.quantum.exposure()["total"]["vulnerable"]
        return rows, self.kms.keys.count(KeyQuery()), vulnerable

    def on_resize(self) -> None:
        if self._loaded is not None and (self.size.width < NARROW) != self._narrow:
            self._show(self._loaded)  # the columns of the other layout

    def _show(self, result: tuple[list[QuantumRow], int, int]) -> None:
        rows, total, vulnerable = result
        self._loaded, self.rows, self.total = result, rows, total
        self.query_one("#quantum-summary", Static).update(self._summary(rows, total, vulnerable))
        narrow = self._narrow = self.size.width < NARROW
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for key, title, in_narrow in COLUMNS:
            if in_narrow or not narrow:
                table.add_column(title, key=key)
        for row in rows:
            table.add_row(*self._cells(row, narrow), key=f"{row.engine_id}/{row.key_id}")

    @staticmethod
    def _summary(rows: list[QuantumRow], total: int, vulnerable: int) -> Text:
        line = Text()
        line.append(f"{vulnerable}", style="bold yellow" if vulnerable else "bold green")
        line.append(f" of {total} key{'s' if total != 1 else ''} quantum-vulnerable")
        due = sum(1 for r in rows if r.replace_by is not None and r.replace_by.year <= 2030)
        if due:
            line.append(f" · {due}{'+' if len(rows) == MAX_ROWS else ''} to replace by 2030", style="bold red")
        if total > len(rows):
            line.append(f" · the {len(rows)} most urgent shown: kms-tui report quantum --csv lists all", style="dim")
        return line

    @staticmethod
    def _cells(row: QuantumRow, narrow: bool) -> list[Text]:
        style = urgency_style(row)
        replace = "—" if row.replace_by is None else "overdue" if row.replace_by < date.today() else \
            row.replace_by.isoformat()
        cells = [
            literal(row.name, 18 if narrow else 24), Text(row.display), Text(row.strength_bits.replace("category ", "cat ")),
            Text(ROLE_SHORT.get(row.role, row.role) if narrow else row.role), Text(replace, style=style),
            Text(row.suggested or "—", style="" if row.suggested else "dim"),
        ]
        if not narrow:
            days = row.outlives_2030_days
            cells += [
                literal(row.engine_id, 14), Text("" if row.security_level is None else f"SL{row.security_level}"),
                Text("" if days is None else f"{days:+} d", style="bold yellow" if days and days > 0 else ""),
                literal(", ".join(row.bindings), 24),
            ]
        return cells

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        ref = cursor_row_key(self.query_one(DataTable))
        if ref:
            from .key_detail import KeyDetailScreen

            engine_id, _, key_id = ref.rpartition("/")
            self.app.push_screen(KeyDetailScreen(engine_id, key_id))
