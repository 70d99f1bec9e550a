"""Engine rows: register, look up, edit, remove, and the one default engine.

Mixed into ``Store``; relies on ``self._conn`` (a ``Connection``). The store
only records engines: whether removing one that still has keys is allowed is
the caller's decision.
"""

from __future__ import annotations

from typing import Any

from .connection import Connection
from .errors import Conflict, InvalidValue, NotFound
from .models import EngineRecord
from .records import ENGINE_COLUMNS, engine_from_row, to_json, utc_now
from .validation import check_text

ENGINE_FIELDS = ("type", "name", "provider", "security_level", "config", "has_secret", "supported_key_types")


def _engine_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Validated column values for the given EngineRecord fields."""
    values: dict[str, Any] = {}
    for field, value in fields.items():
        if field == "name":
            values["name"] = check_text(value, "engine name")
        elif field in ("type", "provider"):
            values[field] = check_text(value, f"engine {field}")
        elif field == "security_level":
            if isinstance(value, bool) or value not in (0, 1, 2):
                raise InvalidValue(f"Unknown security level {value!r}.", hint="Use 0, 1 or 2.")
            values[field] = int(value)
        elif field in ("config", "supported_key_types"):
            if not isinstance(value, dict):
                raise InvalidValue(f"The engine {field} must be a mapping, not {type(value).__name__}.")
            values[field] = to_json(value, f"engine {field}")
        elif field == "has_secret":
            values[field] = int(bool(value))
    return values


class EngineRepository:
    _conn: Connection

    def _engine_row(self, engine_id: str) -> dict[str, Any] | None:
        return self._conn.row(f"SELECT {ENGINE_COLUMNS} FROM engines WHERE id = ?", [engine_id])

    def _engine_not_found(self, engine_id: str) -> NotFound:
        known = [row["id"] for row in self._conn.rows("SELECT id FROM engines ORDER BY id")]
        hint = f"Known engines: {', '.join(known)}." if known else "No engine is registered yet."
        return NotFound(f"No engine with id '{engine_id}'.", hint=hint)

    def add_engine(self, rec: EngineRecord) -> EngineRecord:
        engine_id = check_text(rec.id, "engine id")
        values = _engine_values({field: getattr(rec, field) for field in ENGINE_FIELDS})
        with self._conn.transaction() as db:
            if self._engine_row(engine_id) is not None:
                raise Conflict(
                    f"An engine with id '{engine_id}' is already registered.",
                    hint="Choose another id, or update the existing engine.",
                )
            # The first engine ever becomes the default, so "no engine named" always resolves.
            first = db.execute("SELECT COUNT(*) FROM engines").fetchone()[0] == 0
            make_default = first or rec.is_default
            if make_default:
                db.execute("UPDATE engines SET is_default = 0 WHERE is_default = 1")
            db.execute(
                "INSERT INTO engines (id, type, name, provider, security_level, config, is_default, "
                "has_secret, supported_key_types, created_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    engine_id,
                    values["type"],
                    values["name"],
                    values["provider"],
                    values["security_level"],
                    values["config"],
                    int(make_default),
                    values["has_secret"],
                    values["supported_key_types"],
                    rec.created_ts or utc_now(),
                ],
            )
            return self.get_engine(engine_id)

    def get_engine(self, engine_id: str) -> EngineRecord:
        row = self._engine_row(engine_id)
        if row is None:
            raise self._engine_not_found(engine_id)
        return engine_from_row(row)

    def list_engines(self) -> list[EngineRecord]:
        """Every engine, the default first, then by id."""
        rows = self._conn.rows(f"SELECT {ENGINE_COLUMNS} FROM engines ORDER BY is_default DESC, id")
        return [engine_from_row(row) for row in rows]

    def update_engine(self, engine_id: str, **fields: Any) -> EngineRecord:
        """Change some of type, name, provider, security_level, config, has_secret, supported_key_types."""
        unknown = set(fields) - set(ENGINE_FIELDS)
        if unknown:
            hint = "Use set_default_engine() to change the default." if "is_default" in unknown else None
            raise InvalidValue(
                f"Cannot update engine field(s): {', '.join(sorted(unknown))}.",
                hint=hint or "Updatable: " + ", ".join(ENGINE_FIELDS) + ".",
            )
        values = _engine_values(fields)
        with self._conn.transaction() as db:
            if self._engine_row(engine_id) is None:
                raise self._engine_not_found(engine_id)
            if values:
                assignments = ", ".join(f"{column} = ?" for column in values)  # names from ENGINE_FIELDS only
                db.execute(f"UPDATE engines SET {assignments} WHERE id = ?", [*values.values(), engine_id])
            return self.get_engine(engine_id)

    def remove_engine(self, engine_id: str) -> int:
        """Remove the engine and its key rows (not the keys in the backend); return how many keys went.

        If it was the default, the engine with the lowest id becomes the default.
        """
        with self._conn.transaction() as db:
            row = self._engine_row(engine_id)
            if row is None:
                raise self._engine_not_found(engine_id)
            removed: int = db.execute("SELECT COUNT(*) FROM keys WHERE engine_id = ?", [engine_id]).fetchone()[0]
            db.execute("DELETE FROM engines WHERE id = ?", [engine_id])  # keys and aliases cascade
            if row["is_default"]:
                db.execute("UPDATE engines SET is_default = 1 WHERE id = (SELECT MIN(id) FROM engines)")
        return removed

    def set_default_engine(self, engine_id: str) -> EngineRecord:
        with self._conn.transaction() as db:
            if self._engine_row(engine_id) is None:
                raise self._engine_not_found(engine_id)
            db.execute("UPDATE engines SET is_default = 0 WHERE is_default = 1 AND id != ?", [engine_id])
            db.execute("UPDATE engines SET is_default = 1 WHERE id = ?", [engine_id])
            return self.get_engine(engine_id)

    def default_engine(self) -> EngineRecord | None:
        row = self._conn.row(f"SELECT {ENGINE_COLUMNS} FROM engines WHERE is_default = 1")
        return engine_from_row(row) if row else None

    def count_keys_by_engine(self) -> dict[str, int]:
        """Keys recorded per engine; every engine appears, with 0 if it has none."""
        rows = self._conn.rows(
            "SELECT e.id AS id, COUNT(k.id) AS n FROM engines e LEFT JOIN keys k ON k.engine_id = e.id "
            "GROUP BY e.id ORDER BY e.id"
        )
        return {row["id"]: row["n"] for row in rows}
