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

    def backup_problem(self, engine_id: str, algorithm: str, *, restore: bool = False) -> str | None:
        """Why a key of ``algorithm`` in this engine could not be wrapped for a backup (``restore``: unwrapped
        into it), asked before any key is made; None when nothing stands in the way."""
        import engines

        record = self._ctx.store.get_engine(engine_id)
        driver = engines.driver_class(record.type)
        if not driver.BACKUP_WRAP:
            return (f"engine {record.id!r} ({driver.DISPLAY}) never lets key material "
                    f"{'in' if restore else 'out'}, not even wrapped")
        if record.type != "PKCS11":
            return None
        from engines.pkcs11.module import load_module
        from engines.pkcs11.wrapping import check_algorithm

        module = record.config.get("module") or ""
        try:
            check_algorithm(load_module(module), algorithm, f"token {record.config.get('token')!r} of module "
                            f"{module}", restore=restore)
        except KmsError as exc:
            return exc.message
        return None

    def needs_officer(self, engine_id: str) -> bool:
        """A backup wrap on this engine needs its security officer's PIN (PKCS#11)."""
        import engines

        return bool(engines.driver_class(self._ctx.store.get_engine(engine_id).type).BACKUP_NEEDS_OFFICER)

    def officer_problem(self, engine_id: str, pin: str) -> str | None:
        """Why ``pin`` would not log the security officer in to the engine's token, tried now, before a
        ceremony makes anything; None when it logs in (or the try cannot tell: another session of this
        process is open on the module, or anything but the PIN fails, which the wrap itself then reports)."""
        record = self._ctx.store.get_engine(engine_id)
        if record.type != "PKCS11":
            return None
        from engines.pkcs11.module import load_module

        module = load_module(record.config.get("module") or "")
        with module.lock:
            if module.sessions:
                return None
            info = module.find(record.config.get("token"), record.config.get("serial"))
            try:
                session = info.token.open(rw=True, so_pin=pin)
            except Exception as exc:
                names = {cls.__name__ for cls in type(exc).__mro__}
                if "PinLocked" in names:
                    return f"the security officer PIN of token {info.label!r} is locked"
                if names & {"PinIncorrect", "PinInvalid", "PinLenRange"}:
                    return f"the security officer PIN of token {info.label!r} was refused"
                return None
            session.close()
        return None

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
