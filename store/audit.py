"""The hash-chained audit log: every state change and signature, tamper-evident.

Each row's hash is ``sha256(prev_hash + canonical JSON of the row)``, so
altering a row breaks its own hash and removing one breaks the next row's
link. Removing rows at the end leaves no later link to break, so the last
row's ``seq:hash`` is also kept in ``meta.audit_head``, written in the same
transaction as the row. An attacker who can rewrite the whole file can
rewrite the whole chain too: this detects accidents and clumsy tampering, it
does not replace off-host copies.
"""

from __future__ import annotations

import builtins
import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .connection import Connection
from .errors import InvalidValue
from .models import AuditCheck, AuditRow
from .validation import check_count, check_text

GENESIS = "0" * 64
_COLUMNS = "seq, ts, action, engine_id, key_id, details, prev_hash, hash"
# The details fields by which a key row names its key, each with a partial index (schema v4):
# "name" (create, import, delete, engine actions), "from"/"to" (rename), "alias" (alias add/remove);
# and "aliases", the list a key had when it was created or deleted.
NAMING_FIELDS = ("name", "from", "to", "alias")
_NAMED = "key_id IS NOT NULL AND json_valid(details)"
Keys = Iterable[tuple[str, str]]  # (engine id, key id) records


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(
    prev_hash: str, seq: int, ts: str, action: str, engine_id: str | None, key_id: str | None, details: Any
) -> str:
    body = canonical_json(
        {"seq": seq, "ts": ts, "action": action, "engine_id": engine_id, "key_id": key_id, "details": details}
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rows_phrase(first: int, last: int) -> str:
    return f"row {first} was" if first == last else f"rows {first}-{last} were"


class AuditLog:
    """Append to, read and verify the audit chain of one Store."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def _head(self) -> tuple[int, str] | None:
        value = self._conn.scalar("SELECT value FROM meta WHERE key = 'audit_head'")
        if value is None:
            return None
        seq, _, digest = str(value).partition(":")
        try:
            return int(seq), digest
        except ValueError:
            return -1, digest  # unreadable head: verify() reports it as a mismatch

    def append(
        self,
        action: str,
        *,
        engine_id: str | None = None,
        key_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditRow:
        """Add one row. Inside an outer ``store.transaction()`` it commits with it."""
        action = check_text(action, "audit action")
        if details is not None and not isinstance(details, dict):
            raise InvalidValue(f"Audit details must be a mapping, not {type(details).__name__}.")
        try:
            # Round-trip so the returned row holds exactly what verify() will re-read.
            details_json = canonical_json(details or {})
        except (TypeError, ValueError) as exc:
            raise InvalidValue(f"The audit details cannot be stored as JSON ({exc}).") from None
        parsed = json.loads(details_json)
        with self._conn.transaction() as db:
            # Read under the write lock, so concurrent appenders form one chain.
            last = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            head = self._head()
            # Chain off the head when it is ahead: appending after a truncated
            # tail must not paper over the missing rows.
            candidates = [c for c in (tuple(last) if last else None, head) if c is not None]
            prev_seq, prev_hash = max(candidates, key=lambda c: c[0]) if candidates else (0, GENESIS)
            seq = prev_seq + 1
            ts = _now()
            digest = row_hash(prev_hash, seq, ts, action, engine_id, key_id, parsed)
            db.execute(
                f"INSERT INTO audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [seq, ts, action, engine_id, key_id, details_json, prev_hash, digest],
            )
            db.execute(
                "INSERT INTO meta(key, value) VALUES('audit_head', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [f"{seq}:{digest}"],
            )
        return AuditRow(seq, ts, action, engine_id, key_id, parsed, prev_hash, digest)

    def verify(self) -> AuditCheck:
        """Walk the chain in seq order; report the first row where it breaks."""
        with self._conn.snapshot() as db:  # rows and head from one moment
            total = int(db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])
            expected, prev = 1, GENESIS

            def broken(seq: int | None, reason: str) -> AuditCheck:
                return AuditCheck(ok=False, rows=total, first_broken=seq, reason=reason)

            for seq, ts, action, engine_id, key_id, details, prev_hash, digest in db.execute(
                f"SELECT {_COLUMNS} FROM audit ORDER BY seq"
            ):
                if seq != expected:
                    return broken(
                        seq,
                        f"The chain breaks at row {seq}: {_rows_phrase(expected, seq - 1)} removed before it.",
                    )
                if prev_hash != prev:
                    return broken(
                        seq,
                        f"The chain breaks at row {seq}: it does not link to the row before it, "
                        "so a row before it was removed or replaced.",
                    )
                try:
                    parsed = json.loads(details)
                except (TypeError, ValueError):
                    parsed = None  # unreadable details were edited by hand
                if (
                    not isinstance(parsed, dict)
                    or row_hash(prev_hash, seq, ts, action, engine_id, key_id, parsed) != digest
                ):
                    return broken(seq, f"Row {seq} was altered: its content no longer matches its hash.")
                prev, expected = digest, seq + 1
            last = expected - 1
            head = self._head()
            if head is None:
                if total:
                    return broken(
                        None,
                        "The record of the last row (audit_head) is missing; rows may have been removed.",
                    )
                return AuditCheck(ok=True, rows=0)
            head_seq, head_hash = head
            if head_seq > last:
                where = "at the end of the log" if last else "(the whole log)"
                return broken(last + 1, f"{_rows_phrase(last + 1, head_seq).capitalize()} removed {where}.")
            if head_seq < last:
                return broken(
                    head_seq + 1,
                    f"{_rows_phrase(head_seq + 1, last).capitalize()} added behind the log's back "
                    "(the recorded head is older).",
                )
            if head_hash != prev:
                return broken(
                    last, f"Row {last}, the last one, was replaced: it does not match the recorded head."
                )
            return AuditCheck(ok=True, rows=total)

    # --- what the log says about keys ------------------------------------------------

    def known_as(self, text: str) -> builtins.list[tuple[str, str]]:
        """(engine id, key id) of every key a row names ``text``: its name, old or new, or an alias.

        Deleted keys too: the log keeps what each key was called when it was created,
        renamed, given an alias or deleted. Each field is looked up in its own index.
        """
        query = " UNION ".join([
            *(f"SELECT engine_id, key_id FROM audit WHERE {_NAMED} AND json_extract(details, '$.{field}') = ?"
              for field in NAMING_FIELDS),
            # Named: the planner would rather walk every key row by key id than this small index.
            "SELECT engine_id, key_id FROM audit INDEXED BY audit_named_aliases "
            f"WHERE {_NAMED} AND json_type(details, '$.aliases') = 'array' "
            "AND EXISTS (SELECT 1 FROM json_each(details, '$.aliases') WHERE value = ?)",
        ])
        rows = self._conn.rows(query, [text] * (len(NAMING_FIELDS) + 1))
        return sorted((r["engine_id"], r["key_id"]) for r in rows if r["engine_id"] is not None)

    def engines_of(self, key_id: str) -> builtins.list[str]:
        """The engines the log records this key id on, one index step each."""
        found: builtins.list[str] = []
        while True:
            engine_id = self._conn.scalar(
                "SELECT engine_id FROM audit WHERE key_id = ? AND engine_id > ? ORDER BY engine_id LIMIT 1",
                [key_id, found[-1] if found else ""],
            )
            if engine_id is None:
                return found
            found.append(str(engine_id))

    def name_of(self, engine_id: str, key_id: str) -> str | None:
        """The key's name: its record's, else the last one the log gave it (a deleted key)."""
        live = self._conn.scalar("SELECT name FROM keys WHERE engine_id = ? AND key_id = ?", [engine_id, key_id])
        if live is not None:
            return str(live)
        last = self._conn.scalar(
            "SELECT coalesce(json_extract(details, '$.to'), json_extract(details, '$.name')) FROM audit "
            "WHERE key_id = ? AND engine_id = ? AND json_valid(details) "
            "AND coalesce(json_extract(details, '$.to'), json_extract(details, '$.name')) IS NOT NULL "
            "ORDER BY seq DESC LIMIT 1",
            [key_id, engine_id],
        )
        return None if last is None else str(last)

    def _with_names(self, rows: builtins.list[AuditRow]) -> builtins.list[AuditRow]:
        names: dict[tuple[str, str], str | None] = {}
        for row in rows:
            if row.engine_id is None or row.key_id is None:
                continue
            pair = (row.engine_id, row.key_id)
            if pair not in names:
                names[pair] = self.name_of(*pair)
            row.key_name = names[pair]
        return rows

    # --- reading -----------------------------------------------------------------------

    @staticmethod
    def _where(
        key_id: str | None, engine_id: str | None, action: str | None, keys: Keys | None = None
    ) -> tuple[str, builtins.list[Any]]:
        terms, params = [], []
        for column, value in (("key_id", key_id), ("engine_id", engine_id), ("action", action)):
            if value is not None:
                terms.append(f"{column} = ?")
                params.append(value)
        if keys is not None:
            pairs = builtins.list(keys)
            terms.append(f"(key_id, engine_id) IN (VALUES {', '.join(['(?, ?)'] * len(pairs))})" if pairs else "0")
            params.extend(value for engine, key in pairs for value in (key, engine))
        return " AND ".join(terms) or "1", params

    def count(
        self,
        *,
        key_id: str | None = None,
        engine_id: str | None = None,
        action: str | None = None,
        keys: Keys | None = None,
    ) -> int:
        where, params = self._where(key_id, engine_id, action, keys)
        return int(self._conn.scalar(f"SELECT COUNT(*) FROM audit WHERE {where}", params))

    def list(
        self,
        limit: int = 100,
        offset: int = 0,
        *,
        key_id: str | None = None,
        engine_id: str | None = None,
        action: str | None = None,
        keys: Keys | None = None,
        newest_first: bool = True,
    ) -> builtins.list[AuditRow]:
        """Rows in seq order; ``keys`` keeps those of these (engine id, key id) records.

        Each row carries its key's name (``key_name``) beside the key id.
        """
        for label, value in (("limit", limit), ("offset", offset)):
            check_count(value, label)
        where, params = self._where(key_id, engine_id, action, keys)
        order = "DESC" if newest_first else "ASC"
        rows = self._conn.rows(
            f"SELECT {_COLUMNS} FROM audit WHERE {where} ORDER BY seq {order} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return self._with_names([
            AuditRow(
                seq=r["seq"],
                ts=r["ts"],
                action=r["action"],
                engine_id=r["engine_id"],
                key_id=r["key_id"],
                details=json.loads(r["details"]),
                prev_hash=r["prev_hash"],
                hash=r["hash"],
            )
            for r in rows
        ])
