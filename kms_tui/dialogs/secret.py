"""Ask for an engine secret (PIN, passphrase) when the keyring cannot give it.

The value is typed into a masked Input, returned once, and the Input is
cleared before the dialog closes: it is never echoed, logged or kept.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Input, Static

from ..text import safe_text
from .form_modal import FormModal, Invalid


class SecretDialog(FormModal[str]):
    """A masked field (and its repeat, to confirm a new secret); OK returns the secret once."""

    def __init__(self, engine_id: str, label: str, reason: str, confirm: bool,
                 note: str = "It is kept in memory for this session only."):
        super().__init__(f"{label[:1].upper()}{label[1:]} for {safe_text(engine_id, 60)}")
        self.engine_id, self.label, self.reason, self.confirm = engine_id, label, reason, confirm
        self.note = note

    def compose_fields(self) -> ComposeResult:
        yield Static(Text(f"{safe_text(self.reason)} {self.note}".strip()), id="dialog-body")
        yield Input(password=True, placeholder=self.label, id="secret")
        if self.confirm:
            yield Input(password=True, placeholder=f"repeat the {self.label}", id="repeat")

    def read(self) -> str:
        value = self.query_one("#secret", Input).value
        if not value:
            raise Invalid(f"The {self.label} cannot be empty.")
        if self.confirm:
            repeat = self.query_one("#repeat", Input)
            if repeat.value != value:
                repeat.value = ""
                raise Invalid(f"The two {self.label}s differ.")
        return value

    def forget(self) -> None:
        for field in self.query(Input):
            field.value = ""
