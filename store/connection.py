"""The one SQLite connection a Store owns: file, pragmas, locking, transactions.

Every public store method goes through ``guard()`` or ``transaction()`` here,
which serialise thread-worker access with a re-entrant lock and turn any
``sqlite3.Error`` into a ``DatabaseError`` an operator can read.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .damage import judged
from .errors import DatabaseError
from .trust import check_trusted_file

BUSY_TIMEOUT_MS = 10_000
WATCH_TIMEOUT_MS = 20  # data_version() is polled; a busy database is looked at again next time
SYNCHRONOUS = "FULL"  # the bench compares it with NORMAL (bench/durability.py)
Params = Sequence[Any] | dict[str, Any] | None


def translate_error(exc: sqlite3.Error, path: Path) -> DatabaseError:
    """A readable DatabaseError for a raw sqlite3 error (never leaks the raw type)."""
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return DatabaseError(
            f"The database {path} is locked.",
            title="Database busy",
            hint="Another process (perhaps another kms-tui) holds the database; "
            "wait for it to finish or close it, then retry.",
        )
    if "not a database" in low or "malformed" in low or "encrypted" in low:
        return judged(text, path)
    if "readonly" in low or "unable to open" in low or "disk i/o" in low or "full" in low:
        return DatabaseError(
            f"Cannot use the database {path} ({text}).",
            hint="Check that the data directory belongs to you, is writable and has free space.",
        )
    return DatabaseError(f"Database error on {path}: {text}.")


def create_private_file(path: Path) -> None:
    """Create ``path`` mode 0600 before SQLite does; refuse existing files others could have changed.

    SQLite would create the file with the umask's mode (often 0644); creating
    it first closes that window, and SQLite gives -wal/-shm the main file's
    mode. Existing files keep their mode: one that is a link, another user's or
    writable by group or others is refused (``store.trust``), one merely
    readable by others is for ``kms-tui doctor`` to report.
    """
    flags = os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        fd = None
    except OSError as exc:
        raise DatabaseError(
            f"Cannot create the database {path}: {exc.strerror or exc}.",
            hint="Check that the data directory belongs to you and is writable.",
        ) from exc
    if fd is not None:
        try:
            os.fchmod(fd, 0o600)  # made here: the exact mode, whatever the umask
        finally:
            os.close(fd)
    for candidate, what in ((path, "database"), (Path(f"{path}-wal"), "database journal"),
                            (Path(f"{path}-shm"), "database index")):
        check_trusted_file(candidate, what)


class Db:
    """What the repositories use of a connection: ``execute`` and ``query`` (rows as dicts).

    The same two calls as sqlite-utils' ``Database``, on the raw connection:
    opening the store (the CLI on every command, the TUI before its first rows)
    does not import sqlite-utils, its CLI and plugin machinery. Migrations use
    sqlite-utils itself (``schema.migrate``).
    """

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, params: Params = None) -> sqlite3.Cursor:
        return self.conn.execute(sql) if params is None else self.conn.execute(sql, params)

    def query(self, sql: str, params: Params = None) -> Iterator[dict[str, Any]]:
        cursor = self.execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        for row in cursor:
            yield dict(zip(names, row, strict=True))


class Connection:
    """A locked, error-translating wrapper over one SQLite connection."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0  # write-transaction nesting; only the lock holder reads or writes it
        self._reading = False  # inside snapshot()
        self._closed = False
        self._side: sqlite3.Connection | None = None  # see side_scalar()
        self._side_lock = threading.Lock()
        self._watch: sqlite3.Connection | None = None  # see data_version()
        self._watch_lock = threading.Lock()
        create_private_file(path)
        raw = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
        )
        try:
            # busy_timeout first: switching to WAL itself needs a lock another process may hold.
            raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            raw.execute("PRAGMA journal_mode = WAL").fetchone()
            raw.execute("PRAGMA foreign_keys = ON")
            # FULL: a committed audit row or key record survives a power cut, not only a crash (DESIGN §7.4).
            raw.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
            self.db = Db(raw)
        except sqlite3.Error as exc:
            raw.close()
            raise translate_error(exc, path) from exc
        self._raw = raw

    # ------------------------------------------------------------ locking
    def _check_open(self) -> None:
        if self._closed:
            raise DatabaseError(f"The database {self.path} is closed.", hint="Open the store again.")

    @contextmanager
    def guard(self) -> Iterator[Db]:
        """Hold the lock and translate sqlite3 errors for the block."""
        with self._lock:
            self._check_open()
            try:
                yield self.db
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from exc

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """``BEGIN IMMEDIATE`` … COMMIT, or ROLLBACK on any exception.

        IMMEDIATE takes the write lock up front, so a read-then-write block
        (the audit chain's "read last hash, append") cannot interleave with
        another process. Nested use joins the outer transaction through a
        SAVEPOINT: it commits with the outer one, but a failing inner block
        is undone on its own, so a caught Conflict leaves no half-written rows.
        """
        with self._lock:
            self._check_open()
            if self._reading:
                # A deferred read cannot safely become a write under WAL (it may hit
                # SQLITE_BUSY without waiting), and its end is a ROLLBACK.
                raise RuntimeError("store.transaction() used inside a read snapshot")
            if self._depth:
                yield from self._nested()
                return
            try:
                self._raw.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from exc
            self._depth = 1
            try:
                yield self.db
                self._raw.execute("COMMIT")
            except BaseException as exc:
                self._rollback("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise translate_error(exc, self.path) from exc
                raise
            finally:
                self._depth = 0

    @contextmanager
    def snapshot(self) -> Iterator[Db]:
        """A read transaction: every query in the block sees the same state.

        Deferred, so it takes no write lock (WAL readers never block writers);
        inside a write transaction it simply joins it.
        """
        with self._lock:
            self._check_open()
            if self._depth or self._reading:
                yield self.db
                return
            try:
                self._raw.execute("BEGIN DEFERRED")
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from exc
            self._reading = True
            try:
                yield self.db
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from exc
            finally:
                self._reading = False
                self._rollback("ROLLBACK")  # nothing was written; ending the read is all

    def _nested(self) -> Iterator[Db]:
        name = f"store_nested_{self._depth}"
        try:
            self._raw.execute(f"SAVEPOINT {name}")
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        self._depth += 1
        try:
            yield self.db
            self._raw.execute(f"RELEASE {name}")
        except BaseException as exc:
            self._rollback(f"ROLLBACK TO {name}", f"RELEASE {name}")
            if isinstance(exc, sqlite3.Error):
                raise translate_error(exc, self.path) from exc
            raise
        finally:
            self._depth -= 1

    def _rollback(self, *statements: str) -> None:
        # Some errors (disk full, I/O) already ended the transaction; then there is nothing to undo.
        if not self._raw.in_transaction:
            return
        try:
            for statement in statements:
                self._raw.execute(statement)
        except sqlite3.Error:
            pass  # the original exception is the one worth reporting

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    # ------------------------------------------------------------ queries
    def rows(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        with self.guard() as db:
            cursor = db.execute(sql, params)
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def row(self, sql: str, params: Params = None) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Params = None) -> Any:
        with self.guard() as db:
            found = db.execute(sql, params).fetchone()
            return found[0] if found else None

    def execute(self, sql: str, params: Params = None) -> sqlite3.Cursor:
        with self.guard() as db:
            return db.execute(sql, params)

    def side_scalar(self, sql: str, params: Params = None) -> Any:
        """One value from a second, read-only connection, beside whatever the main one is doing.

        For slow reads that nothing waits on (the keys screen's count scans every
        key for a text filter): under WAL they run at the same time as the main
        connection's reads and writes instead of queueing for its lock. They see
        committed data only, so inside a write transaction the main connection
        answers instead.
        """
        with self._lock:
            self._check_open()
            if self._depth:
                found = self._raw.execute(sql, params or []).fetchone()
                return found[0] if found else None
        with self._side_lock:
            if self._side is None:
                try:
                    self._side = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False,
                                                 timeout=BUSY_TIMEOUT_MS / 1000)
                except sqlite3.Error as exc:
                    raise translate_error(exc, self.path) from exc
            try:
                found = self._side.execute(sql, params or []).fetchone()
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from exc
            return found[0] if found else None

    def data_version(self) -> int | None:
        """A number that changes whenever any connection commits to the database; None if it cannot tell now.

        ``PRAGMA data_version`` changes only for commits by *other* connections,
        so it is read on a connection of its own, which sees the main
        connection's commits as well as other processes'. It waits neither for
        the main connection's lock nor (a short timeout) for a busy database: a
        caller polls it, and a missed look is taken again at the next one.
        """
        if self._closed:
            return None
        with self._watch_lock:
            try:
                if self._watch is None:
                    self._watch = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False,
                                                  timeout=WATCH_TIMEOUT_MS / 1000)
                found = self._watch.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error:
                return None
            return int(found[0]) if found else None

    def close(self) -> None:
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None
        with self._side_lock:
            if self._side is not None:
                self._side.close()
                self._side = None
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                # Keeps the planner's statistics fresh for the next start; cheap when nothing changed.
                self._raw.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass
            self._raw.close()
