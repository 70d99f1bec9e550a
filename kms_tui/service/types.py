"""The records, queries and key-material helpers the front ends use, as the service hands them out.

Screens, wizards, dialogs, the CLI and ceremonies import from here (and from
``kms_tui.service``, ``.algorithms`` and ``.errors``), never from ``store`` or
``engines``: the service is their one boundary, and the layer contracts in
pyproject.toml hold them to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import engines
from engines.keys import MAX_KEY_FILE_BYTES, load_public_pem, natural_algorithm, spki_der, verify_with
from store import BINDINGS_KEY, AuditCheck, AuditRow, CredentialStore, EngineRecord, KeyQuery, KeyRecord
from store import resolve_data_dir as _resolve_data_dir
from store import validation as _validation
from store.validation import MAX_COUNT

from .errors import UnknownEngineType, user_errors


def parse_json_object(text: str, what: str = "key metadata") -> dict[str, Any]:
    """``text`` as a JSON object within the store's bounds, or ``InvalidValue`` (a ``KmsError``) saying why."""
    with user_errors():
        return _validation.parse_json_object(text, what)


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``explicit``, else ``$KMS_TUI_DATA_DIR``, else XDG."""
    with user_errors():
        return _resolve_data_dir(explicit)


def is_engine_type(name: str) -> bool:
    """True for a built-in engine type and for one an installed package adds (entry point)."""
    try:
        engines.engine_type(name)
    except UnknownEngineType:
        return False
    return True


class EngineTypeNames:
    """The engine types as argparse ``choices``: lists the built-ins, accepts an added one too."""

    def __iter__(self) -> Iterator[str]:
        return iter(engines.ENGINE_TYPES)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and is_engine_type(name)


__all__ = [
    "BINDINGS_KEY", "MAX_COUNT", "MAX_KEY_FILE_BYTES", "AuditCheck", "AuditRow", "CredentialStore", "EngineRecord",
    "EngineTypeNames", "KeyQuery", "KeyRecord", "is_engine_type", "load_public_pem",
    "natural_algorithm", "parse_json_object", "resolve_data_dir", "spki_der", "verify_with",
]
