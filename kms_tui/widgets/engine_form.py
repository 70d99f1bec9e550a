"""The fields of an engine registration, built from the driver's option specs.

One row per field: engine id, display name, each ``OptionSpec`` (required ones
marked ``*``, defaults prefilled, choices as a Select, ``lamassu`` as a checkbox that
turns a software engine's ``encrypt`` off), the secret (a masked
Input) when the type has one, and "make default". Each row carries its help
text (``help_text``) for the dialog's hint line. Discovered choices replace an
option's Input with a Select. The secret is read once with ``take_secret``,
which clears the widget. Paths are shown, and typed ones read back, through
the app's ``PathDisplay``.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select

from ..path_display import PathDisplay
from ..service.engine_ops import EngineTypeInfo
from ..text import safe_text

LAMASSU = "lamassu"  # the option every engine type takes (engines.lamassu.OPTION), shown as a checkbox


def choice_label(choice: dict[str, Any]) -> str:
    """One discovered choice as a line: its label, then its other facts (serial, model…)."""
    extras = [f"{k} {v}" for k, v in choice.items()
              if k not in ("value", "label") and v not in (None, "") and not isinstance(v, bool)]
    return safe_text(" · ".join([str(choice.get("label") or choice.get("value"))] + extras), 70)


def secret_help(info: EngineTypeInfo) -> str:
    if info.secret_generated:
        return "optional: left empty, one is generated"
    if not info.secret_required:
        return "if these settings need one (goes to the keyring)"
    return "required (goes to the keyring)"


class FieldRow(Horizontal):
    """A label and one field on a line; ``help_text`` explains the field."""

    def __init__(self, label: str, field: Widget, help_text: str, name: str | None = None):
        field.tooltip = help_text
        super().__init__(Label(Text(label)), field, classes="field-row", id=f"row-{name}" if name else None)
        self.help_text = help_text


class EngineForm(VerticalScroll):
    """Everything a registration needs except the type, which the form was built for."""

    SCOPED_CSS = False  # rows close up when the screen is short (the screen's ``-short`` class)
    DEFAULT_CSS = """
    EngineForm { height: auto; max-height: 50vh; }
    .-short EngineForm { max-height: 40vh; }
    EngineForm .field-row { height: 1; margin-bottom: 1; }
    .-short EngineForm .field-row { margin-bottom: 0; }
    EngineForm .field-row Label { width: 22; }
    EngineForm .field-row Input, EngineForm .field-row Select { width: 1fr; }
    EngineForm .field-row Input { background: $boost; }
    EngineForm #make-default { border: none; height: 1; padding: 0; margin-left: 22; }
    EngineForm .field-row Checkbox { border: none; height: 1; padding: 0; }
    """

    def __init__(self, info: EngineTypeInfo, paths: PathDisplay | None = None, id: str | None = None):
        super().__init__(id=id)
        self.info = info
        self.paths = paths or PathDisplay()

    def compose(self) -> ComposeResult:
        info = self.info
        yield FieldRow("Engine id *", Input(placeholder=f"e.g. {info.type.lower().replace('_', '-')}-2",
                                            id="engine-id", compact=True),
                       "Lowercase letters, digits, '.', '_' or '-'; how commands refer to this engine.")
        yield FieldRow("Display name", Input(placeholder="defaults to the engine id", id="engine-name", compact=True),
                       "A human-readable name.")
        for spec in info.options:
            hint = info.default_hints.get(spec["name"])
            hint = self.paths.text(hint) if hint else hint
            help_text = spec["help"].removesuffix(" (true/false)") if spec["name"] == LAMASSU else spec["help"]
            yield FieldRow(f"{spec['name']}{' *' if spec['required'] else ''}", self._option_field(spec, hint),
                           safe_text(help_text + (f" (default: {hint})" if hint else "")), name=spec["name"])
        if info.secret_label:
            yield FieldRow(safe_text(info.secret_label, 20), Input(
                password=True, id="engine-secret", compact=True, placeholder=secret_help(info)), secret_help(info))
        yield Checkbox("Make it the default engine", id="make-default")

    @staticmethod
    def _option_field(spec: dict[str, Any], hint: str | None) -> Widget:
        wid = f"opt-{spec['name']}"
        if spec["name"] == LAMASSU:
            return Checkbox("Shared with Lamassu: only what it can use", spec["default"] == "true", id=wid)
        if spec["choices"]:
            return Select([(c, c) for c in spec["choices"]], value=spec["default"] or Select.NULL, id=wid,
                          allow_blank=not spec["required"] and not spec["default"], compact=True)
        return Input(value=spec["default"] or "", id=wid, compact=True,
                     placeholder=safe_text(f"default: {hint}" if hint else spec["help"]))

    # --- reading the fields ----------------------------------------------------------

    def options(self) -> dict[str, str]:
        """The options filled in so far (a path as typed read back as the real one); empty ones are left
        out, so the driver's defaults apply."""
        values: dict[str, str] = {}
        for spec in self.info.options:
            field = self.query_one(f"#opt-{spec['name']}")
            value = field.value if isinstance(field, Input | Select) else None
            if isinstance(field, Checkbox) and field.value:
                value = "true"
            if isinstance(value, str) and value.strip():
                values[spec["name"]] = self.paths.real(value.strip())
        return values

    def shared_with_lamassu(self, shared: bool | None = None) -> bool:
        """Whether the Lamassu box is ticked; with ``shared``, ticks or clears it first."""
        box = self.query(f"#opt-{LAMASSU}").first(Checkbox) if self.query(f"#opt-{LAMASSU}") else None
        if box is not None and shared is not None:
            box.value = shared
        return bool(box and box.value)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        """Shared with Lamassu: the software engine's files stay clear (Lamassu reads clear PEM only)."""
        encrypt = self.query("#opt-encrypt").first(Select) if self.query("#opt-encrypt") else None
        if event.checkbox.id != f"opt-{LAMASSU}" or encrypt is None:
            return
        encrypt.value = "false" if event.value else next(
            (s["default"] for s in self.info.options if s["name"] == "encrypt"), encrypt.value)
        for secret in self.query("#engine-secret").results(Input):
            secret.placeholder = "not needed: keys stay clear PEM for Lamassu" if event.value else secret_help(self.info)

    def engine_id(self) -> str:
        return self.query_one("#engine-id", Input).value.strip()

    def display_name(self) -> str | None:
        return self.query_one("#engine-name", Input).value.strip() or None

    def make_default(self) -> bool:
        return self.query_one("#make-default", Checkbox).value

    def take_secret(self) -> str | None:
        """The typed secret, once: the widget is cleared as it is read."""
        field = self.query("#engine-secret").first(Input) if self.info.secret_label else None
        if field is None:
            return None
        secret, field.value = field.value, ""
        return secret or None

    def clear(self) -> None:
        for field in self.query(Input):
            field.value = ""

    # --- discovered choices -------------------------------------------------------------

    async def use_choices(self, choices: dict[str, list[dict[str, Any]]]) -> list[str]:
        """Turn each option with offered choices into a Select; returns the options changed."""
        known = {spec["name"] for spec in self.info.options}
        changed = []
        for name, items in choices.items():
            if name not in known or not items:
                continue
            old = self.query_one(f"#opt-{name}")
            current = old.value if isinstance(old, Input | Select) else None
            values = [str(c.get("value")) for c in items]
            select = Select([(choice_label(c), v) for c, v in zip(items, values, strict=True)], id=f"opt-{name}",
                            value=current if current in values else values[0], allow_blank=False, compact=True)
            select.tooltip = old.tooltip
            row = old.parent
            await old.remove()
            await row.mount(select)
            changed.append(name)
        return changed
