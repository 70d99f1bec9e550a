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

from ..service.errors import InvalidValue
from ..service.types import parse_json_object
from ..text import safe_text
from .form_modal import FormModal, Invalid


@dataclass(frozen=True)
class Field:
    id: str
    label: str
    value: str = ""
    placeholder: str = ""
    required: bool = True


class FormDialog(FormModal[dict[str, str]]):
    """Text fields; OK returns {id: value} when every required field is filled (and ``check`` passes)."""

    def __init__(self, title: str, fields: list[Field], check: Callable[[dict[str, str]], str | None] | None = None):
        super().__init__(title)
        self.fields, self.check = fields, check

    def compose_fields(self) -> ComposeResult:
        for f in self.fields:
            yield Label(f.label)
            yield Input(value=f.value, placeholder=f.placeholder, id=f"field-{f.id}")

    def values(self) -> dict[str, str]:
        return {f.id: self.query_one(f"#field-{f.id}", Input).value.strip() for f in self.fields}

    def read(self) -> dict[str, str]:
        values = self.values()
        missing = [f.label for f in self.fields if f.required and not values[f.id]]
        problem = f"{missing[0]} is required." if missing else (self.check(values) if self.check else None)
        if problem:
            raise Invalid(problem)
        return values


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
            with Vertical(id="dialog-foot"), Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.items[int(event.option.id)][0])

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)


class JsonDialog(FormModal[dict]):
    """Edit a JSON object; OK returns it when it parses to an object."""

    OK_LABEL = "Save"
    WIDE = True

    def __init__(self, title: str, value: dict):
        super().__init__(title)
        self.value = value

    def compose_fields(self) -> ComposeResult:
        yield TextArea(json.dumps(self.value, indent=2, ensure_ascii=False), language=None, id="json")

    def read(self) -> dict:
        try:  # the store's own bounds: finite numbers, 32 levels, 64 KiB
            return parse_json_object(self.query_one(TextArea).text or "{}", "metadata")
        except InvalidValue as exc:
            raise Invalid(exc.message) from exc
