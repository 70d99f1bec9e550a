"""The help screen: every key binding that applies now, and what it does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

INTRO = (
    "kms-tui keeps keys in crypto engines and their metadata in a local database. "
    "F2-F5 switch screens (F6 ceremony, F7 doctor); Ctrl+P opens the command palette, which reaches every action; "
    "Escape goes back. Names and tags are shown literally."
)


class HelpDialog(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="help.close")]

    def __init__(self, screen: Screen):
        super().__init__()
        self.for_screen = screen

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        table.add_column("Key", no_wrap=True)
        table.add_column("Action")
        table.add_column("Where")
        for active in self.for_screen.active_bindings.values():
            b = active.binding
            if not b.description:
                continue
            where = "everywhere" if active.node is self.app else type(active.node).__name__
            table.add_row(Text(self.app.get_key_display(b)), Text(b.description), Text(where))
        with Vertical(id="dialog", classes="wide"):
            yield Static(Text("Help", style="bold"), id="dialog-title")
            yield Static(Text(INTRO), id="dialog-body")
            with VerticalScroll(id="help-bindings"):
                yield Static(table)
