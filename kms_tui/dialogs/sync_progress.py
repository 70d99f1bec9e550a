"""Sync one engine with progress and a Cancel button, then show what changed.

The sync runs in a thread worker; its progress callback posts a message (at
most every few hundredths of a second, so a large engine does not flood the
UI), and Cancel sets the ``threading.Event`` the service checks between keys.
Nothing is deleted by a sync: unknown keys are adopted, missing ones flagged.
"""

from __future__ import annotations

import threading
import time
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..service import SyncReport
from ..service.errors import Cancelled, render
from ..text import safe_text
from ..workers import ServiceCalls

_EVERY = 0.05  # seconds between progress messages


def report_text(report: SyncReport) -> Text:
    """What a sync did, in a few lines; key ids shortened (the keys screen has the rest)."""
    text = Text()
    text.append("✓ Sync finished\n", style="bold green")
    text.append(f"{report.seen} seen · {len(report.adopted)} adopted · {len(report.missing)} missing · "
                f"{len(report.restored)} restored · {report.unchanged} unchanged")
    for label, ids, style in (("Adopted", report.adopted, "green"), ("Missing", report.missing, "bold red"),
                              ("Restored", report.restored, "cyan")):
        if ids:
            shown = ", ".join(i[:12] for i in ids[:4]) + (f" and {len(ids) - 4} more" if len(ids) > 4 else "")
            text.append(f"\n{label}: ", style=style)
            text.append(safe_text(shown))
    return text


class SyncDialog(ServiceCalls, ModalScreen["list[SyncReport] | None"]):
    """Progress (keys read so far) and Cancel while syncing; the report when done."""

    BINDINGS = [Binding("escape", "cancel", "Cancel / close", id="sync.cancel")]

    class Progress(Message):
        """Posted from the worker thread: how many keys the engine has listed so far."""

        def __init__(self, seen: int):
            super().__init__()
            self.seen = seen

    def __init__(self, engine_id: str):
        super().__init__()
        self.engine_id = engine_id
        self.cancel_event = threading.Event()
        self.reports: list[SyncReport] | None = None
        self.running = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(f"Sync engine {safe_text(self.engine_id, 50)}", style="bold"), id="dialog-title")
            with VerticalScroll(id="dialog-scroll"):
                yield Static("Reading what the engine holds: unknown keys are adopted, keys that are gone are "
                             "flagged. Nothing is deleted.", id="dialog-body")
                yield Static(Text("Starting…"), id="sync-progress")
            with Vertical(id="dialog-foot"), Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="warning")
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close").display = False
        self.query_one("#cancel", Button).focus()  # not the scrolling text above it
        self.running = True
        last = [0.0]

        def progress(seen: int, total: int | None, engine_id: str) -> None:
            now = time.monotonic()  # runs in the worker thread: only post, never touch a widget
            if now - last[0] >= _EVERY:
                last[0] = now
                self.post_message(self.Progress(seen))

        self.call(partial(self.kms.inventory.sync, self.engine_id, progress=progress, cancel=self.cancel_event),
                  then=self._done, failed=self._failed, group="sync")

    def on_unmount(self) -> None:
        self.cancel_event.set()  # closed while running (e.g. the app quits): the sync stops at the next key

    def on_sync_dialog_progress(self, message: Progress) -> None:
        if self.running and not self.cancel_event.is_set():
            self.query_one("#sync-progress", Static).update(Text(f"Syncing… {message.seen} key(s) read"))

    def _finish(self, text: Text) -> None:
        self.running = False
        self.query_one("#sync-progress", Static).update(text)
        self.query_one("#cancel").display = False
        close = self.query_one("#close", Button)
        close.display = True
        close.focus()

    def _done(self, reports: list[SyncReport]) -> None:
        self.reports = reports
        self._finish(report_text(reports[0]) if reports else Text("Nothing to sync."))

    def _failed(self, error: BaseException) -> bool:
        if isinstance(error, Cancelled):
            self._finish(Text(f"Cancelled. {error.message}", style="bold yellow"))
            return True
        title, message = render(error)
        self._finish(Text(f"✗ {title}: {message}", style="bold red"))
        return False  # the app shows it in the error modal too

    def action_cancel(self) -> None:
        if self.running:
            self.cancel_event.set()
            self.query_one("#sync-progress", Static).update(Text("Cancelling… (stops after the key being read)"))
            self.query_one("#cancel", Button).disabled = True
        else:
            self.dismiss(self.reports)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()
