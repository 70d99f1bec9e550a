"""Reading and writing the files an operator names (keys, messages, signatures).

Shared by the CLI and the wizards: limits are checked before reading, and an
existing file is never overwritten (a signature or key file may be evidence).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .service.errors import InvalidInput


def refuse_special(path: str, what: str) -> None:
    """``InvalidInput`` unless ``path`` is a regular file (or a link to one), or missing (the read says so).

    For readers in the workstation's workers: a pipe or a terminal would hold the worker, and
    the app's exit, until something is written to it. The CLI reads pipes on purpose."""
    try:
        mode = os.stat(os.path.expanduser(path)).st_mode
    except (OSError, ValueError):
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InvalidInput(f"{path[:120]!r} is not a regular file; give the path of a {what} file.")


def read_file(path: str, limit: int, what: str) -> bytes:
    """A whole file, refused when missing, a directory, or larger than ``limit``.

    Pipes and devices are read too (``--in <(printf …)``, ``/dev/stdin``): at
    most ``limit`` + 1 bytes, so an endless one is refused rather than read.
    """
    if not path or not path.strip():
        raise InvalidInput(f"Give the path of the {what} file.")
    target = Path(path).expanduser()
    try:
        if not target.exists():
            raise InvalidInput(f"{str(target)[:200]!r} does not exist.")
        if target.is_dir():
            raise InvalidInput(f"{str(target)[:200]!r} is a directory, not a {what} file.")
        if target.is_file() and target.stat().st_size > limit:
            raise InvalidInput(f"The {what} file is {target.stat().st_size} bytes; the limit is {limit} bytes.")
        with open(target, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise InvalidInput(f"Cannot read {str(target)[:200]!r}: {exc.strerror}.") from None
    if len(data) > limit:
        raise InvalidInput(f"The {what} file is larger than {limit} bytes.")
    return data


def open_input(path: str, what: str):
    """A file to read as a stream (batch input): refused when missing or a directory."""
    if not path or not path.strip():
        raise InvalidInput(f"Give the path of the {what} file.")
    target = Path(path).expanduser()
    try:
        if target.is_dir():
            raise InvalidInput(f"{str(target)[:200]!r} is a directory, not a {what} file.")
        return open(target, "rb")
    except FileNotFoundError:
        raise InvalidInput(f"{str(target)[:200]!r} does not exist.") from None
    except OSError as exc:
        raise InvalidInput(f"Cannot read {str(target)[:200]!r}: {exc.strerror}.") from None


def open_new_file(path: str):
    """A new file opened for binary writing; an existing one is never overwritten."""
    if not path or not path.strip():
        raise InvalidInput("Give the path of the file to write.")
    target = str(Path(path).expanduser())
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InvalidInput(f"{target[:200]!r} exists; it is not overwritten.") from None
    except OSError as exc:
        raise InvalidInput(f"Cannot write {target[:200]!r}: {exc.strerror}.") from None
    return os.fdopen(fd, "wb")


def write_new_file(path: str, data: bytes) -> str:
    """Write a new file; an existing one is never overwritten. Returns the path written."""
    with open_new_file(path) as f:
        f.write(data)
    return str(Path(path).expanduser())


def write_made(path: str, make: Callable[[], Any]) -> Any:
    """``make()``'s result, its ``data`` written to the new file ``path``: the file is claimed first (never
    overwritten, so nothing is made for a taken path) and removed again if making or writing fails."""
    with open_new_file(path) as f:
        try:
            made = make()
            f.write(made.data)
        except BaseException:
            os.unlink(os.path.expanduser(path))
            raise
    return made
