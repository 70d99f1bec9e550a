"""Conversions between table rows and the model records, and value helpers.

JSON columns are written canonically (sorted keys) so that equal values are
equal text; timestamps are UTC ISO-8601 with a ``Z``.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidValue
from .models import BINDINGS_KEY, EngineRecord, KeyRecord
from .validation import check_json_value

STRENGTHS = ("LOW", "MEDIUM", "HIGH")  # rank order, weakest first
KEY_STATUSES = ("ok", "missing")

ENGINE_COLUMNS = "id, type, name, provider, security_level, config, is_default, has_secret, supported_key_types, created_ts"
KEY_COLUMNS = (
    "id, key_id, engine_id, name, algorithm, size, strength, has_private_key, public_key, "
    "native_ref, pkcs11_uri, creation_ts, tags, metadata, status, state"
)


def utc_now() -> str:
    """Now, UTC, to the second: 'YYYY-MM-DDTHH:MM:SSZ'."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_json(value: Any, what: str) -> str:
    try:
        # allow_nan=False: SQLite's json() would refuse the row on every later read.
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidValue(f"The {what} cannot be stored as JSON ({exc}).") from None


def binding_count(metadata: dict[str, Any]) -> int:
    """How many bound resources the metadata lists (same rule as KeyRecord.bindings)."""
    value = metadata.get(BINDINGS_KEY) or []
    if not isinstance(value, list):
        return 0
    return sum(1 for item in value if isinstance(item, dict))


def engine_from_row(row: dict[str, Any]) -> EngineRecord:
    return EngineRecord(
        id=row["id"],
        type=row["type"],
        name=row["name"],
        provider=row["provider"],
        security_level=int(row["security_level"]),
        config=json.loads(row["config"] or "{}"),
        is_default=bool(row["is_default"]),
        has_secret=bool(row["has_secret"]),
        supported_key_types=json.loads(row["supported_key_types"] or "{}"),
        created_ts=row["created_ts"],
    )


def key_from_row(row: dict[str, Any], aliases: list[str]) -> KeyRecord:
    return KeyRecord(
        key_id=row["key_id"],
        engine_id=row["engine_id"],
        name=row["name"],
        algorithm=row["algorithm"],
        size=int(row["size"]),
        strength=row["strength"],
        has_private_key=bool(row["has_private_key"]),
        public_key=row["public_key"],
        native_ref=row["native_ref"],
        pkcs11_uri=row["pkcs11_uri"],
        creation_ts=row["creation_ts"],
        tags=json.loads(row["tags"] or "[]"),
        metadata=json.loads(row["metadata"] or "{}"),
        aliases=sorted(aliases),
        status=row["status"],
        state=row["state"],
    )


def check_key_row(row: dict[str, Any]) -> None:
    """Raise what ``key_from_row`` raises for a row it cannot read, without building the record.

    The same conversions that can fail (keep the two in step): its size a number, its tags and
    metadata JSON. Each distinct tags or metadata text is parsed once: many rows share them.
    """
    int(row["size"])
    _parses(row["tags"] or "[]")
    _parses(row["metadata"] or "{}")


@functools.lru_cache(maxsize=256)  # small: rows of large, distinct metadata must not make it hold megabytes
def _parses(text: str | bytes) -> bool:
    json.loads(text)  # what does not parse raises, and is never kept
    return True


def check_strength(value: object) -> str:
    text = str(value).upper()
    if text not in STRENGTHS:
        raise InvalidValue(
            f"Unknown key strength {value!r}.", hint="Use one of: " + ", ".join(STRENGTHS) + "."
        )
    return text


def check_status(value: object) -> str:
    if value not in KEY_STATUSES:
        raise InvalidValue(
            f"Unknown key status {value!r}.", hint="Use one of: " + ", ".join(KEY_STATUSES) + "."
        )
    return str(value)


def check_metadata(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue(f"Key metadata must be a JSON object, not {type(value).__name__}.")
    check_json_value(value, "key metadata")
    return value
