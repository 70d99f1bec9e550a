"""Driving the app with Pilot, shared by every UI test: waiting, typing, reading the screen, the register form.

Waits poll a predicate on a short interval and fail after a timeout with what the
screen showed: no test sleeps and hopes. ``type_text`` sends one key event per
character, as a keyboard does, and waits once for all of them (``pilot.press``
waits after every key, which makes typing a path cost seconds). ``quick_idle``
makes the wait Pilot itself does after each key and pause shorter, for modules
that wait on state with ``until``.
"""

from __future__ import annotations

import time

import pytest
import textual._wait
from textual.events import Key
from textual.keys import _character_to_key
from textual.widgets import Input, OptionList, Select, TextArea

from kms_tui.dialogs.error import ErrorDialog
from kms_tui.dialogs.register_engine import RegisterEngineDialog
from kms_tui.screens.engines import EnginesScreen

POLL = 0.01  # seconds between two looks at the app
IDLE_WINDOW = 0.01  # seconds: the window Pilot's idle wait watches (Textual's own is 0.02)


@pytest.fixture
def quick_idle(monkeypatch):
    """Pilot waits after every key and ``pause()`` until the process looks idle: until a window
    passes with under 1/20 of it spent on the CPU. This halves the window (and its threshold,
    keeping the ratio), so an idle app is seen as idle sooner; what a test then checks it still
    waits for with ``until``. Use with ``pytestmark = pytest.mark.usefixtures("quick_idle")``
    and the fixture imported."""
    monkeypatch.setattr(textual._wait, "SLEEP_GRANULARITY", IDLE_WINDOW)
    monkeypatch.setattr(textual._wait, "SLEEP_IDLE", IDLE_WINDOW / 20)


def screen_text(app) -> str:
    """What a person would read on the screen right now, as plain text lines."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def workers_idle(app) -> bool:
    """No worker is running (the set is copied first: thread workers leave it from their threads)."""
    return all(w.is_finished for w in app.workers._workers.copy())


async def until(pilot, predicate, what: str = "the expected state", *, timeout: float = 30.0) -> None:
    """Wait until ``predicate()`` holds (it may raise while the screen is between states), then until the
    app has handled what followed; fails after ``timeout`` seconds with the screen's text."""
    deadline = time.monotonic() + timeout
    problem: BaseException | None = None
    while time.monotonic() < deadline:
        await pilot.pause(POLL)
        try:
            held = predicate()
        except Exception as exc:  # noqa: BLE001 - the screen may be between states
            problem, held = exc, False
        if held:
            # What the change set off (messages already queued, a refresh) is handled before going on.
            await pilot._wait_for_screen()
            await pilot.pause(0)
            return
    screen = pilot.app.screen
    state = f"{type(screen).__name__} step={getattr(screen, 'step_id', None)} busy={getattr(screen, 'busy', None)}"
    last = f"; the predicate last raised {problem!r}" if problem else ""
    raise AssertionError(f"timed out waiting for {what} ({state}{last})\n{screen_text(pilot.app)}")


async def until_text(pilot, *needles: str, timeout: float = 30.0) -> str:
    """Wait until the screen shows every needle; returns the screen's text."""
    await until(pilot, lambda: all(n in screen_text(pilot.app) for n in needles), f"the screen to show {needles}",
                timeout=timeout)
    return screen_text(pilot.app)


async def type_text(pilot, text: str) -> None:
    """Type ``text`` into the focused widget: a key event per character, then one wait for all of them."""
    app = pilot.app
    for char in text:
        event = Key(char if char.isalnum() else _character_to_key(char), char)
        event.set_sender(app)
        app._driver.send_message(event)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def steady(app) -> None:
    """No cursor blink and no animation: snapshots draw the same every time."""
    app.animation_level = "none"
    for widget in app.screen.query("Input, TextArea"):
        if isinstance(widget, Input | TextArea):
            widget.cursor_blink = False


async def settle_view(pilot) -> None:
    """Ready for a snapshot: no blink, no animation, no button still showing its 0.2 s press effect."""
    steady(pilot.app)

    def pressed() -> bool:
        return any(b.has_class("-active") for screen in pilot.app.screen_stack for b in screen.query("Button"))

    await until(pilot, lambda: not pressed(), "pressed buttons to settle")


# --- the engine registration form, as an operator drives it ------------------------------


async def open_form(pilot, engine_type: str) -> RegisterEngineDialog:
    """F3, then 'a', then the engine type picked from the list."""
    await pilot.press("f3")
    await until(pilot, lambda: isinstance(pilot.app.screen, EnginesScreen), "the engines screen")
    await pilot.press("a")
    await until(pilot, lambda: isinstance(pilot.app.screen, RegisterEngineDialog)
                and pilot.app.screen.query_one(OptionList).option_count > 0, "the engine types")
    dialog = pilot.app.screen
    types = dialog.query_one(OptionList)
    types.highlighted = types.get_option_index(engine_type)
    await pilot.press("enter")
    await until(pilot, lambda: dialog.info is not None and dialog.query("#engine-id"), "the registration form")
    return dialog


async def fill(pilot, dialog: RegisterEngineDialog, engine_id: str, options: dict[str, str], secret: str | None) -> None:
    dialog.query_one("#engine-id", Input).value = engine_id
    for name, value in options.items():
        field = dialog.query_one(f"#opt-{name}")
        field.value = value
    if secret is not None:
        dialog.query_one("#engine-secret", Input).value = secret
    await pilot.pause()


async def discover(pilot, dialog: RegisterEngineDialog, option: str) -> Select:
    await pilot.click("#discover")
    await until(pilot, lambda: isinstance(dialog.query_one(f"#opt-{option}"), Select), f"choices for {option}")
    return dialog.query_one(f"#opt-{option}", Select)


async def submit(pilot, dialog: RegisterEngineDialog) -> None:
    """Register; returns when the form closed (success) or an error modal is up (failure)."""
    await pilot.click("#register")
    await until(pilot, lambda: not isinstance(pilot.app.screen, RegisterEngineDialog)
                or isinstance(pilot.app.screen, ErrorDialog) or "-error" in dialog.query_one("#register-message").classes,
                "the registration to end")


async def register(pilot, engine_type: str, engine_id: str, options: dict[str, str], secret: str | None) -> None:
    dialog = await open_form(pilot, engine_type)
    await fill(pilot, dialog, engine_id, options, secret)
    await submit(pilot, dialog)
    assert not dialog.query("#engine-secret") or dialog.query_one("#engine-secret", Input).value == ""


async def shown_error(pilot) -> str:
    """The error the form ended with (the error modal's title and message, or the inline line); closes the modal."""
    screen = pilot.app.screen
    if isinstance(screen, ErrorDialog):
        text = f"{screen.error_title}: {screen.error_message}"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, ErrorDialog), "the error modal to close")
        return text
    return str(screen.query_one("#register-message").render())
