"""Delete a key: shows what is bound to it, refuses while bound unless forced, asks for the name."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from ..service.types import KeyRecord
from ..text import safe_text
from ..workers import ServiceCalls


class DeleteKeyDialog(ServiceCalls, ModalScreen["KeyRecord | None"]):
    """Typed confirmation; the Delete button works only when the name matches (and force, if bound)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="delete.cancel")]

    def __init__(self, record: KeyRecord):
        super().__init__()
        self.record = record
        self.notice: str | None = None  # what a delete does on this key's engine (immediate, trash, window)

    def compose(self) -> ComposeResult:
        r = self.record
        with Vertical(id="dialog", classes="danger"):
            yield Static(Text(f"Delete key {safe_text(r.name, 60)}", style="bold"), id="dialog-title")
            yield Static(self._body(None), id="dialog-body")
            if r.bindings:
                lines = "\n".join(f"  • {safe_text(b.get('resource_type'))} {safe_text(b.get('resource_id'))}"
                                  for b in r.bindings)
                yield Static(Text(f"Bound to {len(r.bindings)} resource(s):\n{lines}", style="bold red"),
                             id="delete-bindings")
                yield Checkbox("Delete even though it is bound (force)", id="force")
            yield Label(Text(f"Type the key name to confirm: {safe_text(r.name, 60)}"))
            yield Input(placeholder="key name", id="confirm-name")
            yield Label("", id="delete-error", classes="error-text")
            with Horizontal(classes="buttons"):
                yield Button("Delete", id="delete", variant="error", disabled=True)
                yield Button("Cancel", id="cancel")

    def _body(self, notice: str | None) -> Text:
        # Until the service says what this engine does with a deleted key, nothing is promised.
        said = notice or "What the engine does with the key material is being looked up…"
        return Text(f"{self.record.key_id}\nfrom engine {safe_text(self.record.engine_id)}. {said}")

    def on_mount(self) -> None:
        self.query_one("#confirm-name", Input).focus()
        self.call(self.kms.keys.deletion_notice, self.record, then=self._noticed, group="notice")

    def _noticed(self, notice: str) -> None:
        self.notice = notice
        self.query_one("#dialog-body", Static).update(self._body(notice))

    def _ready(self) -> bool:
        typed = self.query_one("#confirm-name", Input).value == self.record.name
        forced = not self.record.bindings or self.query_one("#force", Checkbox).value
        return typed and forced

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#delete", Button).disabled = not self._ready()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.query_one("#delete", Button).disabled = not self._ready()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._ready():
            self._delete()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "delete" and self._ready():
            self._delete()
        elif event.button.id == "cancel":
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _delete(self) -> None:
        self.query_one("#delete", Button).disabled = True
        self.query_one("#delete-error", Label).update("Deleting…")
        # Names are unique on this workstation, so the name is an unambiguous reference.
        self.call(partial(self.kms.keys.delete, self.record.name, force=bool(self.record.bindings)), then=self.dismiss,
                  failed=self._failed)

    def _failed(self, error: BaseException) -> bool:
        self.query_one("#delete-error", Label).update("")
        self.query_one("#delete", Button).disabled = not self._ready()
        return False  # the app shows it
