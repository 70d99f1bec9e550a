"""Telling a damaged database from a request SQLite refused.

SQLite answers "malformed" both for a damaged file and for one stored value it
cannot read (``malformed JSON``). Only SQLite's own ``PRAGMA quick_check`` says
which; the error is worded after it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import DatabaseError


def quick_check(path: Path) -> list[str] | None:
    """SQLite's own verdict on the file (``["ok"]`` when sound), or None when it cannot be asked."""
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=2)
        try:
            return [str(row[0]) for row in conn.execute("PRAGMA quick_check(5)")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        low = str(exc).lower()
        # Opening or reading the file itself failed the check.
        return [str(exc)] if "not a database" in low or "malformed" in low or "encrypted" in low else None
    except (sqlite3.Error, OSError, ValueError):
        return None


def judged(text: str, path: Path) -> DatabaseError:
    """The error for a 'malformed' or 'not a database' answer: "damaged" only when SQLite finds it so.

    A value SQLite refuses (``malformed JSON`` in one row) is not a damaged file,
    and advice to move the file aside would invite the loss of every record.
    """
    verdict = quick_check(path)
    if verdict is None or verdict == ["ok"]:
        found = "SQLite's quick check finds the file sound" if verdict else "the file could not be checked"
        return DatabaseError(
            f"The database {path} could not answer this request ({text}); {found}.",
            hint="Keep the file as it is: run kms-tui doctor, and report the problem if it stays.",
        )
    shown = "; ".join(verdict[:3])
    if any("not a database" in v.lower() or "encrypted" in v.lower() for v in verdict):
        return DatabaseError(
            f"{path} is not a kms-tui database: SQLite finds no database in it ({shown}).",
            title="Not a kms-tui database",
            hint="Check that --data-dir names a kms-tui data directory. Keep the file: it may be a damaged "
            "kms.db to recover, or another program's.",
        )
    return DatabaseError(
        f"The database {path} is damaged: SQLite's quick check reports {shown}.",
        title="Damaged database",
        hint="Stop kms-tui and keep a copy of the file; restore kms.db from a backup, or recover it with "
        "sqlite3's .recover (see kms-tui doctor). Key material in the engines is not affected.",
    )
