"""The Textual workstation: a thin App that owns the Kms service and the error modal.

Screens live in ``screens/`` (one mode each: keys, engines, stats, audit),
wizards in ``wizards/``, modals in ``dialogs/``. Every screen calls the service
through thread workers (``screens/base.py``); errors from any of them arrive
at ``show_error``.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from .errors import USER_ERRORS, render

if TYPE_CHECKING:
    from .service import Kms, SecretRequest

log = logging.getLogger("kms_tui.app")


def _load(target: str):
    """Screen classes are imported when first needed (start-up pays only for the keys screen)."""
    module_name, _, cls_name = target.partition(":")

    def factory():
        import importlib

        return getattr(importlib.import_module(module_name), cls_name)()

    return factory


class OpeningKms:
    """The service, opened in a thread after the first frame; calls made before then wait for it.

    Importing the service (SQLite, sqlite-utils, cryptography) and opening the
    database take longer than drawing the first frame, and a locked or broken
    database must not leave a blank terminal: the screens appear at once, and
    their first service calls (already in worker threads) wait here. A failure
    to open comes out of every call as its own typed error, shown in the modal.
    """

    def __init__(self, data_dir: str | Path | None, prompt):
        self._data_dir = data_dir
        self._prompt = prompt
        self._opened = threading.Event()
        self._kms: Kms | None = None
        self._error: BaseException | None = None

    def open(self) -> None:
        """Runs in a worker thread."""
        try:
            from .service import Kms

            self._kms = Kms(self._data_dir, prompt=self._prompt)
        except BaseException as exc:  # handed to every caller
            self._error = exc
        finally:
            self._opened.set()

    def get(self) -> Kms:
        self._opened.wait()
        if self._error is not None:
            raise self._error
        assert self._kms is not None
        return self._kms

    @property
    def prompt(self):
        return self._prompt

    @property
    def data_dir(self) -> Path:
        if self._kms is not None:
            return self._kms.data_dir
        from store.paths import resolve_data_dir

        return resolve_data_dir(self._data_dir)

    def __getattr__(self, name: str) -> Any:
        if self._opened.is_set():
            return getattr(self.get(), name)
        # Before the service is open only its methods are asked for (screens call them in workers).
        return functools.partial(self._call, name)

    def _call(self, name: str, *args, **kwargs):
        return getattr(self.get(), name)(*args, **kwargs)

    def close(self) -> None:
        self._opened.wait()
        if self._kms is not None:
            self._kms.close()


class KmsApp(App[None]):
    """kms-tui: engines, keys, wizards, stats and audit."""

    CSS_PATH = "app.tcss"
    TITLE = "kms-tui"
    MODES = {
        "keys": _load("kms_tui.screens.keys:KeysScreen"),
        "engines": _load("kms_tui.screens.engines:EnginesScreen"),
        "stats": _load("kms_tui.screens.stats:StatsScreen"),
        "audit": _load("kms_tui.screens.audit:AuditScreen"),
        "ceremony": _load("kms_tui.screens.ceremony:CeremonyScreen"),
        "doctor": _load("kms_tui.screens.doctor:DoctorScreen"),
    }
    DEFAULT_MODE = "keys"
    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help"),
        Binding("f2", "switch_mode('keys')", "Keys", id="app.keys"),
        Binding("f3", "switch_mode('engines')", "Engines", id="app.engines"),
        Binding("f4", "switch_mode('stats')", "Stats", id="app.stats"),
        Binding("f5", "switch_mode('audit')", "Audit", id="app.audit"),
        Binding("f6", "switch_mode('ceremony')", "Ceremony", id="app.ceremony", show=False),
        Binding("f7", "switch_mode('doctor')", "Doctor", id="app.doctor", show=False),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]

    def __init__(self, kms: Kms | None = None, *, data_dir: str | Path | None = None, freeze_gc: bool = False):
        super().__init__()
        self._freeze_gc = freeze_gc  # the kms-tui process itself: see on_ready
        self._owns_kms = kms is None  # a Kms handed in belongs to the caller, who closes it
        if kms is None:
            self.kms: Kms | OpeningKms = OpeningKms(data_dir, self.secret_prompt)
        else:
            self.kms = kms
            if kms.prompt is None:
                kms.prompt = self.secret_prompt

    def on_ready(self) -> None:
        # The service opens once the first frame is out (its imports would compete with it).
        if isinstance(self.kms, OpeningKms):
            self.run_worker(self.kms.open, thread=True, name="open the service", exit_on_error=False)
        # Everything made so far (modules, styles, the first screen) lives as long as the
        # app: out of the collector's sight, a full collection no longer stalls a keystroke.
        # Only in a process that runs one app (not in tests, which make many).
        if self._freeze_gc:
            gc.freeze()

    def on_unmount(self) -> None:
        if self._owns_kms:
            self.kms.close()

    # --- the one error handler -----------------------------------------------

    def show_error(self, error: BaseException) -> None:
        """Show any failure in a modal; tracebacks go to the log only."""
        if not isinstance(error, USER_ERRORS):
            log.error("internal error", exc_info=error)
        title, message = render(error)
        from .dialogs.error import ErrorDialog

        self.push_screen(ErrorDialog(title, message))

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

    def action_help(self) -> None:
        from .dialogs.help import HelpDialog

        self.push_screen(HelpDialog(self.screen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode, text in (("keys", "Keys"), ("engines", "Engines"), ("stats", "Stats"), ("audit", "Audit log"),
                           ("ceremony", "Ceremony"), ("doctor", "Doctor")):
            yield SystemCommand(f"Go to {text}", f"Show the {text.lower()} screen", lambda m=mode: self.switch_mode(m))
        from .actions import commands

        yield from commands(self, screen)


def run(data_dir: str | Path | None = None) -> int:
    app = KmsApp(data_dir=data_dir, freeze_gc=True)
    app.run()
    return app.return_code or 0
