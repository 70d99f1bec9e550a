"""The database schema as an ordered list of forward migrations.

``meta.schema_version`` records how many migrations a database has had. On
open, the missing ones are applied in order inside one ``BEGIN IMMEDIATE``
transaction, so two processes opening an old file at once upgrade it once.
A version above ``LATEST`` means a newer kms-tui wrote the file: it is left
untouched and SchemaTooNew is raised. Migrations are append-only: never edit
one that has shipped, add the next.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from .connection import Connection, Db
from .errors import DatabaseError, SchemaTooNew

if TYPE_CHECKING:
    import sqlite_utils

V1_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE engines (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    security_level INTEGER NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    is_default INTEGER NOT NULL DEFAULT 0,
    has_secret INTEGER NOT NULL DEFAULT 0,
    supported_key_types TEXT NOT NULL DEFAULT '{}',
    created_ts TEXT NOT NULL
);
-- At most one default engine, enforced by SQLite itself, not only by the code.
CREATE UNIQUE INDEX engines_one_default ON engines(is_default) WHERE is_default = 1;
CREATE TABLE keys (
    id INTEGER PRIMARY KEY,
    key_id TEXT NOT NULL,
    engine_id TEXT NOT NULL REFERENCES engines(id) ON DELETE CASCADE,
    name TEXT NOT NULL UNIQUE,
    algorithm TEXT NOT NULL,
    size INTEGER NOT NULL,
    strength TEXT NOT NULL,
    has_private_key INTEGER NOT NULL,
    public_key TEXT NOT NULL,
    native_ref TEXT,
    pkcs11_uri TEXT,
    creation_ts TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    bound INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'ok',
    state TEXT,
    UNIQUE (engine_id, key_id)
);
CREATE TABLE aliases (
    alias TEXT PRIMARY KEY,
    key_rowid INTEGER NOT NULL REFERENCES keys(id) ON DELETE CASCADE
);
CREATE INDEX aliases_key ON aliases(key_rowid);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    action TEXT NOT NULL,
    engine_id TEXT,
    key_id TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
"""

# Version 2: what makes list_keys fast at 100 000 keys. Every sortable column
# gets an index ending in the name tie-breakers, so ORDER BY … LIMIT 200 walks
# an index instead of sorting the table; strength sorts by a generated rank.
V2_INDEXES = """
ALTER TABLE keys ADD COLUMN strength_rank INTEGER GENERATED ALWAYS AS
    (CASE strength WHEN 'LOW' THEN 0 WHEN 'MEDIUM' THEN 1 WHEN 'HIGH' THEN 2 ELSE 3 END) VIRTUAL;
ALTER TABLE keys ADD COLUMN search TEXT NOT NULL DEFAULT '';
CREATE INDEX keys_by_name ON keys(name COLLATE NOCASE, name);
CREATE INDEX keys_by_key_id ON keys(key_id, name COLLATE NOCASE, name);
CREATE INDEX keys_by_engine ON keys(engine_id, name COLLATE NOCASE, name);
CREATE INDEX keys_by_algorithm ON keys(algorithm, name COLLATE NOCASE, name);
-- "ECDSA keys, largest first" is a natural screen; without this index it sorts every ECDSA key.
CREATE INDEX keys_by_algorithm_size ON keys(algorithm, size, name COLLATE NOCASE, name);
CREATE INDEX keys_by_size ON keys(size, name COLLATE NOCASE, name);
CREATE INDEX keys_by_strength ON keys(strength_rank, name COLLATE NOCASE, name);
CREATE INDEX keys_by_creation ON keys(creation_ts, name COLLATE NOCASE, name);
CREATE INDEX keys_by_bound ON keys(bound);
CREATE INDEX keys_by_native_ref ON keys(engine_id, native_ref) WHERE native_ref IS NOT NULL;
CREATE INDEX keys_by_pkcs11_uri ON keys(pkcs11_uri) WHERE pkcs11_uri IS NOT NULL;
CREATE INDEX audit_by_key ON audit(key_id, seq);
CREATE INDEX audit_by_engine ON audit(engine_id, seq);
CREATE INDEX audit_by_action ON audit(action, seq);
"""


SEPARATOR = "\x1f"


def search_text(name: str, aliases: list[str], tags: list[str]) -> str:
    """The lowercase haystack the text filter searches with a single LIKE.

    Parts are joined by U+001F (unit separator); a filter containing it matches
    nothing, so a substring can never match across two parts.
    """
    return SEPARATOR.join([name, *aliases, *tags]).lower()


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run statements one by one: ``executescript`` would COMMIT our open transaction."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            db.execute(buffer)
            buffer = ""
    if buffer.strip():
        raise ValueError("incomplete SQL statement in a migration script")


def _v1(db: sqlite_utils.Database) -> None:
    _run_script(db, V1_TABLES)


def _v2(db: sqlite_utils.Database) -> None:
    _run_script(db, V2_INDEXES)
    aliases: dict[int, list[str]] = {}
    for row in db.query("SELECT key_rowid, alias FROM aliases ORDER BY alias"):
        aliases.setdefault(row["key_rowid"], []).append(row["alias"])
    updates = [
        (search_text(row["name"], aliases.get(row["id"], []), json.loads(row["tags"] or "[]")), row["id"])
        for row in db.query("SELECT id, name, tags FROM keys")
    ]
    db.conn.executemany("UPDATE keys SET search = ? WHERE id = ?", updates)


