"""Key files and key directories trusted as ssh trusts a private key, and no further.

A key file is used only when it is a regular file (never followed through a
symbolic link), belongs to the user kms-tui runs as, and neither group nor
others may write to it: anyone who could replace it could make kms-tui sign
with a key of their choosing. The file is opened first and its descriptor
examined, so what is judged is what is read. Modes are never changed here:
a mode others could write through is evidence, and the operator fixes it
knowingly (``kms-tui doctor --repair`` does it after saying so).
"""

from __future__ import annotations

import errno
import os
import stat

from . import errors as E

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)

# (device, inode, mtime in ns, size) of a key file: a file replaced or rewritten has another.
FileIdentity = tuple[int, int, int, int]


def who(bits: int) -> str:
    """'group and others', 'its group' or 'others', for the permission bits given."""
    group, other = bool(bits & 0o070), bool(bits & 0o007)
    return "group and others" if group and other else "its group" if group else "others"


def _untrusted(message: str, hint: str) -> E.InsecurePermissions:
    return E.InsecurePermissions(message, title="Untrusted key file", hint=hint)


def check_key_file(path: str, st: os.stat_result, engine_id: str) -> None:
    """Raise unless ``st`` is a regular file (KeyParseError) of ours that only we may write (InsecurePermissions)."""
    if not stat.S_ISREG(st.st_mode):  # a directory or FIFO under a key's name: never a key
        raise E.KeyParseError(f"Key file {path} of engine {engine_id!r} is not a regular file.",
                              hint="Move it aside: a key file is a regular file.")
    if st.st_uid != os.geteuid():
        raise _untrusted(
            f"Key file {path} of engine {engine_id!r} belongs to another user (uid {st.st_uid}); "
            "it is not used, as ssh would not use such a private key.",
            f"If it is meant to be yours, check that it holds the key you expect, then: chown {os.geteuid()} {path}")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        raise _untrusted(
            f"Key file {path} of engine {engine_id!r} is writable by {who(mode & 0o022)} (mode {mode:04o}); "
            "it is not used, as ssh would not use such a private key.",
            f"Check that it holds the key you expect, then: chmod 600 {path}")


def open_key_file(path: str, engine_id: str) -> tuple[int, os.stat_result]:
    """An open descriptor of the key file at ``path`` and its fstat, once it passed check_key_file.

    FileNotFoundError and NotADirectoryError pass through (the key is absent);
    a symbolic link or an untrusted file raises InsecurePermissions.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)  # O_NONBLOCK: a FIFO in its place must not hang the open
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(path):
            raise _untrusted(
                f"Key file {path} of engine {engine_id!r} is a symbolic link; only a regular file is read as a key.",
                f"Check where it points, then replace the link by that file: cp --remove-destination "
                f"\"$(readlink -f {path})\" {path}") from None
        raise
    try:
        st = os.fstat(fd)
        check_key_file(path, st, engine_id)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_fd(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes from ``fd`` (which the caller closes)."""
    chunks, left = [], limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def check_key_dir(directory: str, engine_id: str) -> int | None:
    """The key directory's mode, once it passed; None when it cannot be examined (absent).

    Refused (InsecurePermissions) when another user owns it or group or others
    may write to it. A directory only readable by others is the operator's
    choice (a Lamassu directory shared with its group): see ``open_warning``.
    """
    try:
        st = os.stat(directory)
    except OSError:
        return None  # absent: created private on first write; unreadable: the caller says so
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.geteuid():
        raise E.InsecurePermissions(
            f"The key directory {directory} of engine {engine_id!r} belongs to another user (uid {st.st_uid}); "
            "its key files are neither read nor written.",
            hint=f"Run kms-tui as the user who owns it, or, if it is meant to be yours: chown {os.geteuid()} {directory}")
    if mode & 0o022:
        raise E.InsecurePermissions(
            f"The key directory {directory} of engine {engine_id!r} is writable by {who(mode & 0o022)} "
            f"(mode {mode:04o}); its key files are neither read nor written.",
            hint=f"Check that its files are yours, then: chmod 700 {directory}")
    return mode


def open_warning(directory: str, engine_id: str) -> str | None:
    """A sentence when the key directory is open to others (world-accessible), else None."""
    try:
        mode = stat.S_IMODE(os.stat(directory).st_mode)
    except OSError:
        return None
    if not mode & 0o007:
        return None
    return (f"The key directory {directory} of engine {engine_id!r} is open to others (mode {mode:04o}): "
            f"any user of this machine can list its keys. Unless that is meant: chmod o-rwx {directory}")
