"""The ceremony's output directory: new files only, never through a symbolic link, each one durable.

Before anything starts, ``check_new`` looks at every name the ceremony will write with
``lstat`` semantics: an existing file, and a symbolic link even when it dangles, is refused.
Once the ceremony starts, ``OutputDir`` holds the directory open (``O_NOFOLLOW``) and makes
every file relative to it with ``O_CREAT | O_EXCL | O_NOFOLLOW``, so a file or link planted
after the check is refused too. Each file is fsynced, and the directory after it, before the
transcript names it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import weakref
from pathlib import Path

from .errors import CeremonyRefused

NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_READ = 16 * 1024 * 1024
OVERWRITE_HINT = "Name a new output directory in the script, or move the old files away."


def _refuse_existing(target: Path) -> None:
    if target.is_symlink():
        raise CeremonyRefused(f"{target} is a symbolic link; a ceremony never writes through one.", hint=OVERWRITE_HINT)
    if os.path.lexists(target):
        raise CeremonyRefused(f"{target} exists; a ceremony never overwrites a file.", hint=OVERWRITE_HINT)


def check_new(directory: Path, names: list[str]) -> None:
    """Refuse when the directory is a link or not a directory, or when any of ``names`` is taken."""
    if directory.is_symlink():
        raise CeremonyRefused(f"The output directory {directory} is a symbolic link; name the directory itself.")
    if os.path.lexists(directory) and not directory.is_dir():
        raise CeremonyRefused(f"The output directory {directory} exists and is not a directory.")
    for name in names:
        _refuse_existing(directory / name)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(path: Path) -> None:
    """``mkdir -p`` (mode 0700), each new directory's entry fsynced in its parent."""
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        path = path.parent
    for made in reversed(missing):
        try:
            made.mkdir(mode=0o700)
        except FileExistsError:
            continue
        _fsync_dir(made.parent)


class OutputDir:
    """The output directory, held open while the ceremony runs."""

    def __init__(self, path: Path):
        self.path = path
        try:
            _make_dirs(path)
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and path.is_symlink():
                raise CeremonyRefused(f"The output directory {path} is a symbolic link; name the directory "
                                      "itself.") from None
            raise CeremonyRefused(f"Cannot open the output directory {path}: {exc.strerror}.") from None
        self._close = weakref.finalize(self, os.close, self.fd)

    def close(self) -> None:
        self._close()

    def create(self, name: str) -> int:
        """A new file (mode 0644) open for appending; refused when the name is taken, even by a link."""
        try:
            fd = os.open(name, NEW_FILE | os.O_APPEND, 0o644, dir_fd=self.fd)
        except FileExistsError:
            _refuse_existing(self.path / name)
            raise CeremonyRefused(f"{self.path / name} exists; a ceremony never overwrites a file.") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CeremonyRefused(f"{self.path / name} is a symbolic link; a ceremony never writes "
                                      "through one.") from None
            raise CeremonyRefused(f"Cannot create {self.path / name}: {exc.strerror}.") from None
        self.sync()
        return fd

    def sync(self) -> None:
        os.fsync(self.fd)

    def write_new(self, name: str, data: bytes) -> None:
        """Write a whole new file and fsync it (and the directory) before returning."""
        fd = self.create(name)
        try:
            write_all(fd, data)
            os.fsync(fd)
        except OSError as exc:
            raise CeremonyRefused(f"Cannot write {self.path / name}: {exc.strerror}.") from None
        finally:
            os.close(fd)

    def read(self, name: str) -> bytes:
        """A file this ceremony wrote, read without following a link."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        except OSError as exc:
            raise CeremonyRefused(f"Cannot read {self.path / name}: {exc.strerror}.") from None
        with os.fdopen(fd, "rb") as f:
            data = f.read(MAX_READ + 1)
        if len(data) > MAX_READ:
            raise CeremonyRefused(f"{self.path / name} is larger than {MAX_READ} bytes.")
        return data

    def sha256(self, name: str) -> str:
        return hashlib.sha256(self.read(name)).hexdigest()


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
