"""The Textual workstation: a thin App that owns the Kms service and the error modal.

Screens live in ``screens/`` (one mode each, listed once in ``SCREENS``),
wizards in ``wizards/``, modals in ``dialogs/``. Every screen calls the service
through thread workers (``workers.py``); errors from any of them arrive at
``show_error``. The service opens behind the first frame (``opening.py``).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, ScreenStackError, SystemCommand, UnknownModeError
from textual.binding import Binding
from textual.reactive import var
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from .changes import WATCH_INTERVAL, DatabaseChanged, DatabaseWatch
from .opening import KmsOpener, KmsState
from .path_display import PathDisplay
from .service.errors import KmsError, render

if TYPE_CHECKING:
    from textual.command import Provider

    from .service import Kms, SecretRequest

log = logging.getLogger("kms_tui.app")


@dataclass(frozen=True)
class ScreenEntry:
    """One mode of the app: its screen, the F-key that shows it, its names in the help and the palette.

    The F-keys stay out of the footer: at 80 columns it has room for the screen's own actions,
    and F1 (help) and Ctrl+P (palette) list every screen.
    """

    name: str  # the mode
    screen: str  # "module:Class", imported when first shown (start-up pays only for the keys screen)
    key: str
    title: str  # in the help and the palette
    long_title: str = ""  # in the command palette, when it says more than the title

    def factory(self) -> Callable[[], Screen]:
        module_name, _, class_name = self.screen.partition(":")
        return lambda: getattr(importlib.import_module(module_name), class_name)()

    def binding(self) -> Binding:
        return Binding(self.key, f"switch_mode({self.name!r})", self.title, id=f"app.{self.name}", show=False)

    def command(self, app: App) -> SystemCommand:
        name = self.long_title or self.title
        return SystemCommand(f"Go to {name}", f"Show the {name.lower()} screen", lambda: app.switch_mode(self.name))


SCREENS = (
    ScreenEntry("keys", "kms_tui.screens.keys:KeysScreen", "f2", "Keys"),
    ScreenEntry("engines", "kms_tui.screens.engines:EnginesScreen", "f3", "Engines"),
    ScreenEntry("stats", "kms_tui.screens.stats:StatsScreen", "f4", "Stats"),
    ScreenEntry("audit", "kms_tui.screens.audit:AuditScreen", "f5", "Audit", "Audit log"),
    ScreenEntry("ceremony", "kms_tui.screens.ceremony:CeremonyScreen", "f6", "Ceremony"),
    ScreenEntry("doctor", "kms_tui.screens.doctor:DoctorScreen", "f7", "Doctor"),
)


def _target_commands() -> type[Provider]:
    """The palette's entries that name an engine or a key (loaded when the palette first opens)."""
    from .actions import target_commands

    return target_commands()


