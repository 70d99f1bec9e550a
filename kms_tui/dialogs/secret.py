"""Ask for an engine secret (PIN, passphrase) when the keyring cannot give it.

The value is typed into a masked Input, returned once, and the Input is
cleared before the dialog closes: it is never echoed, logged or kept.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ..text import safe_text


class SecretDialog(ModalScreen["str | None"]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="secret.cancel")]

    def __init__(self, engine_id: str, label: str, reason: str, confirm: bool,
                 note: str = "It is kept in memory for this session only."):
        super().__init__()
        self.engine_id, self.label, self.reason, self.confirm = engine_id, label, reason, confirm
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(f"{self.label[:1].upper()}{self.label[1:]} for {safe_text(self.engine_id, 60)}", style="bold"),
                         id="dialog-title")
            yield Static(Text(f"{safe_text(self.reason)} {self.note}".strip()), id="dialog-body")
            yield Input(password=True, placeholder=self.label, id="secret")
            if self.confirm:
                yield Input(password=True, placeholder=f"repeat the {self.label}", id="repeat")
            yield Label("", id="secret-error", classes="error-text")
            with Horizontal(classes="buttons"):
                yield Button("OK", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#secret", Input).focus()

    def _clear(self) -> None:
        for field in self.query(Input):
            field.value = ""

    def action_cancel(self) -> None:
        self._clear()
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "secret" and self.confirm:
            self.query_one("#repeat", Input).focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self._submit()
        else:
            self.action_cancel()

    def _submit(self) -> None:
        value = self.query_one("#secret", Input).value
        if not value:
            self.query_one("#secret-error", Label).update(f"The {self.label} cannot be empty.")
            return
        if self.confirm and self.query_one("#repeat", Input).value != value:
            self.query_one("#secret-error", Label).update(f"The two {self.label}s differ.")
            self.query_one("#repeat", Input).value = ""
            return
        self._clear()
        self.dismiss(value)
