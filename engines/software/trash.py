"""The software engine's trash: deleted key files kept for a pending window, restored or purged on request.

Layout: ``<key directory>/.trash/`` (0700; a dotfile, so the key inventory never takes it for
a key), one regular file per deleted key holding the key file's own bytes, named
``<ref>.<deleted at, unix seconds>.<window in days>`` (plus ``.<n>`` when that name is taken).
The name alone says which key it is, since when it is pending and until when: no sidecar to
lose. A key moves in and out by a hard link made first and the old name removed second, so
no move ever replaces an existing file; both directories are fsynced after each move. A
crash between the two steps leaves the key under both names, never under none.

Nothing here is removed but by an explicit purge. Symlinks and anything that is not a
regular file are never followed, moved or removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import errors as E
from .. import file_trust as FT

TRASH_DIR = ".trash"
PENDING = "PendingDeletion"
DEFAULT_WINDOW_DAYS = 7  # as AWS KMS's shortest pending window
MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 7, 365
_DAY = 86_400
_HEX = frozenset("0123456789abcdef")
_NO_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV})


def window_days(value: str) -> int:
    """The pending window of a delete option, checked."""
    text = str(value).strip()
    if not text.isdigit() or not MIN_WINDOW_DAYS <= int(text) <= MAX_WINDOW_DAYS:
        raise E.EngineConfigError(
            f"pending_window_days must be a whole number of days from {MIN_WINDOW_DAYS} to {MAX_WINDOW_DAYS}.",
            hint="To destroy a key at once, delete it, then purge it (kms-tui keys action REF purge).",
        )
    return int(text)


@dataclass(frozen=True)
class TrashEntry:
    """One trashed key file."""

    name: str
    ref: str
    deleted: int  # unix seconds
    window_days: int

    @property
    def purge_after(self) -> int:
        return self.deleted + self.window_days * _DAY

    def expired(self, now: float) -> bool:
        return now >= self.purge_after


def parse_name(name: str) -> TrashEntry | None:
    """The entry a trash file name describes, or None for any other name."""
    parts = name.split(".")
    if len(parts) not in (3, 4) or not all(p.isdigit() and len(p) < 16 for p in parts[1:]):
        return None
    ref = parts[0]
    if len(ref) not in (64, 40) or not set(ref) <= _HEX:
        return None
    return TrashEntry(name=name, ref=ref, deleted=int(parts[1]), window_days=int(parts[2]))


def write_new_private(path: str, data: bytes) -> None:
    """Create ``path`` (never an existing name, never through a link), mode 0600 whatever the umask,
    write ``data`` and fsync it: the temporary copy a key file is renamed or linked from."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def fsync_dir(folder: str) -> None:
    # Makes a new or removed name durable; some filesystems refuse fsync on a directory.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Trash:
    """The trash of one key directory."""

    def __init__(self, key_dir: str, engine_id: str, clock: Callable[[], float] = time.time):
        self.key_dir = key_dir
        self.path = os.path.join(key_dir, TRASH_DIR)
        self.engine_id = engine_id
        self.clock = clock  # injectable, so a test can move time instead of waiting

    # --- reading ---------------------------------------------------------

    def _checked_dir(self) -> bool:
        """True when the trash exists and can be trusted; False when there is none yet."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise E.EngineUnavailable(f"The trash {self.path} cannot be examined: {exc.strerror}.") from None
        if not stat.S_ISDIR(st.st_mode):
            raise E.InsecurePermissions(
                f"{self.path} of engine {self.engine_id!r} is not a directory (a symlink or a file was put there); "
                "no key is moved into or out of it.",
                hint=f"Move it aside after checking what it is: {self.path}",
            )
        if st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o022:
            raise E.InsecurePermissions(
                f"The trash {self.path} of engine {self.engine_id!r} is not private to you "
                f"(mode {stat.S_IMODE(st.st_mode):04o}, uid {st.st_uid}); its files are neither read nor moved.",
                hint=f"Check that its files are yours, then: chmod 700 {self.path}",
            )
        return True

    def entries(self) -> list[TrashEntry]:
        """Every trashed key file (regular files with a trash name), oldest deletion first."""
        if not self._checked_dir():
            return []
        found = []
        try:
            with os.scandir(self.path) as listing:
                for item in listing:
                    entry = parse_name(item.name)
                    if entry is not None and item.is_file(follow_symlinks=False):
                        found.append(entry)
        except OSError as exc:
            raise E.EngineUnavailable(f"The trash {self.path} cannot be listed: {exc.strerror}.") from None
        return sorted(found, key=lambda e: (e.deleted, e.name))

    def latest(self) -> dict[str, TrashEntry]:
        """Ref -> its most recent trash entry."""
        return {e.ref: e for e in self.entries()}

    def find(self, ref: str) -> TrashEntry | None:
        return self.latest().get(ref)

    def of(self, ref: str) -> list[TrashEntry]:
        return [e for e in self.entries() if e.ref == ref]

    def read(self, entry: TrashEntry, limit: int) -> bytes:
        """A trashed file's bytes, never through a symlink nor from anything but a regular file."""
        path = os.path.join(self.path, entry.name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise E.KeyParseError(f"Trashed key file {path} cannot be read: {exc.strerror}.") from None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            FT.check_key_file(path, st, self.engine_id)  # trusted as a listed key file is, or not read
            if st.st_size > limit:
                raise E.KeyParseError(f"Trashed key file {path} is larger than any key file.")
            return fh.read(limit + 1)

    # --- moving ----------------------------------------------------------

    def _ensure_dir(self) -> None:
        if self._checked_dir():
            return
        try:
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.path, 0o700)
            os.chmod(self.path, 0o700, follow_symlinks=False)
        except (OSError, NotImplementedError) as exc:
            raise E.EngineUnavailable(f"The trash {self.path} cannot be created: {exc}.") from None
        self._checked_dir()  # what is there now is checked, whoever made it
        fsync_dir(self.key_dir)

    def put(self, ref: str, days: int) -> TrashEntry:
        """Move ``<key dir>/<ref>`` into the trash; the key file must be a regular file."""
        self._ensure_dir()
        source = os.path.join(self.key_dir, ref)
        deleted = int(self.clock())
        for n in range(100):
            name = f"{ref}.{deleted}.{days}" + (f".{n}" if n else "")
            if _move(source, os.path.join(self.path, name)):
                fsync_dir(self.path)
                fsync_dir(self.key_dir)
                return TrashEntry(name=name, ref=ref, deleted=deleted, window_days=days)
        raise E.EngineUnavailable(f"Key {ref} could not be moved to the trash: too many trashed copies of it.")

    def take_back(self, entry: TrashEntry) -> None:
        """Move a trashed file back to ``<key dir>/<ref>``; never over a file already there."""
        target = os.path.join(self.key_dir, entry.ref)
        if not _move(os.path.join(self.path, entry.name), target):
            raise E.KeyExists(
                f"A key file named {entry.ref} is already in the key directory of engine {self.engine_id!r}; "
                "the trashed copy stays in the trash and nothing was overwritten.",
                hint="Check that file (kms-tui doctor, kms-tui sync), move it aside if it is not the key, then restore.",
            )
        fsync_dir(self.key_dir)
        fsync_dir(self.path)

    def remove(self, entry: TrashEntry) -> None:
        """Destroy one trashed file (a purge): only a regular file, never a symlink's target."""
        path = os.path.join(self.path, entry.name)
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode):
                raise E.KeyParseError(f"Trash entry {path} is not a regular file; it was left alone.")
            os.unlink(path)
        except FileNotFoundError:
            return  # purged meanwhile
        except OSError as exc:
            raise E.EngineUnavailable(f"Trashed key file {path} could not be removed: {exc.strerror}.") from None
        fsync_dir(self.path)


def _move(source: str, target: str) -> bool:
    """Link ``source`` at ``target`` then unlink ``source``; False when ``target`` exists (nothing moved)."""
    try:
        st = os.lstat(source)
    except FileNotFoundError:
        raise E.KeyNotFoundInEngine(f"{os.path.basename(source)} is no longer there.") from None
    if not stat.S_ISREG(st.st_mode):
        raise E.KeyParseError(f"{source} is not a regular file; it was not moved.")
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise E.EngineUnavailable(f"{os.path.basename(source)} could not be moved: {exc.strerror}.") from None
        return _rename_if_free(source, target)  # a filesystem without hard links
    try:
        os.unlink(source)
    except OSError as exc:
        # Under both names now: the move is not done, and the caller reports it as such.
        raise E.EngineUnavailable(f"{os.path.basename(source)} could not be moved: {exc.strerror}.") from None
    return True


def _rename_if_free(source: str, target: str) -> bool:
    if os.path.lexists(target):
        return False
    try:
        os.rename(source, target)
    except OSError as exc:
        raise E.EngineUnavailable(f"{os.path.basename(source)} could not be moved: {exc.strerror}.") from None
    return True
