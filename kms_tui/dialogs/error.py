"""The one modal that shows an error: a title and a plain sentence, never a traceback."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..text import safe_text


class ErrorDialog(ModalScreen[None]):
    """An error's title and message; Enter or Escape closes it."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Close", id="error.close")]

    def __init__(self, title: str, message: str):
        super().__init__()
        self.error_title = title
        self.error_message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="error"):
            yield Static(Text(safe_text(self.error_title), style="bold"), id="dialog-title")
            with VerticalScroll(id="dialog-scroll"):
                yield Static(Text(safe_text(self.error_message)), id="dialog-body")
            with Vertical(id="dialog-foot"):
                yield Button("Close", id="close", variant="error")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
