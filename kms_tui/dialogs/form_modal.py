"""The frame every modal form shares: a title, its fields, an inline error line, OK and Cancel.

A form composes only its fields (``compose_fields``) and says what OK makes of
them (``read``: the result, or ``Invalid`` with what is wrong, shown on the
error line while the form stays open). On a short terminal the fields scroll;
the error line and the buttons stay in view. Enter moves to the next field and
submits from the last one; Escape or Cancel closes the form with None.
``forget`` runs whenever the form closes, either way: a form holding a secret
clears it there.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

ResultT = TypeVar("ResultT")


class Invalid(Exception):
    """What is wrong with the form as filled in: one plain sentence for its error line."""


class FormModal(ModalScreen[ResultT | None]):
    """Fields, an error line and OK / Cancel; dismisses with what ``read`` returns, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel")]
    OK_LABEL: ClassVar[str] = "OK"
    WIDE: ClassVar[bool] = False

    def __init__(self, title: str) -> None:
        super().__init__()
        self.form_title = title

    # --- what a form provides ---------------------------------------------------

    def compose_fields(self) -> ComposeResult:
        """The widgets between the title and the error line."""
        yield from ()

    def read(self) -> ResultT:
        """The form's result from its fields; raise ``Invalid`` to keep it open and say why."""
        raise NotImplementedError

    def forget(self) -> None:
        """Drop what must not outlive the form (called whenever it closes)."""

    # --- the frame ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide" if self.WIDE else ""):
            yield Static(Text(self.form_title, style="bold"), id="dialog-title")
            with VerticalScroll(id="dialog-scroll"):
                yield from self.compose_fields()
            with Vertical(id="dialog-foot"):
                yield Label("", id="form-error", classes="error-text")
                with Horizontal(classes="buttons"):
                    yield Button(self.OK_LABEL, id="ok", variant="primary")
                    yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        # The first field, never the scrolling frame around the fields.
        inputs = self.query(Input)
        fields = list(inputs) or [w for w in self.query_one("#dialog-scroll").query("*") if w.focusable]
        if fields:
            fields[0].focus()

    def submit(self) -> None:
        try:
            result = self.read()
        except Invalid as problem:
            self.query_one("#form-error", Label).update(Text(str(problem)))
            return
        self.close(result)

    def close(self, result: ResultT | None) -> None:
        self.forget()
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.close(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self.submit()
        else:
            self.action_cancel()