# Text filters test every key's search column. This index holds it, in name order,
# beside what a text filter also tests: a filtered page is a walk of a small index
# that stops at the page's last key, and a count a scan of it, never of the table
# with its public keys (about 10 ms rather than 22-70 ms at 100 000 keys).
V3_SEARCH_INDEX = """
CREATE INDEX keys_by_name_search ON keys(name COLLATE NOCASE, name, search, key_id, engine_id);
"""


def _v3(db: sqlite_utils.Database) -> None:
    _run_script(db, V3_SEARCH_INDEX)


# Version 4: the audit log answers "which key was known as X" and "on which engines"
# without reading every row. A key row names its key in its details: ``name``
# (create, import, delete, engine actions), ``from`` and ``to`` (rename), ``alias``
# (alias add and remove), ``aliases`` (the list a key had when created or deleted).
# Each field gets a partial index holding only the rows that carry it; a row whose
# details are not JSON (edited by hand) is left out, not refused.
V4_AUDIT_NAMES = """
CREATE INDEX audit_by_key_engine ON audit(key_id, engine_id, seq);
CREATE INDEX audit_named_name ON audit(json_extract(details, '$.name'))
    WHERE key_id IS NOT NULL AND json_valid(details) AND json_extract(details, '$.name') IS NOT NULL;
CREATE INDEX audit_named_from ON audit(json_extract(details, '$.from'))
    WHERE key_id IS NOT NULL AND json_valid(details) AND json_extract(details, '$.from') IS NOT NULL;
CREATE INDEX audit_named_to ON audit(json_extract(details, '$.to'))
    WHERE key_id IS NOT NULL AND json_valid(details) AND json_extract(details, '$.to') IS NOT NULL;
CREATE INDEX audit_named_alias ON audit(json_extract(details, '$.alias'))
    WHERE key_id IS NOT NULL AND json_valid(details) AND json_extract(details, '$.alias') IS NOT NULL;
CREATE INDEX audit_named_aliases ON audit(seq)
    WHERE key_id IS NOT NULL AND json_valid(details) AND json_type(details, '$.aliases') = 'array';
"""


def _v4(db: sqlite_utils.Database) -> None:
    _run_script(db, V4_AUDIT_NAMES)


# Version 5: certificates bound to keys. The fingerprint is the SHA-256 of the DER and is
# checked against it on every read; the other columns are read from the DER when it is
# added, for listing (the index serves "expiring within N days"). A chain member (an
# issuer that belongs to no recorded key) has no key_rowid.
V5_CERTIFICATES = """
CREATE TABLE certificates (
    fingerprint TEXT PRIMARY KEY,
    key_rowid INTEGER REFERENCES keys(id) ON DELETE CASCADE,
    der BLOB NOT NULL,
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    source TEXT NOT NULL,
    added_ts TEXT NOT NULL
);
CREATE INDEX certificates_by_not_after ON certificates(not_after);
CREATE INDEX certificates_by_key ON certificates(key_rowid);
CREATE INDEX certificates_by_subject ON certificates(subject);
"""


def _v5(db: sqlite_utils.Database) -> None:
    _run_script(db, V5_CERTIFICATES)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5]
LATEST = len(MIGRATIONS)
OUR_TABLES = {"meta", "engines", "keys", "aliases", "audit", "certificates"}


def read_version(db: Db | sqlite_utils.Database) -> int:
    """The recorded schema version; 0 for a database that never had one."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return 0
    found = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(found[0]) if found else 0
    except ValueError:
        raise DatabaseError(f"The database records an unreadable schema version ({found[0]!r}).") from None


def _check_supported(version: int, conn: Connection) -> None:
    if version > LATEST:
        raise SchemaTooNew(
            f"{conn.path} was written by a newer kms-tui (schema version {version}; "
            f"this version knows up to {LATEST}).",
            hint="Upgrade kms-tui, or use another data directory (--data-dir).",
        )


def migrate(conn: Connection, target: int = LATEST) -> int:
    """Bring the database up to ``target``; return the version it is at now."""
    with conn.guard() as db:
        version = read_version(db)
    _check_supported(version, conn)
    if version >= target:
        return version
    import sqlite_utils  # migrations only: opening an up-to-date database never imports it

    with conn.transaction() as light:
        utils = sqlite_utils.Database(light.conn, execute_plugins=False)  # plugins may not hook our connection
        # Read again under the write lock: another process may have migrated meanwhile.
        version = read_version(utils)
        _check_supported(version, conn)
        if version == 0:
            foreign = set(utils.table_names()) - OUR_TABLES
            if foreign:
                raise DatabaseError(
                    f"{conn.path} is an SQLite database of another application "
                    f"(tables: {', '.join(sorted(foreign))}).",
                    hint="Use another data directory (--data-dir) or move the file aside.",
                )
        for number in range(version + 1, target + 1):
            MIGRATIONS[number - 1](utils)
            version = number
        utils.execute(
            "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [str(version)],
        )
    return version
