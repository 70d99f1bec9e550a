"""Pieces of the wizard frame: steps, the step indicator, the button bar, inline error text."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from ..service.errors import render
from ..text import safe_text

WAIT = object()
SHORT_COMPACT = "short-compact"  # widgets drawn without borders in short terminals (WizardScreen.on_resize)  # check_step: a service call is checking; proceed() or refuse() follows


@dataclass(frozen=True)
class Step:
    id: str
    title: str


def inline_text(error: BaseException) -> str:
    """A user error as one line: "Title: sentence" (the generic "Invalid input" title is left out)."""
    title, message = render(error)
    return message if title == "Invalid input" else f"{title}: {message}"


class StepIndicator(Vertical):
    """"Step 2 of 5 · Algorithm", and below it the trail of all steps with the current one marked."""

    DEFAULT_CSS = "StepIndicator { height: 2; padding: 0 1; background: $panel; }"

    def compose(self) -> ComposeResult:
        yield Static("", id="wizard-step")
        yield Static("", id="wizard-trail")

    def show(self, steps: list[Step], current: str) -> None:
        index = next(i for i, s in enumerate(steps) if s.id == current)
        self.query_one("#wizard-step", Static).update(
            Text.assemble((f"Step {index + 1} of {len(steps)}", "bold"), " · ", (steps[index].title, "bold")))
        trail = Text(style="dim")
        for i, s in enumerate(steps):
            if i:
                trail.append(" › ")
            trail.append(s.title, style="bold reverse" if i == index else "")
        self.query_one("#wizard-trail", Static).update(trail)


class WizardButtons(Horizontal):
    """Cancel, Back, Next: one row in short terminals, bordered buttons in tall ones."""

    DEFAULT_CSS = """
    WizardButtons { height: auto; align-horizontal: right; padding: 0 1; }
    WizardButtons Button { margin-left: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Button("Cancel", id="wizard-cancel", classes=SHORT_COMPACT)
        yield Button("Back", id="wizard-back", classes=SHORT_COMPACT)
        yield Button("Next", id="wizard-next", variant="primary", classes=SHORT_COMPACT)

    def show(self, next_label: str | None, back_shown: bool, back_enabled: bool, busy: bool) -> None:
        """``next_label`` None hides Next; Back is hidden where going back is impossible."""
        next_button = self.query_one("#wizard-next", Button)
        next_button.display = next_label is not None
        next_button.label = next_label or ""
        next_button.disabled = busy
        back = self.query_one("#wizard-back", Button)
        back.display = back_shown
        back.disabled = not back_enabled


class MessageLine(Static):
    """The wizard's inline message: an error in red, or a quiet note ("Checking…"). Shown literally."""

    DEFAULT_CSS = """
    MessageLine { height: auto; padding: 0 1; color: $text-muted; }
    MessageLine.error { color: $error; text-style: bold; }
    """

    def show(self, text: str, error: bool = False) -> None:
        self.set_class(error and bool(text), "error")
        self.update(Text(safe_text(text)))
