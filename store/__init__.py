"""kms-tui's local state: SQLite metadata, OS-keyring credentials, audit log.

``Store`` keeps engines, keys, aliases and the hash-chained audit log in
``<data dir>/kms.db``; ``CredentialStore`` keeps engine secrets in the OS
keyring (or, on request, in memory for this process only). This package never
imports ``textual``, ``kms_tui`` or ``engines``; the service layer joins them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the lazy names below are, for type checkers
    from .audit import AuditLog
    from .credentials import CredentialStore
    from .db import Store
    from .errors import (
        Conflict,
        CredentialsUnavailable,
        DatabaseError,
        InvalidValue,
        NotFound,
        SchemaTooNew,
        StoreError,
        UntrustedPath,
    )
    from .models import BINDINGS_KEY, AuditCheck, AuditRow, CertRecord, EngineRecord, KeyQuery, KeyRecord
    from .paths import ensure_private_dir, resolve_data_dir

# Names are imported on first use (PEP 562): ``from store import KeyQuery`` or
# ``store.errors`` must not pay for SQLite and sqlite-utils, which the TUI opens
# only after its first frame.
_WHERE = {
    "AuditLog": ".audit",
    "CredentialStore": ".credentials",
    "Store": ".db",
    "Conflict": ".errors",
    "CredentialsUnavailable": ".errors",
    "DatabaseError": ".errors",
    "InvalidValue": ".errors",
    "NotFound": ".errors",
    "SchemaTooNew": ".errors",
    "StoreError": ".errors",
    "UntrustedPath": ".errors",
    "BINDINGS_KEY": ".models",
    "AuditCheck": ".models",
    "AuditRow": ".models",
    "CertRecord": ".models",
    "EngineRecord": ".models",
    "KeyQuery": ".models",
    "KeyRecord": ".models",
    "ensure_private_dir": ".paths",
    "resolve_data_dir": ".paths",
}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'store' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "BINDINGS_KEY",
    "AuditCheck",
    "AuditLog",
    "AuditRow",
    "CertRecord",
    "Conflict",
    "CredentialStore",
    "CredentialsUnavailable",
    "DatabaseError",
    "EngineRecord",
    "InvalidValue",
    "KeyQuery",
    "KeyRecord",
    "NotFound",
    "SchemaTooNew",
    "Store",
    "StoreError",
    "UntrustedPath",
    "ensure_private_dir",
    "resolve_data_dir",
]
