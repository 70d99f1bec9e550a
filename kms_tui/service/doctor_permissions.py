"""Doctor's judgement of one path's owner and mode, and the one place that changes a mode.

kms-tui's own directories (the data directory and what it made inside it) are
held to 0700 and its files to 0600. A key directory kms-tui did not create (a
Lamassu directory shared with its group at 0750) keeps its mode: group access
is no finding, access by others is a warning, and doctor never changes it, not
even with ``--repair``; it says the command instead. Anything group or others
may write to is an error, since the software engine refuses it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from engines.file_trust import who

_HEX = frozenset("0123456789abcdef")


def _key_name(path: Path) -> bool:
    return len(path.name) in (40, 64) and set(path.name) <= _HEX


def _error(path: Path, message: str, hint: str) -> dict[str, Any]:
    return {"severity": "error", "subject": str(path), "message": message, "hint": hint}


def _lstat(path: Path, follow: bool) -> os.stat_result | None:
    try:
        return os.stat(path) if follow else os.lstat(path)
    except FileNotFoundError:
        return None


def _kind_problem(path: Path, st: os.stat_result, what: str) -> dict[str, Any] | None:
    """A key file that is a link or not a regular file; another user's path."""
    if "key file" in what and _key_name(path) and stat.S_ISLNK(st.st_mode):
        return _error(path, f"The {what} is a symbolic link; the software engine does not follow it and refuses "
                      "the key.", f"Check where it points, then replace the link by that file: cp "
                      f"--remove-destination \"$(readlink -f {path})\" {path}")
    if "key file" in what and _key_name(path) and not stat.S_ISREG(st.st_mode):
        return _error(path, f"The {what} is not a regular file; the software engine refuses it.",
                      f"Move it aside: {path}")
    if st.st_uid != os.geteuid():
        return _error(path, f"The {what} belongs to another user (uid {st.st_uid}); kms-tui refuses it.",
                      f"Make it yours (chown) after checking its content, or move it aside: {path}")
    return None


def judge(path: Path, wanted: int, what: str, *, repair: bool, shared: bool = False) -> dict[str, Any] | None:
    """Keyword arguments of a permissions Finding for ``path``, or None when there is nothing to say.

    ``wanted`` is the mode of kms-tui's own kind of path (0700, 0600); ``shared``
    marks a key directory kms-tui did not create, and the files in it.
    With ``repair``, a mode kms-tui may change is changed, and the finding says
    from what to what.
    """
    directory = wanted == 0o700
    try:
        st = _lstat(path, follow=directory)  # a data directory may be a link to the real one
    except OSError as exc:
        return _error(path, f"The {what} cannot be examined: {exc.strerror}.", "Check its owner and permissions.")
    if st is None or (stat.S_ISLNK(st.st_mode) and "key file" not in what):
        return None
    problem = _kind_problem(path, st, what)
    if problem is not None or stat.S_ISLNK(st.st_mode):
        return problem
    if "key file" in what and not stat.S_ISREG(st.st_mode):
        return None  # not named like a key: the engine never reads it
    mode = stat.S_IMODE(st.st_mode)
    tolerated = 0o050 if shared else 0  # group read (and search) of a directory shared with its group
    if not mode & 0o077 & ~tolerated:
        return None
    writable = bool(mode & 0o022)
    changeable = not (shared and directory)  # a directory kms-tui did not create keeps its mode
    target = wanted if not shared else mode & ~0o027
    consequence = ""
    if writable and ("key directory" in what or "key file" in what):
        consequence = " The software engine refuses its key files until it is fixed." if directory else (
            " The software engine refuses it until it is fixed.")
    bits = mode & 0o022 if writable else mode & 0o077 & ~tolerated
    found = {
        "severity": "error" if writable else "warning", "subject": str(path),
        "message": f"The {what} is {'writable' if writable else 'readable'} by {who(bits)} "
                   f"(mode {mode:04o}).{consequence}",
        "hint": f"chmod {target:o} {path}" + (" (check that its files are yours first)" if writable else ""),
        "repairable": changeable,
    }
    if not changeable:
        found["hint"] = ("kms-tui leaves the mode of a directory it did not create as it is. "
                         + (f"Check that its files are yours, then: chmod go-w {path}" if writable
                            else f"Unless others are meant to reach it: chmod o-rwx {path}"))
    if repair and changeable:
        try:
            os.chmod(path, target)
            found.update(repaired=True, changed=f"mode {mode:04o} changed to {target:04o} (chmod {target:o} {path})")
        except OSError as exc:
            found["hint"] = f"chmod {target:o} {path} failed: {exc.strerror}."
    return found
