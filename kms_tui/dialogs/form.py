"""Small modal forms: a few text fields, or one choice from a list, or a JSON editor."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from store.errors import InvalidValue
from store.validation import parse_json_object

from ..text import safe_text


@dataclass(frozen=True)
class Field:
    id: str
    label: str
    value: str = ""
    placeholder: str = ""
    required: bool = True


class FormDialog(ModalScreen["dict[str, str] | None"]):
    """Text fields; OK returns {id: value} when every required field is filled (and ``check`` passes)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel")]

    def __init__(self, title: str, fields: list[Field], check: Callable[[dict[str, str]], str | None] | None = None):
        super().__init__()
        self.form_title, self.fields, self.check = title, fields, check

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.form_title, style="bold"), id="dialog-title")
            for f in self.fields:
                yield Label(f.label)
                yield Input(value=f.value, placeholder=f.placeholder, id=f"field-{f.id}")
            yield Label("", id="form-error", classes="error-text")
            with Horizontal(classes="buttons"):
                yield Button("OK", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def values(self) -> dict[str, str]:
        return {f.id: self.query_one(f"#field-{f.id}", Input).value.strip() for f in self.fields}

    def _submit(self) -> None:
        values = self.values()
        missing = [f.label for f in self.fields if f.required and not values[f.id]]
        problem = f"{missing[0]} is required." if missing else (self.check(values) if self.check else None)
        if problem:
            self.query_one("#form-error", Label).update(Text(problem))
            return
        self.dismiss(values)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self._submit()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceDialog(ModalScreen["str | None"]):
    """Pick one of several (value, description) items."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choice.cancel")]

    def __init__(self, title: str, items: list[tuple[str, str]]):
        super().__init__()
        self.choice_title, self.items = title, items

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.choice_title, style="bold"), id="dialog-title")
            yield OptionList(*[Option(Text(safe_text(text, 70)), id=str(i)) for i, (_, text) in enumerate(self.items)],
                             id="choices")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.items[int(event.option.id)][0])

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)


class JsonDialog(ModalScreen["dict | None"]):
    """Edit a JSON object; OK returns it when it parses to an object."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="json.cancel")]

    def __init__(self, title: str, value: dict):
        super().__init__()
        self.json_title, self.value = title, value

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide"):
            yield Static(Text(self.json_title, style="bold"), id="dialog-title")
            yield TextArea(json.dumps(self.value, indent=2, ensure_ascii=False), language=None, id="json")
            yield Label("", id="form-error", classes="error-text")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id != "ok":
            self.action_cancel()
            return
        try:  # the store's own bounds: finite numbers, 32 levels, 64 KiB
            value = parse_json_object(self.query_one(TextArea).text or "{}", "metadata")
        except InvalidValue as exc:
            self.query_one("#form-error", Label).update(Text(exc.message))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
