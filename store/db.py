"""``Store``: the metadata database of one data directory.

Opening prepares the private data directory, creates ``kms.db`` owner-only,
switches it to WAL and applies the schema migrations. The engine, key and
listing operations live in mixins (``engine_repo``, ``key_repo``,
``key_query``); the audit chain is ``store.audit``. Every public method is
thread-safe and raises only ``StoreError`` subclasses.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .audit import AuditLog
from .connection import Connection, Db
from .engine_repo import EngineRepository
from .key_query import KeyListing
from .key_repo import KeyRepository
from .paths import ensure_private_dir
from .schema import LATEST, migrate

DB_FILE = "kms.db"


def _mode_of(path: str | os.PathLike) -> int | None:
    """Permission bits of an existing directory, or None when there is none yet."""
    try:
        return stat.S_IMODE(os.stat(Path(path).expanduser()).st_mode)
    except OSError:
        return None


class Store(EngineRepository, KeyRepository, KeyListing):
    """Engines, keys, aliases and the audit log in ``<data_dir>/kms.db``."""

    def __init__(self, data_dir: str | os.PathLike):
        # Noted before it is tightened: a directory others could write to is worth reporting (doctor).
        self.data_dir_mode_found = _mode_of(data_dir)
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
            value = self._conn.scalar("SELECT value FROM meta WHERE key = 'instance_id'")
            if value is None:
                value = secrets.token_hex(8)
                self._conn.execute("INSERT INTO meta(key, value) VALUES('instance_id', ?)", (value,))
        return value

    @classmethod
    def open(cls, data_dir: str | os.PathLike) -> Store:
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
