"""Key rows and their aliases: add, look up, edit, delete.

Mixed into ``Store``; relies on ``self._conn``. A name or alias is a
reference an operator types, so the two share one namespace: no alias may
equal any key's name, and no name any alias. The denormalised ``bound`` and
``search`` columns are recomputed on every write that could change them.
"""

from __future__ import annotations

import json
from typing import Any

from .connection import Connection
from .errors import Conflict, InvalidValue, NotFound
from .models import KeyRecord
from .records import (
    KEY_COLUMNS,
    binding_count,
    check_metadata,
    check_status,
    check_strength,
    key_from_row,
    to_json,
    utc_now,
)
from .schema import search_text
from .validation import check_tags, check_text, clean

KEY_FIELDS = ("name", "tags", "metadata", "status", "state", "native_ref", "pkcs11_uri")


def _optional_str(value: object, what: str) -> str | None:
    """Engine-given references are kept byte for byte (a label may end in a blank)."""
    if value is not None and not isinstance(value, str):
        raise InvalidValue(f"The {what} must be text, not {type(value).__name__}.")
    return value


class KeyRepository:
    _conn: Connection

    # ------------------------------------------------------------ reading
    def _records(self, rows: list[dict[str, Any]]) -> list[KeyRecord]:
        """Records for key rows, with their aliases fetched in one query."""
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        aliases: dict[int, list[str]] = {}
        for found in self._conn.rows(
            "SELECT key_rowid, alias FROM aliases WHERE key_rowid IN (SELECT value FROM json_each(?))",
            [to_json(ids, "id list")],
        ):
            aliases.setdefault(found["key_rowid"], []).append(found["alias"])
        return [key_from_row(row, aliases.get(row["id"], [])) for row in rows]

    def _select(self, where: str, params: list[Any]) -> list[KeyRecord]:
        return self._records(self._conn.rows(f"SELECT {KEY_COLUMNS} FROM keys WHERE {where}", params))

    def _first(self, where: str, params: list[Any]) -> KeyRecord | None:
        found = self._select(where, params)
        return found[0] if found else None

    def _rowid(self, engine_id: str, key_id: str) -> int:
        rowid: int | None = self._conn.scalar(
            "SELECT id FROM keys WHERE engine_id = ? AND key_id = ?", [engine_id, key_id]
        )
        if rowid is None:
            elsewhere = [r.engine_id for r in self.keys_by_key_id(key_id)]
            hint = f"It is recorded on: {', '.join(elsewhere)}." if elsewhere else None
            raise NotFound(f"No key {key_id} on engine '{engine_id}'.", hint=hint)
        return rowid

    def get_key(self, engine_id: str, key_id: str) -> KeyRecord:
        with self._conn.snapshot():  # no other process may delete it between the two reads
            return self._select("id = ?", [self._rowid(engine_id, key_id)])[0]

    def keys_by_key_id(self, key_id: str) -> list[KeyRecord]:
        """Every record of this key id (the same key may live on two engines)."""
        return self._select("key_id = ? ORDER BY engine_id", [key_id])

    def key_by_name(self, name: str) -> KeyRecord | None:
        return self._first("name = ?", [clean(name)])

    def key_by_alias(self, alias: str) -> KeyRecord | None:
        return self._first("id = (SELECT key_rowid FROM aliases WHERE alias = ?)", [clean(alias)])

    def key_by_native_ref(self, engine_id: str, ref: str) -> KeyRecord | None:
        return self._first("engine_id = ? AND native_ref = ? ORDER BY id", [engine_id, ref])

    def key_by_pkcs11_uri(self, uri: str) -> KeyRecord | None:
        return self._first("pkcs11_uri = ? ORDER BY id", [uri])

    # ------------------------------------------------------------ uniqueness
    def _check_name_free(self, name: str, own_rowid: int | None = None) -> None:
        row = self._conn.row("SELECT id, key_id, engine_id FROM keys WHERE name = ?", [name])
        if row is not None and row["id"] != own_rowid:
            raise Conflict(
                f"A key named '{name}' already exists (key {row['key_id']} on engine '{row['engine_id']}').",
                hint="Key names are unique on this workstation; choose another name.",
            )
        owner = self._conn.scalar(
            "SELECT k.name FROM aliases a JOIN keys k ON k.id = a.key_rowid WHERE a.alias = ?", [name]
        )
        if owner is not None:
            raise Conflict(
                f"'{name}' is already an alias of key '{owner}'.",
                hint="Names and aliases share one namespace; choose another name.",
            )

    def _check_alias_free(self, alias: str, own_name: str) -> None:
        owner = self._conn.scalar(
            "SELECT k.name FROM aliases a JOIN keys k ON k.id = a.key_rowid WHERE a.alias = ?", [alias]
        )
        if owner is not None:
            raise Conflict(f"The alias '{alias}' already belongs to key '{owner}'.")
        named = (
            own_name
            if alias == own_name
            else self._conn.scalar("SELECT name FROM keys WHERE name = ?", [alias])
        )
        if named is not None:
            raise Conflict(
                f"'{alias}' is the name of key '{named}'; an alias may not repeat a key name.",
                hint="Choose another alias.",
            )

    def _refresh_derived(self, rowid: int) -> None:
        """Recompute the search column from the row's name, aliases and tags."""
        row = self._conn.row("SELECT name, tags FROM keys WHERE id = ?", [rowid])
        assert row is not None  # callers hold the transaction that found this row
        aliases = [
            r["alias"] for r in self._conn.rows("SELECT alias FROM aliases WHERE key_rowid = ?", [rowid])
        ]
        haystack = search_text(row["name"], sorted(aliases), json.loads(row["tags"] or "[]"))
        self._conn.execute("UPDATE keys SET search = ? WHERE id = ?", [haystack, rowid])

    # ------------------------------------------------------------ writing
    def add_key(self, rec: KeyRecord) -> KeyRecord:
        """Record a key and its aliases; return it as stored."""
        name = check_text(rec.name, "key name")
        key_id = check_text(rec.key_id, "key id")
        algorithm = check_text(rec.algorithm, "algorithm")
        if isinstance(rec.size, bool) or not isinstance(rec.size, int) or rec.size < 0:
            raise InvalidValue(f"The key size must be a non-negative whole number, not {rec.size!r}.")
        strength = check_strength(rec.strength)
        tags = check_tags(rec.tags)
        metadata = check_metadata(rec.metadata)
        status = check_status(rec.status)
        aliases = list(dict.fromkeys(check_text(a, "alias") for a in rec.aliases))
        public_key = _optional_str(rec.public_key, "public key") or ""
        refs = {
            f: _optional_str(getattr(rec, f), f.replace("_", " "))
            for f in ("native_ref", "pkcs11_uri", "state")
        }
        with self._conn.transaction() as db:
            if self._conn.scalar("SELECT 1 FROM engines WHERE id = ?", [rec.engine_id]) is None:
                raise self._engine_not_found(rec.engine_id)  # type: ignore[attr-defined]
            existing = self._conn.scalar(
                "SELECT name FROM keys WHERE engine_id = ? AND key_id = ?", [rec.engine_id, key_id]
            )
            if existing is not None:
                raise Conflict(
                    f"Key {key_id} is already recorded on engine '{rec.engine_id}' as '{existing}'.",
                    hint="Update that record instead of adding it again.",
                )
            self._check_name_free(name)
            for alias in aliases:
                self._check_alias_free(alias, name)
            cursor = db.execute(
                "INSERT INTO keys (key_id, engine_id, name, algorithm, size, strength, has_private_key, "
                "public_key, native_ref, pkcs11_uri, creation_ts, tags, metadata, bound, status, state, search) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    key_id,
                    rec.engine_id,
                    name,
                    algorithm,
                    rec.size,
                    strength,
                    int(bool(rec.has_private_key)),
                    public_key,
                    refs["native_ref"],
                    refs["pkcs11_uri"],
                    rec.creation_ts or utc_now(),
                    to_json(tags, "tags"),
                    to_json(metadata, "key metadata"),
                    binding_count(metadata),
                    status,
                    refs["state"],
                    search_text(name, sorted(aliases), tags),
                ],
            )
            rowid = cursor.lastrowid
            for alias in aliases:
                db.execute("INSERT INTO aliases (alias, key_rowid) VALUES (?, ?)", [alias, rowid])
            return self._select("id = ?", [rowid])[0]

    def update_key(self, engine_id: str, key_id: str, **fields: Any) -> KeyRecord:
        """Change some of name, tags, metadata, status, state, native_ref, pkcs11_uri."""
        unknown = set(fields) - set(KEY_FIELDS)
        if unknown:
            raise InvalidValue(
                f"Cannot update key field(s): {', '.join(sorted(unknown))}.",
                hint="Updatable: " + ", ".join(KEY_FIELDS) + "; aliases have their own calls.",
            )
        values: dict[str, Any] = {}
        if "name" in fields:
            values["name"] = check_text(fields["name"], "key name")
        if "tags" in fields:
            values["tags"] = to_json(check_tags(fields["tags"]), "tags")
        if "metadata" in fields:
            metadata = check_metadata(fields["metadata"])
            values["metadata"] = to_json(metadata, "key metadata")
            values["bound"] = binding_count(metadata)
        if "status" in fields:
            values["status"] = check_status(fields["status"])
        for field in ("state", "native_ref", "pkcs11_uri"):
            if field in fields:
                values[field] = _optional_str(fields[field], field.replace("_", " "))
        with self._conn.transaction() as db:
            rowid = self._rowid(engine_id, key_id)
            if "name" in values:
                self._check_name_free(values["name"], own_rowid=rowid)
            if values:
                assignments = ", ".join(f"{column} = ?" for column in values)  # columns from KEY_FIELDS only
                db.execute(f"UPDATE keys SET {assignments} WHERE id = ?", [*values.values(), rowid])
                if "name" in values or "tags" in values:
                    self._refresh_derived(rowid)
            return self._select("id = ?", [rowid])[0]

    def delete_key(self, engine_id: str, key_id: str) -> None:
        with self._conn.transaction() as db:
            db.execute("DELETE FROM keys WHERE id = ?", [self._rowid(engine_id, key_id)])

    # ------------------------------------------------------------ aliases
    def add_alias(self, engine_id: str, key_id: str, alias: str) -> KeyRecord:
        """Give a key one more alias; return the key."""
        alias = check_text(alias, "alias")
        with self._conn.transaction() as db:
            rowid = self._rowid(engine_id, key_id)
            own_name = self._conn.scalar("SELECT name FROM keys WHERE id = ?", [rowid])
            self._check_alias_free(alias, own_name)
            db.execute("INSERT INTO aliases (alias, key_rowid) VALUES (?, ?)", [alias, rowid])
            self._refresh_derived(rowid)
            return self._select("id = ?", [rowid])[0]

    def move_aliases(self, engine_id: str, key_id: str, to_engine_id: str, to_key_id: str,
                     metadata: dict[str, Any] | None = None,
                     to_metadata: dict[str, Any] | None = None) -> list[str]:
        """Move every alias of one key to another in one transaction; return the aliases moved.

        ``metadata`` / ``to_metadata``, when given, replace the two keys' metadata in the same
        transaction: either every alias is on the new key with both metadata written, or nothing
        changed (an alias is on exactly one key at every moment).
        """
        values = [None if m is None else check_metadata(m) for m in (metadata, to_metadata)]
        with self._conn.transaction() as db:
            rowid, to_rowid = self._rowid(engine_id, key_id), self._rowid(to_engine_id, to_key_id)
            if rowid == to_rowid:
                raise InvalidValue("A key's aliases cannot move to the same key.")
            moved = [r["alias"] for r in self._conn.rows(
                "SELECT alias FROM aliases WHERE key_rowid = ? ORDER BY alias", [rowid])]
            db.execute("UPDATE aliases SET key_rowid = ? WHERE key_rowid = ?", [to_rowid, rowid])
            for row, value in zip((rowid, to_rowid), values, strict=True):
                if value is not None:
                    db.execute("UPDATE keys SET metadata = ?, bound = ? WHERE id = ?",
                               [to_json(value, "key metadata"), binding_count(value), row])
                self._refresh_derived(row)
            return moved

    def remove_alias(self, alias: str) -> KeyRecord:
        """Drop an alias; return the key that had it."""
        with self._conn.transaction() as db:
            rowid = self._conn.scalar("SELECT key_rowid FROM aliases WHERE alias = ?", [alias])
            if rowid is None:
                raise NotFound(f"No alias '{alias}'.")
            db.execute("DELETE FROM aliases WHERE alias = ?", [alias])
            self._refresh_derived(rowid)
            return self._select("id = ?", [rowid])[0]
