"""The ceremony service (``kms.ceremony``): what a key ceremony reads about its engine.

A ceremony checks that the registered engine is the script's (type, PKCS#11 module,
token) and describes it in the transcript (module, token label, serial, model and
manufacturer, as the module reports them). The ceremony package reads those facts
here, never a store record or a driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .core import ServiceContext
from .engine_ops import EngineService
from .errors import KmsError, Service


@dataclass(frozen=True)
class CeremonyEngine:
    """A registered engine as a ceremony checks and describes it."""

    id: str
    type: str
    module: str | None = None  # PKCS#11: the module's path as registered
    token: str | None = None  # PKCS#11: the token label as registered
    serial: str | None = None  # PKCS#11: the token serial as registered


class CeremonyService(Service):
    """Engine facts for ceremonies; the ceremony steps themselves use the key and signing services."""

    def __init__(self, context: ServiceContext, engines: EngineService) -> None:
        self._ctx = context
        self._engines = engines

    def engine(self, engine_id: str) -> CeremonyEngine:
        """The registered engine (``store.errors.NotFound`` when there is none)."""
        record = self._ctx.store.get_engine(engine_id)
        config = record.config
        return CeremonyEngine(record.id, record.type, config.get("module"), config.get("token"), config.get("serial"))

    def token(self, engine: CeremonyEngine) -> dict[str, Any] | None:
        """The token the engine's PKCS#11 module reports for its label or serial (label, serial, model,
        manufacturer); None when it is not a PKCS#11 engine, the module cannot be asked, or none matches."""
        if engine.type != "PKCS11" or engine.module is None:
            return None
        try:
            tokens = self._engines.option_choices("PKCS11", {"module": engine.module}).get("token", [])
        except KmsError:
            return None
        return next((t for t in tokens if t["label"] == engine.token or t["serial"] == engine.serial), None)
