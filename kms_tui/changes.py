"""The screens follow the database: a change made anywhere reaches the visible screen as ``DatabaseChanged``.

The CLI, another workstation on the same data directory, or this app's own
workers may commit at any time. ``DatabaseWatch`` looks at the database's
version (``kms.inventory.data_version()``, a few microseconds, no lock shared
with the workers) on the app's timer; when it moved, the visible screen gets a
``DatabaseChanged`` message and reloads in place (its cursor and filter kept).
Screens not shown reload when they are shown again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from .service import Kms

WATCH_INTERVAL = 0.5  # seconds between two looks: a change shows within a second


class DatabaseChanged(Message):
    """Something committed to the database since the last look: the visible screen reloads what it shows."""


class DatabaseWatch:
    """Remembers the last version seen and tells whether it has moved since."""

    def __init__(self, kms: Callable[[], Kms | None]) -> None:
        self._kms = kms
        self._seen: int | None = None

    def changed(self) -> bool:
        """True when the database changed since the last call (never on the first look)."""
        kms = self._kms()
        if kms is None:
            return False
        version = kms.inventory.data_version()
        if version is None:
            return False  # busy or closed: looked at again next time
        moved = self._seen is not None and version != self._seen
        self._seen = version
        return moved
