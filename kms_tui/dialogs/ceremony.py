"""Modals of the Ceremony screen: a witness's acknowledgement, and a free-text note
(an exception, or the reason of a break)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ..text import safe_text


class _TextDialog(ModalScreen["str | None"]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="ceremony-dialog.cancel")]

    def __init__(self, title: str, body: str, placeholder: str, ok: str = "OK", *, required: bool = True):
        super().__init__()
        self.title_text, self.body, self.placeholder, self.ok, self.required = title, body, placeholder, ok, required

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.title_text, style="bold"), id="dialog-title")
            yield Static(Text(self.body), id="dialog-body")
            yield Input(placeholder=self.placeholder, id="answer")
            yield Static("", id="answer-error", classes="error-text")
            with Horizontal(classes="buttons"):
                yield Button(self.ok, id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self._submit()
        else:
            self.action_cancel()

    def _submit(self) -> None:
        value = self.query_one("#answer", Input).value.strip()
        if self.required and not value:
            self.query_one("#answer-error", Static).update("This cannot be empty.")
            return
        self.dismiss(value)


class WitnessDialog(_TextDialog):
    """A witness acknowledges a step by typing their initials."""

    def __init__(self, name: str, step_number: int, summary: str, error: str = ""):
        super().__init__(f"Witness: {safe_text(name, 60)}",
                         f"Step {step_number}: {safe_text(summary)}\nType your initials to acknowledge what you saw.",
                         "initials", "Acknowledge")
        self.error = error

    def on_mount(self) -> None:
        super().on_mount()
        if self.error:
            self.query_one("#answer-error", Static).update(self.error)


class NoteDialog(_TextDialog):
    """Free text for the transcript: an exception's description, or why a break was taken."""
