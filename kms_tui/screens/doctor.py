"""The doctor screen: the workstation's health checks, their findings and what to do about each.

One ``kms.doctor.run()`` call runs in a thread worker (engines are tested in
parallel, with a timeout); ``R`` runs it with repair, which fixes what can be
fixed without deleting key material. Every finding is listed, each with its fix;
a check that could not run in full shows "incomplete" and its findings marked ⊘
say what was not checked. The highlighted finding's message and fix are shown in
full below the table, paths in them as the app shows paths.
"""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ..text import safe_text
from ..widgets.tables import cursor_row_key
from ..workers import ServiceCalls

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
STATUS_STYLE = {"ok": "green", "repaired": "green", "findings": "bold red", "incomplete": "bold yellow"}


class DoctorScreen(ServiceCalls, Screen):
    """Permissions, database, audit chain, keyring, engines and consistency, checked."""

    DEFAULT_CSS = """
    DoctorScreen #doctor-checks { height: auto; padding: 0 1; margin: 1 0 0 0; }
    DoctorScreen #doctor-findings { height: 1fr; overflow-x: hidden; }
    DoctorScreen #doctor-detail { height: auto; max-height: 8; padding: 0 1; border-top: solid $primary; }
    """
    BINDINGS = [
        Binding("r", "run", "Check again", id="doctor.run", tooltip="Run every check again"),
        Binding("R", "repair", "Repair", id="doctor.repair",
                tooltip="Fix permissions, flag missing keys and adopt unrecorded ones (deletes nothing)"),
    ]

    def __init__(self):
        super().__init__()
        self.report = None
        self.running = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static("Checking…", id="doctor-checks")
            table = DataTable(id="doctor-findings", cursor_type="row", zebra_stripes=True)
            table.add_columns("Severity", "Check", "Subject", "Finding")
            yield table
            yield Static("", id="doctor-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.when_ready(self.action_run, show=lambda note: self.query_one("#doctor-checks", Static).update(Text(note)))

    def action_run(self, repair: bool = False) -> None:
        if self.running or not self.kms_ready:
            return
        self.running = True
        self.query_one("#doctor-checks", Static).update("Repairing…" if repair else "Checking…")
        self.call(partial(self.kms.doctor.run, repair=repair), then=self._show, failed=self._failed, group="doctor")

    def action_repair(self) -> None:
        self.action_run(repair=True)

    def _failed(self, error: BaseException) -> bool:
        self.running = False
        self.query_one("#doctor-checks", Static).update("The checks could not run.")
        return False  # the app's error modal says why

    def _show(self, report) -> None:
        self.running, self.report = False, report
        line = Text()
        for name, status in report.checked.items():
            line.append(f"{name} ", style="bold")
            line.append(status, style=STATUS_STYLE.get(status, "dim"))
            line.append("  ")
        left = len(report.open_findings)
        line.append("\n")
        if left:
            line.append(f"{left} finding(s) to act on", style="bold red")
            if any(f.repairable and not f.repaired for f in report.findings):
                line.append(" · R repairs the ones marked ✚")
        else:
            line.append("Healthy: nothing to do.", style="bold green")
        if report.incomplete:
            line.append(" · ⊘ not checked: " + ", ".join(report.incomplete), style="yellow")
        self.query_one("#doctor-checks", Static).update(line)
        table = self.query_one("#doctor-findings", DataTable)
        table.clear()
        shown = self.app.paths.text
        for n, f in enumerate(report.findings):
            mark = " ⊘" if f.unchecked else " ✔" if f.repaired else " ✚" if f.repairable else ""
            table.add_row(
                Text(f.severity + mark, style=SEVERITY_STYLE.get(f.severity, "")),
                Text(f.check),
                Text(safe_text(shown(f.subject), 40)),
                Text(safe_text(shown(f.message), 120)),  # in full below the table
                key=str(n),
            )
        self._detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    def _detail(self) -> None:
        detail = self.query_one("#doctor-detail", Static)
        key = cursor_row_key(self.query_one("#doctor-findings", DataTable))
        if self.report is None or key is None:
            detail.update("")
            return
        f = self.report.findings[int(key)]
        shown = self.app.paths.text
        text = Text(safe_text(shown(f.message)))
        if f.unchecked:
            text.append("\nNot checked.", style="yellow")
        if f.repaired:
            text.append("\nRepaired.", style="green")
        elif f.hint:
            text.append("\nFix: ", style="bold")
            text.append(safe_text(shown(f.hint)))
        detail.update(text)
