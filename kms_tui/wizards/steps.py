"""The wizard frame shared by create, import, sign and verify.

A ``WizardScreen`` shows a step indicator ("Step 2 of 5 · Algorithm"), one step
at a time in a ``ContentSwitcher``, an inline message line and Back / Next /
Cancel (Ctrl+B, Ctrl+N, Escape). A subclass composes its steps and says how to
leave each one: ``check_step`` returns a problem (shown inline, the step stays),
None (go on), or ``WAIT`` after starting a service call whose handler later
calls ``proceed`` or ``refuse``. Back keeps what was entered; Cancel leaves
without changing anything. Steps that do not apply (an unencrypted key needs no
passphrase) are skipped and not counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, TypeVarTuple

from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, ContentSwitcher, Footer, Header, Input

from ..service.errors import KmsError
from ..workers import ServiceCalls
from .commands import CliCommand
from .frame import SHORT_COMPACT, WAIT, MessageLine, Step, StepIndicator, WizardButtons, inline_text

ResultT = TypeVar("ResultT")
T = TypeVar("T")
Ts = TypeVarTuple("Ts")
__all__ = ["WAIT", "Step", "WizardScreen", "inline_text"]


class WizardScreen(ServiceCalls, Screen[ResultT]):
    """Steps with validation before Next; dismisses with the wizard's result (or None)."""

    DEFAULT_CSS = """
    WizardScreen #wizard-steps { height: 1fr; padding: 0 1; }
    WizardScreen #wizard-steps > * { height: 1fr; }
    WizardScreen .hint { color: $text-muted; }
    WizardScreen .field-label { margin-top: 1; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="wizard.cancel", tooltip="Leave the wizard; nothing is changed"),
        Binding("ctrl+b", "back", "Back", id="wizard.back", tooltip="The previous step (values are kept)"),
        Binding("ctrl+n", "next", "Next", id="wizard.next", tooltip="Check this step and go on"),
        Binding("f6", "copy_command", "Copy command", id="wizard.copy_command",
                tooltip="Copy the equivalent kms-tui command"),
        # Type-ahead (keys arriving in one read, over SSH): Tab and Enter move the focus as soon as the
        # app reads them, so the characters typed after them land in the next field.
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
        Binding("enter", "next_field", show=False, priority=True),
    ]

    WIZARD_TITLE: ClassVar[str] = "Wizard"
    STEPS: ClassVar[tuple[Step, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.step_id = self.STEPS[0].id
        self.busy = False

    # --- what a subclass provides --------------------------------------------

    def compose_steps(self) -> ComposeResult:
        """One container per step, its id the step's id."""
        yield from ()

    def step_applies(self, step: str) -> bool:
        return True

    def check_step(self, step: str) -> str | None | object:
        """Validate before Next: a problem, None, or WAIT."""
        return None

    def step_shown(self, step: str) -> None:
        """Called after a step becomes the current one."""

    def next_label(self, step: str) -> str | None:
        """The Next button's label on this step; None hides it."""
        return "Finish" if step == self.visible_steps()[-1].id else "Next"

    def can_go_back(self, step: str) -> bool:
        return True

    def finish(self) -> None:
        """Next on the last step."""
        self.close(None)

    def cli_command(self) -> CliCommand | None:
        """The equivalent command shown on this step, if any (F6 copies it)."""
        return None

    def forget(self) -> None:
        """Drop anything sensitive held for the wizard (called whenever it closes)."""

    # --- the frame -----------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield StepIndicator(id="wizard-head")
        with ContentSwitcher(initial=self.step_id, id="wizard-steps"):
            yield from self.compose_steps()
        yield MessageLine("", id="wizard-message")
        yield WizardButtons(id="wizard-buttons")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.WIZARD_TITLE
        if not self.kms_ready:
            self.busy = True  # no step can be checked before the service is open
        self.go_to(self.step_id)
        self.when_ready(self._service_ready, show=self.say)

    def _service_ready(self) -> None:
        if self.busy:
            self.busy = False
            self._sync_buttons()
            self.say("")
        self.started()

    def started(self) -> None:
        """Called once the wizard is on screen and the service open (load what the first step shows)."""

    def visible_steps(self) -> list[Step]:
        return [s for s in self.STEPS if self.step_applies(s.id)]

    def go_to(self, step: str) -> None:
        self.step_id = step
        self.query_one("#wizard-steps", ContentSwitcher).current = step
        self.say("")
        self.query_one(StepIndicator).show(self.visible_steps(), step)
        self._sync_buttons()
        self.step_shown(step)
        self.call_after_refresh(self.focus_step)

    def focus_target(self, step: str) -> Widget | None:
        """The widget a step starts in; None: its first field."""
        return None

    def focus_step(self) -> None:
        """Focus the step's first field; the step is shown from its top (its summary first)."""
        container = self.query_one(f"#{self.step_id}")
        container.scroll_home(animate=False)
        target = self.focus_target(self.step_id)
        if target is None or not target.focusable:
            # Plain scroll containers take focus to scroll; a step starts at its first field instead.
            fields = (w for w in self.focus_chain
                      if container in w.ancestors and type(w).__module__ != "textual.containers")
            target = next(fields, self.query_one("#wizard-next", Button))
        target.focus(scroll_visible=False)

    def on_resize(self) -> None:
        # In 24 rows, bordered buttons and fields would crowd out the step; from 32 rows they get borders.
        for widget in self.query(f".{SHORT_COMPACT}"):
            widget.compact = self.size.height < 32

    def _sync_buttons(self) -> None:
        self.query_one(WizardButtons).show(self.next_label(self.step_id), self.can_go_back(self.step_id),
                                           self._back_allowed(), self.busy)
        self.refresh_bindings()

    def _back_allowed(self) -> bool:
        first = self.visible_steps()[0].id == self.step_id
        return not self.busy and not first and self.can_go_back(self.step_id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self._back_allowed()
        if action == "next":
            return self.next_label(self.step_id) is not None and (None if self.busy else True)
        if action == "copy_command":
            return self.cli_command() is not None
        return True

    # --- moving ----------------------------------------------------------------

    def action_next(self) -> None:
        if self.busy or self.next_label(self.step_id) is None:
            return
        outcome = self.check_step(self.step_id)
        if outcome is WAIT:
            return
        if outcome:
            self.refuse(str(outcome))
            return
        self.proceed()

    def proceed(self, to: str | None = None) -> None:
        """Leave the current step: to ``to``, else the next step that applies, else finish."""
        self.busy = False
        if to is None:
            ids = [s.id for s in self.visible_steps()]
            index = ids.index(self.step_id)
            if index + 1 == len(ids):
                self._sync_buttons()
                self.finish()
                return
            to = ids[index + 1]
        self.go_to(to)

    def refuse(self, problem: str) -> None:
        """Stay on this step and say why."""
        self.busy = False
        self._sync_buttons()
        self.say(problem, error=True)

    def action_back(self) -> None:
        if not self._back_allowed():
            return
        ids = [s.id for s in self.visible_steps()]
        index = ids.index(self.step_id)
        if index:
            self.go_to(ids[index - 1])

    def action_cancel(self) -> None:
        self.close(None)

    def close(self, result: Any) -> None:
        self.forget()
        self.dismiss(result)

    def action_copy_command(self) -> None:
        command = self.cli_command()
        if command is not None:
            self.app.copy_to_clipboard(command.text)
            self.notify("Command copied to the clipboard (OSC 52).", timeout=3)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"wizard-next": self.action_next, "wizard-back": self.action_back,
                   "wizard-cancel": self.action_cancel}
        if event.button.id in actions:
            event.stop()
            actions[event.button.id]()

    # --- messages and service calls ----------------------------------------------

    def say(self, text: str, *, error: bool = False) -> None:
        """The inline message line: an error in red, or a quiet note ("Checking…")."""
        self.query_one(MessageLine).show(self.app.paths.text(text), error)

    def wait_for(self, note: str, fn: Callable[[*Ts], T], *args: *Ts, then: Callable[[T], object]) -> object:
        """Check a step with a service call in a worker; ``then`` must proceed() or refuse()."""
        self.busy = True
        self._sync_buttons()
        self.say(note)
        self.call(fn, *args, then=then, failed=self.failed_inline, group="wizard-check")
        return WAIT

    def failed_inline(self, error: BaseException) -> bool:
        """A user error stays on the step, shown inline; anything else goes to the error modal."""
        if isinstance(error, KmsError):
            self.refuse(inline_text(error))
            return True
        self.busy = False
        self._sync_buttons()
        self.say("")
        return False

    def _step_fields(self) -> list[Input]:
        container = self.query_one(f"#{self.step_id}")
        return [w for w in self.focus_chain if container in w.ancestors and isinstance(w, Input)]

    def action_next_field(self) -> None:
        """Enter in a field that is not the step's last: the next field, at once (before any type-ahead)."""
        fields = self._step_fields()
        focused = self.focused
        if not isinstance(focused, Input) or focused not in fields or focused is fields[-1]:
            raise SkipAction()  # the widget's own Enter (a field submits, a button presses)
        self.set_focus(fields[fields.index(focused) + 1])  # now, not after the queued keys (as focus() would)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a field moves to the step's next field, or on from the last one."""
        event.stop()
        fields = self._step_fields()
        if event.input in fields and fields.index(event.input) + 1 < len(fields):
            fields[fields.index(event.input) + 1].focus()
        else:
            self.action_next()