class KmsApp(App[None]):
    """kms-tui: engines, keys, wizards, stats and audit."""

    CSS_PATH = "app.tcss"
    TITLE = "kms-tui"
    MODES = {entry.name: entry.factory() for entry in SCREENS}
    DEFAULT_MODE = SCREENS[0].name
    COMMANDS = App.COMMANDS | {_target_commands}
    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help"),
        *(entry.binding() for entry in SCREENS),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True, show=False),  # in the help, like the F-keys
    ]

    kms_state: var[KmsState] = var(KmsState.OPENING)
    """Whether ``kms`` is there yet; screens wait for OPEN to run their first load (``ServiceCalls.when_ready``)."""

    def __init__(self, kms: Kms | None = None, *, data_dir: str | Path | None = None, freeze_gc: bool = False,
                 paths: PathDisplay | None = None):
        super().__init__()
        self.paths = paths or PathDisplay()  # how paths are drawn (``~`` for home) and typed ones read back
        self._freeze_gc = freeze_gc  # the kms-tui process itself: see on_ready
        self._kms = kms  # a Kms handed in belongs to the caller, who closes it
        self._opener: KmsOpener | None = None  # otherwise it is opened here, after the first frame
        self._opening: Worker[Kms] | None = None
        self._watch = DatabaseWatch(lambda: self._kms)
        if kms is None:
            self._opener = KmsOpener(data_dir, self.secret_prompt)
        else:
            self.set_reactive(KmsApp.kms_state, KmsState.OPEN)
            self._watch.changed()  # the first look, before any screen loads
            if kms.prompt is None:
                kms.prompt = self.secret_prompt

    @property
    def kms(self) -> Kms:
        """The service, once ``kms_state`` is OPEN (before then asking for it is a bug)."""
        if self._kms is None:
            raise RuntimeError(f"The service is not open ({self.kms_state.value}).")
        return self._kms

    @property
    def kms_ready(self) -> bool:
        return self._kms is not None

    def on_ready(self) -> None:
        # The service opens once the first frame is out (its imports would compete with it).
        if self._opener is not None:
            self._opening = self.run_worker(self._opener.open, thread=True, name="open the service",
                                            exit_on_error=False)
        self.set_interval(WATCH_INTERVAL, self._follow_database, name="follow the database")
        # Everything made so far (modules, styles, the first screen) lives as long as the
        # app: out of the collector's sight, a full collection no longer stalls a keystroke.
        # Only in a process that runs one app (not in tests, which make many).
        if self._freeze_gc:
            gc.freeze()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._opening:
            return
        if event.state == WorkerState.SUCCESS:
            self._kms = event.worker.result
            self._watch.changed()  # the first look, before the screens' first loads
            if self._freeze_gc:  # the service's modules and engines live as long as the app too
                gc.freeze()
            self.kms_state = KmsState.OPEN
        elif event.state == WorkerState.ERROR and event.worker.error is not None:
            self.kms_state = KmsState.FAILED
            self.show_error(event.worker.error)

    def _follow_database(self) -> None:
        """The app's one look at the database: a change made anywhere reaches the screen on view."""
        if not self._watch.changed():
            return
        try:
            screen = self.screen
        except (ScreenStackError, UnknownModeError):
            return  # no screen while the app shuts down: nothing to tell
        screen.post_message(DatabaseChanged())

    def on_unmount(self) -> None:
        if self._opener is not None:
            self._opener.close()

    # --- the one error handler -----------------------------------------------

    def show_error(self, error: BaseException) -> None:
        """Show any failure in a modal; tracebacks go to the log only."""
        if not isinstance(error, KmsError):
            log.error("internal error", exc_info=error)
        title, message = render(error)
        from .dialogs.error import ErrorDialog

        self.push_screen(ErrorDialog(title, self.paths.text(message)))

    # --- secrets asked for from worker threads -------------------------------

    def secret_prompt(self, request: SecretRequest) -> str | None:
        """Called by the service in a worker thread: ask on the UI thread and wait."""
        return self.call_from_thread(self._ask_secret, request)

    async def _ask_secret(self, request: SecretRequest) -> str | None:
        from .dialogs.secret import SecretDialog

        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.push_screen(
            SecretDialog(request.engine_id, request.label, request.reason, request.confirm),
            callback=future.set_result,
        )
        return await future

    # --- help and the command palette -----------------------------------------

    def _secret_shown(self, *screens: Screen) -> bool:
        """Whether a screen (by default any on the stack) may show a secret in clear: a custodian's share."""
        return any(getattr(s, "shows_secret", False) for s in screens or self.screen_stack)

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """A screenshot, except while a secret may be on screen: a share never reaches a file."""
        if self._secret_shown():
            self.notify("No screenshot while a custodian's share may be on screen.", severity="warning")
            return None
        return super().deliver_screenshot(filename, path, time_format)

    def action_help(self) -> None:
        from .dialogs.help import HelpDialog

        self.push_screen(HelpDialog(self.screen, SCREENS))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        secret = self._secret_shown(screen)
        yield from (c for c in super().get_system_commands(screen) if not (secret and c.title == "Screenshot"))
        for entry in SCREENS:
            yield entry.command(self)
        from .actions import commands  # the wizards (and what they open) load when the palette first opens

        yield from commands(self, screen)


def run(data_dir: str | Path | None = None) -> int:
    app = KmsApp(data_dir=data_dir, freeze_gc=True)
    app.run()
    return app.return_code or 0
