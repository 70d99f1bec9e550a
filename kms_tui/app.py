"""The Textual workstation: a thin App that owns the Kms service and the error modal.

Screens live in ``screens/`` (one mode each: keys, engines, stats, audit),
wizards in ``wizards/``, modals in ``dialogs/``. Every screen calls the service
through thread workers (``screens/base.py``); errors from any of them arrive
at ``show_error``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from .errors import USER_ERRORS, render
from .service import Kms, SecretRequest

log = logging.getLogger("kms_tui.app")


def _load(target: str):
    """Screen classes are imported when first needed (start-up pays only for the keys screen)."""
    module_name, _, cls_name = target.partition(":")

    def factory():
        import importlib

        return getattr(importlib.import_module(module_name), cls_name)()

    return factory


class KmsApp(App[None]):
    """kms-tui: engines, keys, wizards, stats and audit."""

    CSS_PATH = "app.tcss"
    TITLE = "kms-tui"
    MODES = {
        "keys": _load("kms_tui.screens.keys:KeysScreen"),
        "engines": _load("kms_tui.screens.engines:EnginesScreen"),
        "stats": _load("kms_tui.screens.stats:StatsScreen"),
        "audit": _load("kms_tui.screens.audit:AuditScreen"),
    }
    DEFAULT_MODE = "keys"
    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help"),
        Binding("f2", "switch_mode('keys')", "Keys", id="app.keys"),
        Binding("f3", "switch_mode('engines')", "Engines", id="app.engines"),
        Binding("f4", "switch_mode('stats')", "Stats", id="app.stats"),
        Binding("f5", "switch_mode('audit')", "Audit", id="app.audit"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]

    def __init__(self, kms: Kms | None = None, *, data_dir: str | Path | None = None):
        super().__init__()
        # Opening the store is a few milliseconds of SQLite before the first frame.
        self.kms = kms if kms is not None else Kms(data_dir, prompt=self.secret_prompt)
        self._owns_kms = kms is None  # a Kms handed in belongs to the caller, who closes it
        if self.kms.prompt is None:
            self.kms.prompt = self.secret_prompt

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
        for mode, text in (("keys", "Keys"), ("engines", "Engines"), ("stats", "Stats"), ("audit", "Audit log")):
            yield SystemCommand(f"Go to {text}", f"Show the {text.lower()} screen", lambda m=mode: self.switch_mode(m))
        from .actions import commands

        yield from commands(self, screen)


def run(data_dir: str | Path | None = None) -> int:
    from .errors import USER_ERRORS as _ERRORS

    try:
        app = KmsApp(data_dir=data_dir)
    except _ERRORS as exc:
        import sys

        title, message = render(exc)
        sys.stderr.write(f"kms-tui: {title}: {message}\n")
        return 3
    app.run()
    return app.return_code or 0
