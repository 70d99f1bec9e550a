"""``Store``: the metadata database of one data directory.

Opening prepares the private data directory, creates ``kms.db`` owner-only,
switches it to WAL and applies the schema migrations. The engine, key and
listing operations live in mixins (``engine_repo``, ``key_repo``,
``key_query``, ``cert_repo``); the audit chain is ``store.audit``. Every public method is
thread-safe and raises only ``StoreError`` subclasses.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .audit import AuditLog
from .cert_repo import CertRepository
from .connection import Connection, Db
from .engine_repo import EngineRepository
from .key_query import KeyListing
from .key_repo import KeyRepository
from .paths import ensure_private_dir
from .schema import LATEST, migrate

DB_FILE = "kms.db"


class Store(EngineRepository, KeyRepository, KeyListing, CertRepository):
    """Engines, keys, aliases and the audit log in ``<data_dir>/kms.db``."""

    def __init__(self, data_dir: str | os.PathLike[str]):
        # Made 0700 when new; an existing one another user owns, or others may write to, is refused.
        self.data_dir = ensure_private_dir(data_dir)
        self.path = self.data_dir / DB_FILE
        self._conn = Connection(self.path)
        try:
            self.schema_version = migrate(self._conn, LATEST)
        except BaseException:
            self._conn.close()
            raise
        self.audit = AuditLog(self._conn)

    @property
    def instance_id(self) -> str:
        """A random id of this database, made on first use (it names keyring entries)."""
        with self._conn.transaction():
            value: str | None = self._conn.scalar("SELECT value FROM meta WHERE key = 'instance_id'")
            if value is None:
                value = secrets.token_hex(8)
                self._conn.execute("INSERT INTO meta(key, value) VALUES('instance_id', ?)", (value,))
        return value

    # --- small facts of this database (meta) ---------------------------------

    def meta(self, key: str) -> str | None:
        value: str | None = self._conn.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return value

    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        rows = self._conn.rows("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
        return {r["key"]: r["value"] for r in rows}

    def set_meta(self, key: str, value: str) -> None:
        with self._conn.transaction():
            self._conn.execute("INSERT INTO meta(key, value) VALUES(?, ?) "
                               "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def delete_meta(self, key: str) -> None:
        with self._conn.transaction():
            self._conn.execute("DELETE FROM meta WHERE key = ?", (key,))

    def directory_identity(self) -> str:
        """Where this database lives now: real path, device and inode of its data directory.

        A copy (``cp -a``) carries the database's instance id along; this tells the
        copy from the original.
        """
        st = os.stat(self.data_dir)
        return f"{os.path.realpath(self.data_dir)}|{st.st_dev}|{st.st_ino}"

    def data_version(self) -> int | None:
        """Changes whenever anyone (this process or another) commits to the database; None when unreadable now."""
        return self._conn.data_version()

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str]) -> Store:
        return cls(Path(data_dir))

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """Group several calls (and their audit rows) into one atomic write.

        ``BEGIN IMMEDIATE`` … COMMIT, ROLLBACK on error; nested use joins the
        outer transaction, and a failing nested block is undone on its own.
        """
        with self._conn.transaction() as db:
            yield db

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.data_dir)!r})"
