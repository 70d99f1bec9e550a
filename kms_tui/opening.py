"""Opening the service behind the first frame: the opening state, and the opener a worker runs.

Importing the service (SQLite, sqlite-utils, cryptography) and opening the
database take longer than drawing the first frame, and a locked or broken
database must not leave a blank terminal. So the app draws its screens at once
and opens the ``Kms`` in a thread worker; until then ``KmsApp.kms_state`` is
``OPENING`` and screens say so where their data will be, running their first
load when it turns ``OPEN`` (``ServiceCalls.when_ready``). A failure to open
turns it ``FAILED`` and is shown once, in the error modal.

No Textual here: this is plain state and a blocking function for a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .service import Kms, SecretRequest

    SecretPrompt = Callable[[SecretRequest], "str | None"]


class KmsState(Enum):
    """Where the app's service is; ``note`` is what a screen shows instead of its data meanwhile."""

    OPENING = "opening"
    OPEN = "open"
    FAILED = "failed"

    @property
    def note(self) -> str:
        return _NOTES[self]


_NOTES = {
    KmsState.OPENING: "Opening the database…",
    KmsState.OPEN: "",
    KmsState.FAILED: "The database could not be opened; the error says why.",
}


class KmsOpener:
    """Opens one ``Kms`` in a worker thread; whoever owns it closes it, once it is open."""

    def __init__(self, data_dir: str | Path | None, prompt: SecretPrompt):
        self._data_dir = data_dir
        self._prompt = prompt  # secrets asked for while opening (e.g. a passphrase to check)
        self._opened: Future[Kms] = Future()

    def open(self) -> Kms:
        """Runs in a worker thread: import the service and open the database (a failure is raised)."""
        if not self._opened.set_running_or_notify_cancel():
            raise CancelledError("the app closed before the service was opened")
        try:
            from .service import Kms

            kms = Kms(self._data_dir, prompt=self._prompt)
        except BaseException as exc:  # kept for close(), and raised to the worker
            self._opened.set_exception(exc)
            raise
        self._opened.set_result(kms)
        return kms

    def close(self) -> None:
        """Close the service; an opening still running is waited for, one not yet started never starts."""
        if self._opened.cancel():
            return
        try:
            kms = self._opened.result()
        except BaseException:  # it never opened: nothing to close (the error was shown when it happened)
            return
        kms.close()
