"""Filtering, sorting and paging keys (``KeyQuery``), and the statistics.

The SQL is assembled from fixed fragments only: every user value is a bound
parameter, and the sort column comes from a whitelist. ``where_clause`` and
``order_clause`` are plain functions so they can be tested on their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from .connection import Connection
from .errors import InvalidValue
from .models import KeyQuery, KeyRecord
from .records import KEY_COLUMNS, STRENGTHS, check_key_row, check_strength
from .schema import SEPARATOR
from .validation import check_count

# Ties break by name, case-insensitively then exactly. Names are unique, so a
# further key_id term could never decide anything, and SQLite does not see
# that: it would add a sort pass after every index walk. The indexes of schema
# version 2 end in the same columns, so ORDER BY … LIMIT walks an index.
# Descending reverses the whole order, tie-breakers included, which lets
# SQLite walk the same index backwards.
_TIE = "name COLLATE NOCASE {d}, name {d}"
SORTS: dict[str, str] = {
    "name": _TIE,
    "key_id": "key_id {d}, " + _TIE,
    "engine_id": "engine_id {d}, " + _TIE,
    "algorithm": "algorithm {d}, " + _TIE,
    "size": "size {d}, " + _TIE,
    "strength": "strength_rank {d}, " + _TIE,  # LOW < MEDIUM < HIGH, not alphabetical
    "creation_ts": "creation_ts {d}, " + _TIE,
}
ITER_BATCH = 500
MAX_WINDOW_DAYS = 36_500  # an expiry window beyond a century is a century


def escape_like(text: str) -> str:
    r"""Make % _ and \ match literally in a LIKE pattern using ESCAPE '\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


HEX = frozenset("0123456789abcdef")  # what every key id is written in (a SHA-256 or SKI in lowercase hex)

# Key algorithms a quantum computer does not break (FIPS 204 ML-DSA); every other one is quantum-vulnerable.
QUANTUM_RESISTANT = ("ML-DSA",)

# Filtered by text and sorted by name, keys are read from this covering index (schema 3).
SEARCH_INDEX = "keys_by_name_search"


