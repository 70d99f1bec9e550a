"""The audit service (``kms.audit``): the hash-chained log of every change, read and checked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from engines import keys as K
from engines.errors import InvalidInput
from store import AuditCheck, AuditRow

from . import key_uris
from .core import ServiceContext
from .errors import KeyNotFound, Service


@dataclass(frozen=True)
class AuditKey:
    """One key record the log speaks of: where, which key, what it is called, whether it is still recorded."""

    engine_id: str
    key_id: str
    name: str | None
    recorded: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class AuditService(Service):
    """Reads the audit log and verifies its hash chain; rows are written by the other services."""

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def rows(self, limit: int = 100, offset: int = 0, *, key_id: str | None = None, engine_id: str | None = None,
             action: str | None = None, keys: Iterable[tuple[str, str]] | None = None,
             newest_first: bool = True) -> list[AuditRow]:
        """Audit rows of one key, engine or action (or all), newest first unless ``newest_first`` is False.

        ``keys`` keeps the rows of these (engine id, key id) records, as ``keys_known_as`` finds them.
        Each row carries its key's name beside its id (``key_name``).
        """
        return self._ctx.store.audit.list(limit, offset, key_id=key_id, engine_id=engine_id, action=action,
                                          keys=keys, newest_first=newest_first)

    def keys_known_as(self, ref: str) -> list[AuditKey]:
        """Every key record ``ref`` names, in the log or now: a key id (on each engine), a name or alias it
        has or had, a PKCS#11 URI. Deleted keys too. Ordered by engine; ``KeyNotFound`` when none."""
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidInput("A key reference is needed: a key id, alias, name or pkcs11: URI.")
        pairs = self._pairs(ref.strip())
        if not pairs:
            shown = key_uris.shown(ref) if ref[:7].lower() == "pkcs11:" else repr(ref if len(ref) <= 80 else ref[:77] + "...")
            raise KeyNotFound(f"No key is or was known as {shown}: no record and no audit row names it.",
                              hint="A key id, a name or alias it had, or a pkcs11: URI.")
        return [self._audit_key(engine_id, key_id) for engine_id, key_id in sorted(pairs)]

    def _pairs(self, ref: str) -> set[tuple[str, str]]:
        store = self._ctx.store
        if K.is_key_id(ref.lower()):
            key_id = ref.lower()
            return ({(r.engine_id, key_id) for r in store.keys_by_key_id(key_id)}
                    | {(engine_id, key_id) for engine_id in store.audit.engines_of(key_id)})
        live = [*(key_uris.find(store, ref) if ref[:7].lower() == "pkcs11:" else ()),
                store.key_by_alias(ref), store.key_by_name(ref)]
        return {(r.engine_id, r.key_id) for r in live if r is not None} | set(store.audit.known_as(ref))

    def _audit_key(self, engine_id: str, key_id: str) -> AuditKey:
        store = self._ctx.store
        recorded = any(r.engine_id == engine_id for r in store.keys_by_key_id(key_id))
        return AuditKey(engine_id, key_id, store.audit.name_of(engine_id, key_id), recorded)

    def verify(self) -> AuditCheck:
        """Check the hash chain of the whole log; where it breaks, if it does."""
        return self._ctx.store.audit.verify()
