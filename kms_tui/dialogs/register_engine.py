"""Register an engine: pick its type, then a form built from that driver's options.

Step 1 lists every engine type (types this build cannot load are shown
disabled, with why). Step 2 is an ``EngineForm``: engine id, display name, one
field per driver option, "make default" and, when the type has one, its secret
in a masked field; a software engine's directory that holds clear Lamassu key files
ticks "shared with Lamassu". "Discover" asks the driver for choices given the options
so far (e.g. the tokens a PKCS#11 module shows) and turns them into Selects.
Registration checks the engine first; the secret goes to the keyring (or is
held in memory when there is none) and is cleared from the form at once.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from ..service import EngineView
from ..service.engine_ops import EngineTypeInfo
from ..service.errors import render
from ..text import safe_text
from ..widgets.engine_form import EngineForm
from ..workers import ServiceCalls

TYPE_TITLE = "Register an engine — 1/2: type"


class RegisterEngineDialog(ServiceCalls, ModalScreen[EngineView | None]):
    """Two steps: engine type, then its settings; dismisses with the registered engine."""

    # Short terminals (80x24 over SSH): the form's rows close up so that it fits.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    DEFAULT_CSS = """
    RegisterEngineDialog #step-type, RegisterEngineDialog #step-form { height: auto; }
    RegisterEngineDialog #register-types { height: auto; max-height: 10; }
    RegisterEngineDialog #register-message { color: $text-muted; height: auto; margin-top: 1; }
    RegisterEngineDialog.-short #register-message { margin-top: 0; }
    RegisterEngineDialog #register-message.-error { color: $error; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="register.cancel"),
        Binding("ctrl+o", "discover", "Discover", id="register.discover",
                tooltip="Ask the engine for choices (e.g. the tokens of a PKCS#11 module)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.info: EngineTypeInfo | None = None
        self._error_focus: Widget | None = None  # focused when the error was shown

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide"):
            yield Static(Text(TYPE_TITLE, style="bold"), id="dialog-title")
            with VerticalScroll(id="dialog-scroll"):
                with Vertical(id="step-type"):
                    yield OptionList(id="register-types")
                yield Vertical(id="step-form")
            with Vertical(id="dialog-foot"):
                # One line for the focused field's help, or for progress and errors (rows are few at 80x24).
                yield Static("", id="register-message")
                with Horizontal(classes="buttons"):
                    yield Button("Discover", id="discover")
                    yield Button("Register", id="register", variant="primary")
                    yield Button("Back", id="back")
                    yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._show_step("type")
        self.when_ready(self._load_types, show=self._message)

    def _load_types(self) -> None:
        self.call(self.kms.engines.types, then=self._types_loaded, group="types")

    def _show_step(self, step: str) -> None:
        form = step == "form"
        self.query_one("#step-type").display = not form
        self.query_one("#step-form").display = form
        for button in ("discover", "register", "back"):
            self.query_one(f"#{button}").display = form
        self._message("")
        if not form:
            self.query_one("#dialog-title", Static).update(Text(TYPE_TITLE, style="bold"))
            self.query_one("#register-types").focus()

    @property
    def form(self) -> EngineForm | None:
        return self.query(EngineForm).first() if self.query(EngineForm) else None

    # --- step 1: the type -------------------------------------------------------

    def _types_loaded(self, types: list[EngineTypeInfo]) -> None:
        types_list = self.query_one("#register-types", OptionList)
        for t in types:
            line = Text(f"{t.display} ({t.type}) · SL{t.security_level}")
            if not t.available:
                line.append(f" — {t.note}", style="italic")
            types_list.add_option(Option(line, id=t.type, disabled=not t.available))
        types_list.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._message("Loading the engine's settings…")
        self.call(self.kms.engines.type_info, event.option.id, group="types", failed=self._inline,
                  then=lambda info: self.call_later(self._build_form, info))

    # --- step 2: the form ---------------------------------------------------------

    async def _build_form(self, info: EngineTypeInfo) -> None:
        self.info = info
        self.query_one("#dialog-title", Static).update(
            Text(f"Register an engine — 2/2: {info.display}, SL{info.security_level}", style="bold"))
        step = self.query_one("#step-form")
        await step.remove_children()
        await step.mount(EngineForm(info, self.app.paths, id="register-fields"))
        self._show_step("form")
        self.query_one("#engine-id", Input).focus()

    def on_descendant_focus(self, event) -> None:
        if event.widget is self._error_focus:  # focus coming back from the error modal: keep the error
            return
        self._error_focus = None
        for node in event.widget.ancestors_with_self:
            if hasattr(node, "help_text"):
                self._message(node.help_text)
                return

    # --- discover ---------------------------------------------------------------

    def action_discover(self) -> None:
        if self.form is None or not self.query_one("#step-form").display:
            return
        self._message("Asking the engine for choices…")
        self.call(self.kms.engines.option_choices, self.form.info.type, self.form.options(), failed=self._inline,
                  then=lambda choices: self.call_later(self._discovered, choices), group="discover")

    async def _discovered(self, choices: dict[str, list[dict[str, Any]]]) -> None:
        changed = await self.form.use_choices(choices)
        self._message("" if changed else "The engine offers no choices for these settings.")
        if changed:
            self.query_one(f"#opt-{changed[0]}").focus()

    # --- submit -------------------------------------------------------------------

    def action_submit(self) -> None:
        form = self.form
        if form is None:
            return
        if not form.engine_id():
            self._message("The engine id is required.", error=True)
            self.query_one("#engine-id", Input).focus()
            return
        self._message("Checking the engine and registering it…")
        self.query_one("#register", Button).disabled = True
        # take_secret() clears the field: the worker has the only copy, the widget keeps nothing.
        self.call(partial(self.kms.engines.register, form.info.type, form.engine_id(), name=form.display_name(),
                          options=form.options(), secret=form.take_secret(), memory_fallback=True,
                          make_default=form.make_default()),
                  then=self.dismiss, failed=self._register_failed, group="register")

    def _register_failed(self, error: BaseException) -> bool:
        self.query_one("#register", Button).disabled = False
        title, message = render(error)
        again = " Type the secret again." if self.info and self.info.secret_label else ""
        self._message(f"{title}: {message}{again}", error=True)
        return False  # the app shows it in the error modal as well

    def _inline(self, error: BaseException) -> bool:
        title, message = render(error)
        self._message(f"{title}: {message}", error=True)
        return False

    def _message(self, text: str, error: bool = False) -> None:
        line = self.query_one("#register-message", Static)
        line.set_class(error, "-error")
        self._error_focus = self.focused if error else None
        line.update(Text(safe_text(self.app.paths.text(text))))

    # --- navigation -----------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        """A software engine's directory typed: one of clear Lamassu files proposes sharing it with Lamassu."""
        form = self.form
        if event.input.id != "opt-directory" or form is None or form.info.type != "GOLANG":
            return
        directory = form.options().get("directory", "")
        if directory and not form.shared_with_lamassu():
            self.call(self.kms.engines.looks_like_lamassu_directory, directory, group="lamassu-directory",
                      then=partial(self._lamassu_directory, directory), failed=lambda _error: True)

    def _lamassu_directory(self, directory: str, found: bool) -> None:
        form = self.form
        if not found or form is None or form.options().get("directory") != directory:
            return
        form.shared_with_lamassu(True)
        self._message("Lamassu key files here: shared with Lamassu (clear PEM, no passphrase).")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the next field; in the last one it registers."""
        event.stop()
        inputs = [w for w in self.query("#register-fields Input") if w.display]
        index = inputs.index(event.input) if event.input in inputs else -1
        if 0 <= index < len(inputs) - 1:
            inputs[index + 1].focus()
        else:
            self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = {"discover": self.action_discover, "register": self.action_submit,
                  "back": lambda: self._show_step("type"), "cancel": self.action_cancel}.get(event.button.id or "")
        if action:
            action()

    def action_cancel(self) -> None:
        if self.form is not None:
            self.form.clear()  # nothing typed outlives the dialog
        self.dismiss(None)
