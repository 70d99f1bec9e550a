"""Service calls from screens: run in thread workers, results handled on the UI thread.

A screen asks ``self.call(fn, *args, then=handler)``: ``fn`` (a Kms method)
runs in a thread worker and never touches a widget; when it returns, ``handler``
gets the result on the UI thread. A failure goes to the app's one error handler,
which shows it in a modal. This keeps every blocking call (engine I/O, key
generation, SQLite) off the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.worker import Worker, WorkerState


class ServiceCalls:
    """Mixin for screens and modals that call the Kms service."""

    @property
    def kms(self):
        return self.app.kms

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        then: Callable[[Any], None] | None = None,
        failed: Callable[[BaseException], bool | None] | None = None,
        group: str = "service",
        exclusive: bool = True,
        **kwargs: Any,
    ) -> Worker:
        """Run ``fn(*args, **kwargs)`` in a thread worker; ``then(result)`` runs on the UI thread.

        ``failed(error)`` may handle an error itself (return True); otherwise the
        app shows it in the error modal.
        """
        worker = self.run_worker(
            partial(fn, *args, **kwargs), thread=True, exclusive=exclusive, group=group,
            exit_on_error=False, name=getattr(fn, "__name__", group),
        )
        self._handlers()[worker] = (then, failed)
        return worker

    def _handlers(self) -> dict:
        handlers = self.__dict__.get("_service_handlers")
        if handlers is None:
            handlers = self.__dict__["_service_handlers"] = {}
        return handlers

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        entry = self._handlers().get(event.worker)
        if entry is None or event.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        del self._handlers()[event.worker]
        then, failed = entry
        if event.state == WorkerState.SUCCESS and then is not None:
            then(event.worker.result)
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            if failed is None or not failed(error):
                self.app.show_error(error)
