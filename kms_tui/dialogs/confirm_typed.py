"""A typed confirmation: what cannot be undone goes ahead only once a word is typed.

Nothing that destroys is focused or enabled when the dialog opens: the focus is in
the text field, the action button stays disabled until the field holds the expected
word, and Enter on anything else only says what to type. Escape or Cancel closes the
dialog with None; a match closes it with True.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ..text import safe_text


class TypedConfirmDialog(ModalScreen["bool | None"]):
    """Asks for ``expected`` to be typed before ``action`` can be pressed (or Enter goes ahead)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="confirm-typed.cancel")]
    DEFAULT_CSS = """
    TypedConfirmDialog #confirm-body { height: auto; max-height: 6; margin-bottom: 1; }
    """

    def __init__(self, title: str, body: str, expected: str, prompt: str, action: str, *,
                 placeholder: str = "", mismatch: str = "", ignore_case: bool = False, danger: bool = True):
        super().__init__()
        self.title_text, self.body, self.prompt = title, body, prompt
        self.expected, self.action, self.placeholder = expected, action, placeholder
        self.ignore_case, self.danger = ignore_case, danger
        self.mismatch = mismatch or f"Type {safe_text(expected, 40)} to go on."

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="danger" if self.danger else ""):
            yield Static(Text(safe_text(self.title_text, 70), style="bold"), id="dialog-title")
            with VerticalScroll(id="confirm-body"):
                yield Static(Text(self.body), id="confirm-text")
            yield Static(Text(self.prompt), id="confirm-prompt")
            yield Input(placeholder=self.placeholder, id="confirm-typed")
            yield Static("", id="confirm-error", classes="error-text")
            with Horizontal(classes="buttons"):
                yield Button(self.action, id="confirm", variant="error" if self.danger else "primary", disabled=True)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#confirm-typed", Input).focus()

    def matches(self) -> bool:
        typed = self.query_one("#confirm-typed", Input).value.strip()
        if self.ignore_case:
            return typed.casefold() == self.expected.casefold()
        return typed == self.expected

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_one("#confirm", Button).disabled = not self.matches()
        self.query_one("#confirm-error", Static).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._go()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self._go()
        else:
            self.action_cancel()

    def _go(self) -> None:
        if self.matches():
            self.dismiss(True)
            return
        self.query_one("#confirm-error", Static).update(Text(self.mismatch))

    def action_cancel(self) -> None:
        self.dismiss(None)