def where_clause(q: KeyQuery) -> tuple[str, list[Any]]:
    """The WHERE condition and its parameters for every constraint in ``q``."""
    terms: list[str] = []
    params: list[Any] = []
    if q.size is not None:
        check_count(q.size, "key size")  # SQLite integers end at 2**63: refused here, not an overflow
    for column, value in (
        ("engine_id", q.engine_id),
        ("algorithm", q.algorithm),
        ("size", q.size),
        ("status", q.status),
    ):
        if value is not None:
            terms.append(f"{column} = ?")
            params.append(value)
    if q.strength is not None:
        terms.append("strength_rank = ?")  # the indexed form of the same test
        params.append(STRENGTHS.index(check_strength(q.strength)))
    if q.has_private_key is not None:
        terms.append("has_private_key = ?")
        params.append(int(bool(q.has_private_key)))
    if q.bound is not None:
        terms.append("bound > 0" if q.bound else "bound = 0")
    if q.security_level is not None:
        check_count(q.security_level, "security level")
        terms.append("engine_id IN (SELECT id FROM engines WHERE security_level = ?)")
        params.append(q.security_level)
    if q.expiring_within_days is not None:
        check_count(q.expiring_within_days, "expiry window")
        terms.append("id IN (SELECT key_rowid FROM certificates WHERE not_after < ?)")  # the not_after index
        ends = datetime.now(UTC) + timedelta(days=min(q.expiring_within_days, MAX_WINDOW_DAYS))
        params.append(ends.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if q.quantum_vulnerable is not None:
        marks = ", ".join("?" * len(QUANTUM_RESISTANT))
        terms.append(f"algorithm {'NOT IN' if q.quantum_vulnerable else 'IN'} ({marks})")
        params.extend(QUANTUM_RESISTANT)
    if q.name_from is not None:
        # The first column of the name indexes: a filtered walk in name order starts here.
        terms.append("name COLLATE NOCASE >= ?")
        params.append(q.name_from)
    text = (q.text or "").strip()
    if text:
        if SEPARATOR in text or "\x00" in text:
            # The search column's separator must never be matched across parts, and SQLite's
            # LIKE ends a pattern at NUL (no stored name holds one: it would match too much).
            terms.append("0")
        else:
            pattern = escape_like(text.lower())
            if set(pattern) <= HEX:  # key ids are hex: other text cannot begin one, and a row is tested once
                terms.append("(search LIKE ? ESCAPE '\\' OR key_id LIKE ? ESCAPE '\\')")
                params.extend([f"%{pattern}%", f"{pattern}%"])
            else:
                terms.append("search LIKE ? ESCAPE '\\'")
                params.append(f"%{pattern}%")
    return (" AND ".join(terms) or "1"), params


def order_clause(q: KeyQuery) -> str:
    if q.sort not in SORTS:
        raise InvalidValue(
            f"Cannot sort keys by {q.sort!r}.", hint="Sort by one of: " + ", ".join(SORTS) + "."
        )
    return SORTS[q.sort].format(d="DESC" if q.descending else "ASC")




def _check_paging(q: KeyQuery) -> None:
    for label, value in (("limit", q.limit), ("offset", q.offset)):
        if value is None and label == "limit":
            continue
        check_count(value, label)


# One key as JSON, built by SQLite: the same members, values and order (sorted) as
# KeyRecord.to_json() — tests hold the two equal. For listing thousands of keys
# as JSON without building a Python object per key.
_KEY_JSON = (
    "json_object("
    "'algorithm', algorithm, "
    "'aliases', (SELECT json_group_array(alias) FROM "
    "(SELECT alias FROM aliases WHERE key_rowid = keys.id ORDER BY alias)), "
    "'bound', json(CASE WHEN bound > 0 THEN 'true' ELSE 'false' END), "
    "'creation_ts', creation_ts, 'engine_id', engine_id, "
    "'has_private_key', json(CASE WHEN has_private_key THEN 'true' ELSE 'false' END), "
    "'key_id', key_id, 'metadata', json(metadata), 'name', name, 'native_ref', native_ref, "
    "'pkcs11_uri', pkcs11_uri, 'public_key', public_key, 'size', size, 'state', state, "
    "'status', status, 'strength', strength, 'tags', json(tags))"
)


# The resource types a key is bound to (its Lamassu bindings, kept in its metadata).
_BINDING_TYPES = (
    "SELECT json_extract(b.value, '$.resource_type') FROM "
    "json_each(keys.metadata, '$.\"lamassu.io/kms/binded-resources\"') AS b"
)


class KeyRef(NamedTuple):
    """A key record as ``iter_key_refs`` gives it."""

    key_id: str
    name: str
    native_ref: str | None
    status: str
    public_key: str  # PEM SubjectPublicKeyInfo


class KeyListing:
    _conn: Connection

    def _records(self, rows: list[dict[str, Any]]) -> list[KeyRecord]:
        raise NotImplementedError  # KeyRepository's

    def _plan(self, q: KeyQuery) -> tuple[str, str, list[Any]]:
        """(table source, WHERE, parameters) for ``q``: where a text filter reads its keys from.

        A substring test cannot use an index to find rows, only to avoid reading the
        table: sorted by name, keys come from the covering index in order (the walk
        stops once the page is full); sorted otherwise, from a plain scan with a top-N
        sort (about 22 ms at 100 000 keys, whatever the filter). Walking a sort index
        over the table instead costs a random row read per key passed over: about 70 ms
        when few keys match or they sort late.
        """
        where, params = where_clause(q)
        if not (q.text or "").strip():
            return "keys", where, params
        if q.sort == "name":
            return f"keys INDEXED BY {SEARCH_INDEX}", where, params
        return "keys NOT INDEXED", where, params

    def _page(self, q: KeyQuery, select: str) -> tuple[str, list[Any]]:
        """SELECT ``select`` for the keys ``q`` matches, sorted and paged as it says."""
        _check_paging(q)
        source, where, params = self._plan(q)
        sql = f"SELECT {select} FROM {source} WHERE {where} ORDER BY {order_clause(q)}"
        if q.limit is not None or q.offset:
            sql += " LIMIT ? OFFSET ?"
            params = [*params, -1 if q.limit is None else q.limit, q.offset]
        return sql, params

    def list_keys_json(self, q: KeyQuery | None = None) -> list[str]:
        """``list_keys`` as JSON texts, one per key (what ``KeyRecord.to_json`` would give)."""
        sql, params = self._page(q or KeyQuery(), _KEY_JSON)
        with self._conn.guard() as db:
            return [row[0] for row in db.execute(sql, params).fetchall()]

    def iter_keys_json(self, q: KeyQuery | None = None, page: int = ITER_BATCH) -> Iterator[str]:
        """``list_keys_json`` read a page at a time: memory stays flat however many keys match."""
        for ids in self._id_pages(q or KeyQuery(), page):
            found = self._by_ids(f"id, {_KEY_JSON}", ids)
            yield from (found[rowid] for rowid in ids if rowid in found)

    def iter_keys_matching(self, q: KeyQuery | None = None, page: int = ITER_BATCH) -> Iterator[KeyRecord]:
        """``list_keys`` read a page at a time: memory stays flat however many keys match."""
        for ids in self._id_pages(q or KeyQuery(), page):
            position = {rowid: index for index, rowid in enumerate(ids)}
            rows = self._conn.rows(
                f"SELECT {KEY_COLUMNS} FROM keys WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(ids)]
            )
            rows.sort(key=lambda row: position[row["id"]])
            yield from self._records(rows)

    def _id_pages(self, q: KeyQuery, page: int) -> Iterator[list[int]]:
        """The row ids ``q`` matches, in its order, in pages of ``page``.

        Only the ids (a few MB at 100 000 keys) are read at once; the rows are then
        read page by page, each under the lock for that page only, so a slow consumer
        never blocks other threads. A key deleted meanwhile is left out; one changed
        meanwhile is read as it is then.
        """
        check_count(page, "page size")
        if page < 1:
            raise InvalidValue("The page size must be at least 1.")
        sql, params = self._page(q, "id")
        with self._conn.guard() as db:
            ids = [row[0] for row in db.execute(sql, params).fetchall()]
        for start in range(0, len(ids), page):
            yield ids[start:start + page]

    def _by_ids(self, select: str, ids: list[int]) -> dict[int, Any]:
        """{row id: the second selected value} for these row ids (those still there)."""
        with self._conn.guard() as db:
            rows = db.execute(
                f"SELECT {select} FROM keys WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(ids)]
            ).fetchall()
        return {row[0]: row[1] for row in rows}

    def list_keys(self, q: KeyQuery | None = None) -> list[KeyRecord]:
        """The keys matching ``q``, sorted and paged as it says."""
        # Two steps: sort and page only row ids (a narrow sort, often a pure
        # index walk), then fetch the full rows of the one page. The ids come as one
        # JSON array, in the page's order: one step of SQLite, which runs its whole
        # walk without Python's lock (a row at a time, the reading thread would take
        # that lock back after every row, and wait for it while the UI thread draws).
        sql, params = self._page(q or KeyQuery(), "id")
        with self._conn.snapshot():
            ids = json.loads(self._conn.scalar(f"SELECT json_group_array(id) FROM ({sql})", params))
            rows = self._conn.rows(
                f"SELECT {KEY_COLUMNS} FROM keys WHERE id IN (SELECT value FROM json_each(?))",
                [json.dumps(ids)],
            )
        position = {rowid: index for index, rowid in enumerate(ids)}
        rows.sort(key=lambda row: position[row["id"]])
        return self._records(rows)

    def count_keys(self, q: KeyQuery | None = None) -> int:
        """How many keys match ``q``'s filters (its sort and paging are ignored)."""
        q = q or KeyQuery()
        source, where, params = self._plan(replace(q, sort="name"))  # a count needs no order: the covering index
        return int(self._conn.side_scalar(f"SELECT COUNT(*) FROM {source} WHERE {where}", params))

    def iter_keys(self, engine_id: str | None = None) -> Iterator[KeyRecord]:
        """Every key (of one engine, if given), in insertion order.

        Fetched in batches and yielded outside the lock, so a slow consumer
        never blocks other threads and the store may be written meanwhile.
        """
        for rows in self._batches(KEY_COLUMNS, engine_id):
            yield from self._records(rows)

    def iter_key_refs(self, engine_id: str) -> Iterator[KeyRef]:
        """What comparing an engine's records with the engine reads of each: ``iter_keys`` without the records.

        The same keys in the same order, read in the same batches; a row ``iter_keys`` could
        not read raises as there (``check_key_row``), and nothing else of a row is converted.
        """
        columns = "id, key_id, name, native_ref, status, public_key, tags, metadata, size"
        for rows in self._batches(columns, engine_id):
            for row in rows:
                check_key_row(row)
                yield KeyRef(row["key_id"], row["name"], row["native_ref"], row["status"], row["public_key"])

    def _batches(self, columns: str, engine_id: str | None) -> Iterator[list[dict[str, Any]]]:
        """The key rows (of one engine, if given) in insertion order, ``ITER_BATCH`` at a time, each
        batch read on its own: nothing is held across batches, and nothing locked while one is used."""
        last = 0
        where = "id > ?" + (" AND engine_id = ?" if engine_id is not None else "")
        while True:
            params: list[Any] = [last] if engine_id is None else [last, engine_id]
            rows = self._conn.rows(f"SELECT {columns} FROM keys WHERE {where} ORDER BY id LIMIT ?",
                                   [*params, ITER_BATCH])
            if not rows:
                return
            last = rows[-1]["id"]
            yield rows
            if len(rows) < ITER_BATCH:
                return

    def exposure_counts(self) -> dict[str, Any]:
        """Quantum-vulnerable keys counted by (algorithm, size), by engine, and by what they are bound to.

        ``by_kind``: "self_signed" (a recorded self-signed certificate), "ca" (a ``ca`` binding),
        "certificate" (another recorded or bound certificate), "other" (another binding), "none".
        Each count walks an index (only bound or certified keys are read whole), which keeps this
        in tens of milliseconds at 100 000 keys; the parts are read in one snapshot, so they agree.
        """
        marks = ", ".join("?" * len(QUANTUM_RESISTANT))
        resistant = list(QUANTUM_RESISTANT)
        kinds = (
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM certificates c WHERE c.key_rowid = keys.id "
            "AND c.subject = c.issuer) THEN 'self_signed' "
            f"WHEN 'ca' IN ({_BINDING_TYPES}) THEN 'ca' "
            "WHEN EXISTS (SELECT 1 FROM certificates c WHERE c.key_rowid = keys.id) "
            f"OR 'certificate' IN ({_BINDING_TYPES}) THEN 'certificate' ELSE 'other' END AS kind FROM keys "
            f"WHERE algorithm NOT IN ({marks}) AND (bound > 0 OR id IN "
            "(SELECT key_rowid FROM certificates WHERE key_rowid IS NOT NULL))"
        )
        with self._conn.snapshot():
            pairs = self._conn.rows(
                f"SELECT algorithm, size, COUNT(*) AS n FROM keys WHERE algorithm NOT IN ({marks}) "
                "GROUP BY algorithm, size ORDER BY algorithm, size", resistant)
            # Every key by engine (a covering index), less the resistant ones (found by their algorithm).
            by_engine = {row["engine_id"]: row["n"] for row in
                         self._conn.rows("SELECT engine_id, COUNT(*) AS n FROM keys GROUP BY engine_id")}
            for row in self._conn.rows("SELECT engine_id, COUNT(*) AS n FROM keys INDEXED BY keys_by_algorithm "
                                       f"WHERE algorithm IN ({marks}) GROUP BY engine_id", resistant):
                by_engine[row["engine_id"]] -= row["n"]
            by_kind = {row["kind"]: row["n"] for row in
                       self._conn.rows(f"SELECT kind, COUNT(*) AS n FROM ({kinds}) GROUP BY kind", resistant)}
        by_kind["none"] = sum(row["n"] for row in pairs) - sum(by_kind.values())
        return {"pairs": pairs, "by_engine": by_engine, "by_kind": by_kind}

    def stats(self) -> dict[str, Any]:
        """Totals for the statistics screen, each from one GROUP BY query."""
        with self._conn.snapshot():  # one consistent view: the parts add up to the total
            return self._stats()

    def _stats(self) -> dict[str, Any]:
        # Each GROUP BY runs over an index (the rank, not the strength text; the
        # engine id, not a join), which keeps this near 15 ms at 100 000 keys.
        rows = self._conn.rows
        total = int(self._conn.scalar("SELECT COUNT(*) FROM keys"))
        bound = int(self._conn.scalar("SELECT COUNT(*) FROM keys WHERE bound > 0"))
        by_strength = dict.fromkeys(reversed(STRENGTHS), 0)
        for row in rows("SELECT strength_rank AS rank, COUNT(*) AS n FROM keys GROUP BY strength_rank"):
            if row["rank"] < len(STRENGTHS):  # rows always hold a known strength; be safe anyway
                by_strength[STRENGTHS[row["rank"]]] = row["n"]
        by_engine = self.count_keys_by_engine()  # type: ignore[attr-defined]
        by_level = {f"SL{level}": 0 for level in (0, 1, 2)}
        for row in rows("SELECT id, security_level FROM engines"):
            level = f"SL{row['security_level']}"
            by_level[level] = by_level.get(level, 0) + by_engine.get(row["id"], 0)
        by_size: dict[str, int] = {}
        by_algorithm: dict[str, int] = {}
        for row in rows(
            "SELECT algorithm, size, COUNT(*) AS n FROM keys GROUP BY algorithm, size ORDER BY algorithm, size"
        ):
            by_size[f"{row['algorithm']} {row['size']}"] = row["n"]
            by_algorithm[row["algorithm"]] = by_algorithm.get(row["algorithm"], 0) + row["n"]
        return {
            "total": total,
            "by_engine": by_engine,
            "by_algorithm": by_algorithm,
            "by_size": by_size,
            "by_strength": by_strength,
            "by_security_level": by_level,
            "bound": bound,
            "unbound": total - bound,
        }
