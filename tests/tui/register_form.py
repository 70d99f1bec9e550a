"""Drive the engine registration form as an operator would (shared by the engine test folders)."""

from __future__ import annotations

from textual.widgets import Input, OptionList, Select

from kms_tui.dialogs.error import ErrorDialog
from kms_tui.dialogs.register_engine import RegisterEngineDialog
from kms_tui.screens.engines import EnginesScreen
from tests.tui.screen_text import screen_text


async def until(pilot, predicate, tries: int = 1500) -> None:
    for _ in range(tries):
        await pilot.pause(0.02)
        if predicate():
            await pilot.pause(0.02)
            return
    raise AssertionError(f"the UI did not reach the expected state; the screen was:\n{screen_text(pilot.app)}")


async def open_form(pilot, engine_type: str) -> RegisterEngineDialog:
    """F3, then 'a', then the engine type picked from the list."""
    await pilot.press("f3")
    await until(pilot, lambda: isinstance(pilot.app.screen, EnginesScreen))
    await pilot.press("a")
    await until(pilot, lambda: isinstance(pilot.app.screen, RegisterEngineDialog)
                and pilot.app.screen.query_one(OptionList).option_count > 0)
    dialog = pilot.app.screen
    types = dialog.query_one(OptionList)
    types.highlighted = types.get_option_index(engine_type)
    await pilot.press("enter")
    await until(pilot, lambda: dialog.info is not None and dialog.query("#engine-id"))
    return dialog


async def fill(pilot, dialog: RegisterEngineDialog, engine_id: str, options: dict[str, str], secret: str | None) -> None:
    dialog.query_one("#engine-id", Input).value = engine_id
    for name, value in options.items():
        field = dialog.query_one(f"#opt-{name}")
        field.value = value
    if secret is not None:
        dialog.query_one("#engine-secret", Input).value = secret
    await pilot.pause(0.02)


async def discover(pilot, dialog: RegisterEngineDialog, option: str) -> Select:
    await pilot.click("#discover")
    await until(pilot, lambda: isinstance(dialog.query_one(f"#opt-{option}"), Select))
    return dialog.query_one(f"#opt-{option}", Select)


async def submit(pilot, dialog: RegisterEngineDialog) -> None:
    """Register; returns when the form closed (success) or an error modal is up (failure)."""
    await pilot.click("#register")
    await until(pilot, lambda: not isinstance(pilot.app.screen, RegisterEngineDialog)
                or isinstance(pilot.app.screen, ErrorDialog) or "-error" in dialog.query_one("#register-message").classes)


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
        await until(pilot, lambda: not isinstance(pilot.app.screen, ErrorDialog))
        return text
    return str(screen.query_one("#register-message").render())
