"""Opening a database: permissions, pragmas, migrations and unreadable files."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
import sqlite_utils

from store import DatabaseError, KeyQuery, SchemaTooNew, Store
from store import connection as connection_module
from store.connection import Connection
from store.schema import LATEST, migrate


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def version_of(path) -> str | None:
    with sqlite3.connect(path) as con:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return row[0] if row else None


def test_fresh_database_is_private_wal_and_latest(store_dir, make_engine):
    old = os.umask(0o022)  # the usual umask would give 0644 / 0755
    try:
        store = Store(store_dir)
        store.add_engine(make_engine())  # a write, so the -wal file exists
    finally:
        os.umask(old)
    try:
        assert mode(store_dir) == 0o700
        assert mode(store_dir / "kms.db") == 0o600
        assert mode(store_dir / "kms.db-wal") == 0o600
        assert store.schema_version == LATEST
        db = store._conn.db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: the last commits survive a power loss
        assert {"meta", "engines", "keys", "aliases", "audit"} <= set(sqlite_utils.Database(db.conn).table_names())
    finally:
        store.close()
    assert version_of(store_dir / "kms.db") == str(LATEST)


def test_open_and_reopen_keep_the_data(store_dir, make_engine):
    with Store.open(store_dir) as store:
        assert store.path == store_dir / "kms.db"
        store.add_engine(make_engine("e1"))
    with Store.open(str(store_dir)) as again:
        assert [e.id for e in again.list_engines()] == ["e1"] and again.schema_version == LATEST


def test_existing_readable_files_keep_their_modes(store_dir):
    store_dir.mkdir(mode=0o755)
    os.chmod(store_dir, 0o755)
    Store(store_dir).close()
    os.chmod(store_dir / "kms.db", 0o644)
    Store(store_dir).close()  # readable by others: opened, and left for doctor to report
    assert mode(store_dir) == 0o755
    assert mode(store_dir / "kms.db") == 0o644


@pytest.mark.parametrize("setup", ["empty file", "meta without version"])
def test_version_0_database_is_upgraded(store_dir, setup):
    store_dir.mkdir()
    path = store_dir / "kms.db"
    if setup == "empty file":
        path.write_bytes(b"")
    else:
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    with Store(store_dir) as store:
        assert store.schema_version == LATEST
        assert store.list_engines() == []
    assert version_of(path) == str(LATEST)


def test_version_1_database_is_upgraded_and_backfilled(store_dir):
    store_dir.mkdir()
    conn = Connection(store_dir / "kms.db")
    assert migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO engines (id, type, name, provider, security_level, is_default, created_ts) "
        "VALUES ('e1', 'GOLANG', 'Soft', 'local', 0, 1, '2024-01-01T00:00:00Z')"
    )
    conn.execute(
        "INSERT INTO keys (id, key_id, engine_id, name, algorithm, size, strength, has_private_key, "
        "public_key, creation_ts, tags) VALUES (7, 'ab12', 'e1', 'Old-Key', 'RSA', 2048, 'MEDIUM', 1, 'PEM', "
        "'2024-01-01T00:00:00Z', '[\"Legacy\"]')"
    )
    conn.execute("INSERT INTO aliases (alias, key_rowid) VALUES ('ancient', 7)")
    assert "search" not in sqlite_utils.Database(conn.db.conn)["keys"].columns_dict
    conn.close()

    with Store(store_dir) as store:
        assert store.schema_version == LATEST
        key = store.get_key("e1", "ab12")
        assert key.aliases == ["ancient"] and key.tags == ["Legacy"]
        # The new search column was filled from the old rows: all three parts are searchable.
        for text in ("old-k", "ANCIENT", "legacy"):
            assert [k.name for k in store.list_keys(KeyQuery(text=text))] == ["Old-Key"], text
    assert version_of(store_dir / "kms.db") == str(LATEST)


def test_newer_schema_is_refused_and_left_untouched(store_dir):
    Store(store_dir).close()
    path = store_dir / "kms.db"
    with sqlite3.connect(path) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(LATEST + 1)])
    with pytest.raises(SchemaTooNew) as err:
        Store(store_dir)
    assert f"schema version {LATEST + 1}" in err.value.message
    assert err.value.hint and "Upgrade" in err.value.hint
    assert version_of(path) == str(LATEST + 1)


def test_garbage_file_is_a_database_error(store_dir):
    store_dir.mkdir()
    (store_dir / "kms.db").write_bytes(b"this is not sqlite at all\n" * 200)
    with pytest.raises(DatabaseError) as err:
        Store(store_dir)
    assert not isinstance(err.value, SchemaTooNew)
    assert "not a kms-tui database" in err.value.message and str(store_dir / "kms.db") in err.value.message
    assert err.value.hint
    assert isinstance(err.value.__cause__, sqlite3.Error)  # kept for the log, not what escapes


def test_another_applications_database_is_refused(store_dir):
    store_dir.mkdir()
    with sqlite3.connect(store_dir / "kms.db") as con:
        con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(DatabaseError, match="another application"):
        Store(store_dir)
    with sqlite3.connect(store_dir / "kms.db") as con:
        assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == [
            "invoices"
        ]


def test_a_locked_database_says_another_process_holds_it(store, make_engine, monkeypatch):
    monkeypatch.setattr(connection_module, "BUSY_TIMEOUT_MS", 50)
    with Store(store.data_dir) as impatient:
        blocker = sqlite3.connect(store.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(DatabaseError) as err:
                impatient.add_engine(make_engine())
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert "locked" in err.value.message
        assert "Another process" in err.value.hint
        impatient.add_engine(make_engine())  # usable again once the other writer is gone


def test_sqlite_errors_never_escape_public_methods(store, engine, make_key):
    store.add_key(make_key("k"))
    store._conn.execute("DROP TABLE aliases")
    with pytest.raises(DatabaseError, match="no such table"):
        store.list_keys()


def test_closed_store_raises_database_error(store_dir):
    store = Store(store_dir)
    store.close()
    store.close()  # idempotent
    with pytest.raises(DatabaseError, match="closed"):
        store.list_engines()
