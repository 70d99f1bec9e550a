"""The Kms facade: the one place that uses the engines and the store together.

Both front ends (the Textual app and the headless CLI) call this and nothing
below it. It never imports Textual. Methods block (engine I/O, key generation,
SQLite): the TUI calls them from thread workers.
"""

from __future__ import annotations

from .core import DEFAULT_ENGINE_ID, SecretPrompt, SecretRequest
from .deletion import DeletionOps, ExpiredKey
from .doctor import DoctorOps, DoctorReport, Finding
from .engine_ops import EngineCheck, EngineOps, EngineRemoval, EngineView
from .engine_secrets import LOCATIONS as SECRET_LOCATIONS
from .inventory import InventoryOps, SyncReport
from .signing import BatchSummary


class Kms(DoctorOps, DeletionOps, InventoryOps, EngineOps):
    """Every operation of the workstation (DESIGN §3)."""


__all__ = [
    "BatchSummary", "DEFAULT_ENGINE_ID", "EngineRemoval", "SECRET_LOCATIONS", "DoctorReport", "ExpiredKey", "EngineCheck", "Finding", "EngineView", "Kms", "SecretPrompt", "SecretRequest", "SyncReport",
]
