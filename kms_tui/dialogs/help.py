"""The help screen: every key binding that applies now, grouped by where it applies, under human titles.

First the current screen's own actions, then the F-keys that switch screens (read from the
app's screen table, handed in), then what works everywhere, then moving around in the
focused widget. The whole list scrolls inside the dialog, so every row is reachable at 80×24.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

INTRO = (
    "kms-tui keeps keys in crypto engines and their metadata in a local database. "
    "Ctrl+P opens the command palette, which reaches every action; Escape goes back. "
    "Names and tags are shown literally."
)
KEY_WIDTH = 12
GENERIC_ACTIONS = {  # bindings every screen has: listed once, under "Everywhere", in words people use
    "app.focus_next": "Next field or pane",
    "app.focus_previous": "Previous field or pane",
    "screen.copy_text": "Copy the selected text",
    "command_palette": "Command palette: every action, by name",
}


class ScreenInfo(Protocol):
    """What the help reads of one entry of the app's screen table (``app.SCREENS``)."""

    name: str
    screen: str  # "module:Class"
    key: str
    title: str
    long_title: str


@dataclass
class Section:
    title: str
    rows: dict[str, list[str]] = field(default_factory=dict)  # action text -> key displays, in order

    def add(self, keys: str, action: str) -> None:
        shown = self.rows.setdefault(action, [])
        if keys not in shown:
            shown.append(keys)

    def render(self) -> Group:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column("Key", width=KEY_WIDTH, overflow="fold", style="bold")  # one width: the sections align
        table.add_column("Action")
        for action, keys in self.rows.items():
            table.add_row(Text(" ".join(keys)), Text(action))
        return Group(Text(self.title, style="bold underline"), table, Text(""))


def screen_title(screen: Screen, screens: Sequence[ScreenInfo]) -> str:
    """The screen as people call it: its title in the screen table, a wizard's title, or its class in words."""
    path = f"{type(screen).__module__}:{type(screen).__qualname__}"
    for entry in screens:
        if entry.screen == path:
            return f"{entry.long_title or entry.title} screen"
    named = getattr(screen, "HELP_TITLE", None) or getattr(screen, "WIZARD_TITLE", None)
    if isinstance(named, str) and named:
        return named
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(screen).__name__).removesuffix(" Screen").lower()
    return words.capitalize() or "This screen"


def sections(app: App, screen: Screen, screens: Sequence[ScreenInfo]) -> list[Section]:
    """The rows of the help, grouped: this screen, switching screens, everywhere, moving around."""
    own, everywhere, moving = Section(screen_title(screen, screens)), Section("Everywhere"), Section("Moving around")
    switching = Section("Screens (from anywhere)")
    for entry in screens:
        switching.add(app.get_key_display(Binding(entry.key, "")), f"Go to {entry.long_title or entry.title}")
    switch_ids = {f"app.{entry.name}" for entry in screens}
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.description or binding.id in switch_ids:
            continue
        keys = app.get_key_display(binding)
        if binding.action in GENERIC_ACTIONS:
            everywhere.add(keys, GENERIC_ACTIONS[binding.action])
        elif active.node is app:
            everywhere.add(keys, binding.description)
        elif active.node is screen or binding.id:
            own.add(keys, binding.description)
        else:
            moving.add(keys, binding.description)
    return [s for s in (own, switching, everywhere, moving) if s.rows]


class HelpDialog(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="help.close")]

    def __init__(self, screen: Screen, screens: Iterable[ScreenInfo] = ()):
        super().__init__()
        self.for_screen = screen
        self.screens = tuple(screens)

    def compose(self) -> ComposeResult:
        content = Group(*(s.render() for s in sections(self.app, self.for_screen, self.screens)))
        with Vertical(id="dialog", classes="wide help"):
            yield Static(Text("Help", style="bold"), id="dialog-title")
            with VerticalScroll(id="dialog-scroll"):
                yield Static(Text(INTRO), id="dialog-body")
                yield Static(content, id="help-bindings")
