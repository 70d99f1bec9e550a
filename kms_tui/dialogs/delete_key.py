"""Delete a key: shows what is bound to it, refuses while bound unless forced, asks for its name or id.

The name is confirmed as it is shown (escaped: a name holding control characters
cannot be typed as stored), or by the first 8 characters of the key id. Enter
that cannot delete says why on the error line.
"""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from ..service.types import KeyRecord
from ..text import safe_text
from ..workers import ServiceCalls


class DeleteKeyDialog(ServiceCalls, ModalScreen["KeyRecord | None"]):
    """Typed confirmation; Delete works only when the name or id matches (and force is ticked, if bound)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="delete.cancel")]

    def __init__(self, record: KeyRecord):
        super().__init__()
        self.record = record
        self.notice: str | None = None  # what a delete does on this key's engine (immediate, trash, window)

    def compose(self) -> ComposeResult:
        r = self.record
        with Vertical(id="dialog", classes="danger"):
            yield Static(Text(f"Delete key {safe_text(r.name, 60)}", style="bold"), id="dialog-title")
            with VerticalScroll(id="dialog-scroll"):
                if r.bindings:  # first: what a delete would break is what must be seen
                    yield Static(Text(f"Bound to {len(r.bindings)} resource(s):\n{self._bound_lines()}",
                                      style="bold red"), id="delete-bindings")
                    yield Checkbox("Delete even though it is bound (force)", id="force")
                yield Static(self._body(None), id="dialog-body")
            with Vertical(id="dialog-foot"):
                yield Label(self._prompt(), id="delete-prompt")
                yield Input(placeholder="key name, or the first 8 characters of its id", id="confirm-name")
                yield Label("", id="delete-error", classes="error-text")
                with Horizontal(classes="buttons"):
                    yield Button("Delete", id="delete", variant="error", disabled=True)
                    yield Button("Cancel", id="cancel")

    def _bound_lines(self) -> str:
        return "\n".join(f"  • {safe_text(b.get('resource_type'))} {safe_text(b.get('resource_id'))}"
                         for b in self.record.bindings)

    def _prompt(self) -> Text:
        # Names are shown escaped (a hostile name cannot be typed as stored), so what is shown is accepted.
        text = Text(f"Type the key's name as shown, or the first 8 characters of its id ({self._short_id()}):\n")
        text.append(safe_text(self.record.name), style="bold")
        return text

    def _short_id(self) -> str:
        return self.record.key_id[:8].lower()

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

    def _typed(self) -> bool:
        typed = self.query_one("#confirm-name", Input).value
        shown = safe_text(self.record.name)
        return typed in (self.record.name, shown) or typed.strip().lower() == self._short_id()

    def _forced(self) -> bool:
        return not self.record.bindings or self.query_one("#force", Checkbox).value

    def _ready(self) -> bool:
        return self._typed() and self._forced()

    def _why_not(self) -> str:
        """Why Enter did not delete: the confirmation does not match, or the key is bound and force is not ticked."""
        if not self._typed():
            return f"That is neither the name as shown nor the first 8 characters of the id ({self._short_id()})."
        bindings = self.record.bindings
        bound = ", ".join(f"{safe_text(b.get('resource_type'))} {safe_text(b.get('resource_id'), 40)}"
                          for b in bindings[:2])
        more = f" and {len(bindings) - 2} more" if len(bindings) > 2 else ""
        return f"Force is needed: the key is bound to {bound}{more}. Tick force to delete it anyway."

    def _changed(self) -> None:
        self.query_one("#delete", Button).disabled = not self._ready()
        self.query_one("#delete-error", Label).update("")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._changed()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self._changed()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._ready():
            self._delete()
        else:
            self.query_one("#delete-error", Label).update(Text(self._why_not()))

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
