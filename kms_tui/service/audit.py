"""The audit service (``kms.audit``): the hash-chained log of every change, read and checked."""

from __future__ import annotations

from store import AuditCheck, AuditRow

from .core import ServiceContext
from .errors import Service


class AuditService(Service):
    """Reads the audit log and verifies its hash chain; rows are written by the other services."""

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def rows(self, limit: int = 100, offset: int = 0, *, key_id: str | None = None, engine_id: str | None = None,
             action: str | None = None, newest_first: bool = True) -> list[AuditRow]:
        """Audit rows of one key, engine or action (or all), newest first unless ``newest_first`` is False."""
        return self._ctx.store.audit.list(limit, offset, key_id=key_id, engine_id=engine_id, action=action,
                                          newest_first=newest_first)

    def verify(self) -> AuditCheck:
        """Check the hash chain of the whole log; where it breaks, if it does."""
        return self._ctx.store.audit.verify()
