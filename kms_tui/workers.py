"""Service calls from screens, modals and wizards: run in thread workers, results handled on the UI thread.

A node asks ``self.call(fn, *args, then=handler)``: ``fn`` (a Kms method)
runs in a thread worker and never touches a widget; when it returns, ``handler``
gets the result on the UI thread. A failure goes to the app's one error handler,
which shows it in a modal. This keeps every blocking call (engine I/O, key
generation, SQLite) off the UI thread. ``fn``'s arguments are positional, so a
type checker ties them to ``fn`` and ``fn``'s result to ``then``; keyword
arguments go in with ``functools.partial``.

The Kms opens behind the first frame (``opening.py``): ``self.kms`` is there
once ``kms_ready``, so a screen runs its first load through ``when_ready``,
which says "Opening…" in the meantime.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, TypeVarTuple, cast

from textual.worker import Worker, WorkerState

from .opening import KmsState

if TYPE_CHECKING:
    from textual.screen import Screen

    from .app import KmsApp
    from .service import Kms

    _Node = Screen[Any]  # what the mixin is mixed into (modals are screens too)
else:
    _Node = object

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
Failed = Callable[[BaseException], "bool | None"]


class ServiceCalls(_Node):
    """Mixin for screens and modals that call the Kms service."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._service_handlers: dict[Worker[Any], tuple[Callable[[Any], object] | None, Failed | None]] = {}
        self._waiting_loads: dict[Callable[[], object], Callable[[str], object] | None] = {}

    @property
    def kms_app(self) -> KmsApp:
        return cast("KmsApp", self.app)

    @property
    def kms(self) -> Kms:
        """The service; there only once ``kms_ready`` (first loads wait for it with ``when_ready``)."""
        return self.kms_app.kms

    @property
    def kms_ready(self) -> bool:
        return self.kms_app.kms_ready

    # --- waiting for the service to open ------------------------------------------

    def when_ready(self, load: Callable[[], object], show: Callable[[str], object] | None = None) -> None:
        """Run ``load`` now if the service is open, else once it opens; meanwhile ``show`` gets the note.

        ``show`` is given "Opening…", or why nothing will load when opening failed.
        A load already waiting is not queued twice.
        """
        if self.kms_ready:
            load()
            return
        self._waiting_loads[load] = show
        self.watch(self.kms_app, "kms_state", self._kms_state_changed, init=False)  # once per node
        if show is not None:
            show(self.kms_app.kms_state.note)

    def _kms_state_changed(self, state: KmsState) -> None:
        if state is KmsState.OPEN:
            loads, self._waiting_loads = list(self._waiting_loads), {}
            for load in loads:
                load()
            return
        for show in self._waiting_loads.values():
            if show is not None:
                show(state.note)

    # --- calls ------------------------------------------------------------------------

    def call(
        self,
        fn: Callable[[*Ts], T],
        *args: *Ts,
        then: Callable[[T], object] | None = None,
        failed: Failed | None = None,
        group: str = "service",
        exclusive: bool = True,
    ) -> Worker[T]:
        """Run ``fn(*args)`` in a thread worker; ``then(result)`` runs on the UI thread.

        ``failed(error)`` may handle an error itself (return True); otherwise the
        app shows it in the error modal.
        """
        name = getattr(getattr(fn, "func", fn), "__name__", group)  # a partial is named after its function
        worker: Worker[T] = self.run_worker(
            partial(fn, *args), thread=True, exclusive=exclusive, group=group, exit_on_error=False, name=name,
        )
        self._service_handlers[worker] = (then, failed)
        return worker

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        entry = self._service_handlers.get(event.worker)
        if entry is None or event.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        del self._service_handlers[event.worker]
        then, failed = entry
        if event.state == WorkerState.SUCCESS and then is not None:
            then(event.worker.result)
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            assert error is not None
            if failed is None or not failed(error):
                self.kms_app.show_error(error)
