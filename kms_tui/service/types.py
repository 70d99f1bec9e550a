"""The records, queries and key-material helpers the front ends use, as the service hands them out.

Screens, wizards, dialogs, the CLI and ceremonies import from here (and from
``kms_tui.service``, ``.algorithms`` and ``.errors``), never from ``store`` or
``engines``: the service is their one boundary, and the layer contracts in
pyproject.toml hold them to it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engines.keys import load_public_pem, natural_algorithm, spki_der, verify_with
    from engines.limits import MAX_KEY_FILE_BYTES
    from store import BINDINGS_KEY, AuditCheck, AuditRow, CredentialStore, EngineRecord, KeyQuery, KeyRecord
    from store.validation import MAX_COUNT

# Each name is imported from its floor on first use (PEP 562): importing a record type does not
# load cryptography (engines.keys), nor the store's modules a command does not use.
_EXPORTS = {
    **dict.fromkeys(("load_public_pem", "natural_algorithm", "spki_der", "verify_with"), "engines.keys"),
    "MAX_KEY_FILE_BYTES": "engines.limits",
    **dict.fromkeys(("BINDINGS_KEY", "AuditCheck", "AuditRow", "CredentialStore", "EngineRecord", "KeyQuery",
                     "KeyRecord"), "store"),
    "MAX_COUNT": "store.validation",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def parse_json_object(text: str, what: str = "key metadata") -> dict[str, Any]:
    """``text`` as a JSON object within the store's bounds, or ``InvalidValue`` (a ``KmsError``) saying why."""
    from store import validation

    from .errors import user_errors

    with user_errors():
        return validation.parse_json_object(text, what)


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``explicit``, else ``$KMS_TUI_DATA_DIR``, else XDG."""
    from store import resolve_data_dir as resolve

    from .errors import user_errors

    with user_errors():
        return resolve(explicit)


def is_engine_type(name: str) -> bool:
    """True for a built-in engine type and for one an installed package adds (entry point)."""
    import engines

    from .errors import UnknownEngineType

    try:
        engines.engine_type(name)
    except UnknownEngineType:
        return False
    return True


class EngineTypeNames:
    """The engine types as argparse ``choices``: lists the built-ins, accepts an added one too."""

    def __iter__(self) -> Iterator[str]:
        import engines

        return iter(engines.ENGINE_TYPES)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and is_engine_type(name)


__all__ = [
    "BINDINGS_KEY", "MAX_COUNT", "MAX_KEY_FILE_BYTES", "AuditCheck", "AuditRow", "CredentialStore", "EngineRecord",
    "EngineTypeNames", "KeyQuery", "KeyRecord", "is_engine_type", "load_public_pem",
    "natural_algorithm", "parse_json_object", "resolve_data_dir", "spki_der", "verify_with",
]
