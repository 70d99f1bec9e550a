"""kms-tui's local state: SQLite metadata, OS-keyring credentials, audit log.

``Store`` keeps engines, keys, aliases and the hash-chained audit log in
``<data dir>/kms.db``; ``CredentialStore`` keeps engine secrets in the OS
keyring (or, on request, in memory for this process only). This package never
imports ``textual``, ``kms_tui`` or ``engines``; the service layer joins them.
"""

from __future__ import annotations

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
)
from .models import BINDINGS_KEY, AuditCheck, AuditRow, EngineRecord, KeyQuery, KeyRecord
from .paths import ensure_private_dir, resolve_data_dir

__all__ = [
    "BINDINGS_KEY",
    "AuditCheck",
    "AuditLog",
    "AuditRow",
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
    "ensure_private_dir",
    "resolve_data_dir",
]
