"""Modals of the Ceremony screen: the administrator's typed ``yes`` before a step runs, a
witness's acknowledgement, a free-text note (an exception, or the reason of a break), and
the reason of an abort. Each fits 80x24: a long step description scrolls inside."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ..text import safe_text
from .confirm_typed import TypedConfirmDialog


class _TextDialog(ModalScreen["str | None"]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="ceremony-dialog.cancel")]
    DEFAULT_CSS = """
    _TextDialog #answer-body { height: auto; max-height: 8; margin-bottom: 1; }
    """
    DANGER = False

    def __init__(self, title: str, body: str, placeholder: str, ok: str = "OK", *, required: bool = True):
        super().__init__()
        self.title_text, self.body, self.placeholder, self.ok, self.required = title, body, placeholder, ok, required

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="danger" if self.DANGER else ""):
            yield Static(Text(self.title_text, style="bold"), id="dialog-title")
            with VerticalScroll(id="answer-body"):
                yield Static(Text(self.body), id="answer-text")
            yield Input(placeholder=self.placeholder, id="answer")
            yield Static("", id="answer-error", classes="error-text")
            with Horizontal(classes="buttons"):
                yield Button(self.ok, id="ok", variant="error" if self.DANGER else "primary")
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


class AbortDialog(_TextDialog):
    """The administrator stops the ceremony for good; the reason goes in the transcript, which is sealed."""

    DANGER = True

    def __init__(self, step_number: int):
        super().__init__(f"Abort the ceremony at step {step_number}",
                         "The ceremony stops here: the transcript records why and is sealed, and no further "
                         "step can run. Keys and files made so far stay, named in the transcript.",
                         "reason (for the transcript)", "Abort ceremony")


def step_confirmation(number: int, total: int, action: str, description: str, administrator: str,
                      engine_id: str) -> TypedConfirmDialog:
    """The administrator's typed ``yes`` before step ``number`` runs (a generated key cannot be taken back)."""
    body = safe_text(description)
    if action == "generate-key":
        body += (f"\nA new key is made on engine {safe_text(engine_id, 40)}: it cannot be taken back, and the "
                 "transcript names it the moment it exists.")
    return TypedConfirmDialog(
        f"Step {number} of {total}: {action}", body, "yes",
        f"{safe_text(administrator, 40)}, type yes to run this step.",
        "Run step", placeholder="yes", ignore_case=True, danger=action == "generate-key")
