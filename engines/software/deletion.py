"""Deletion for the software engine: delete moves a key file to the trash; restore and purge act on it.

A mixin of ``SoftwareEngine`` (it uses the engine's checked paths, parser and cache). A
deleted key is pending deletion for its window (``pending_window_days``, 7 by default, as
AWS KMS's shortest): ``get`` and ``sign`` refuse it, ``inventory`` still lists it with the
state ``PendingDeletion`` so a sync neither flags it missing nor adopts it twice, ``restore``
brings it back (never over a file of that name) and ``purge`` destroys it. Nothing in the
trash is destroyed but by ``purge``; ``expired_deletions`` names the keys whose window ended.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, ClassVar

from .. import errors as E
from .. import keys as K
from ..base import NativeKey, OptionSpec, check_options
from ..file_trust import FileIdentity
from . import trash as T

log = logging.getLogger("engines.software")


class TrashDeletion:
    """The delete, restore and purge half of ``SoftwareEngine``."""

    if TYPE_CHECKING:  # what the engine this is mixed into provides
        DISPLAY: ClassVar[str]
        engine_id: str
        directory: str
        _lock: threading.Lock
        _cache: OrderedDict[str, tuple[FileIdentity, K.PrivateKey]]

        def get(self, ref: str) -> NativeKey: ...
        def _path(self, ref: object) -> str: ...
        def _refuse_if_open_to_others(self) -> None: ...
        def _file(self, ref: str, read: bool = True) -> tuple[FileIdentity, bytes]: ...
        def _parse(self, ref: str, data: bytes) -> K.PrivateKey: ...
        def _native(self, ref: str, private: K.PrivateKey) -> NativeKey: ...
        def _not_found(self, ref: object, why: str = "") -> E.KeyNotFoundInEngine: ...
        def _fsync_dir(self) -> None: ...

    DELETE_OPTIONS: ClassVar[tuple[OptionSpec, ...]] = (
        OptionSpec("pending_window_days",
                   f"days the deleted key stays restorable in the engine's trash "
                   f"({T.MIN_WINDOW_DAYS}-{T.MAX_WINDOW_DAYS})", default=str(T.DEFAULT_WINDOW_DAYS)),
    )
    KEY_ACTIONS: ClassVar[dict[str, str]] = {
        "restore": "bring a key pending deletion back from the engine's trash",
        "purge": "destroy a key pending deletion (cannot be undone)",
    }
    DELETE_NOTICE: ClassVar[str] = (
        f"The key file moves to the engine's trash, pending deletion for {T.DEFAULT_WINDOW_DAYS} days "
        "(option pending_window_days): restore brings it back, purge destroys it.")

    @property
    def trash(self) -> T.Trash:
        trash: T.Trash | None = self.__dict__.get("_trash")
        if trash is None:
            trash = self.__dict__["_trash"] = T.Trash(self.directory, self.engine_id)
        return trash

    def _gone(self, ref: str) -> E.KeyNotFoundInEngine:
        """Not in the key directory: pending deletion when the trash holds it, else not found."""
        with contextlib.suppress(E.KmsError):
            entry = self.trash.find(ref)
            if entry is not None:
                return E.KeyPendingDeletion(
                    f"Key {ref} of engine {self.engine_id!r} is pending deletion (in the engine's trash).",
                    hint="Restore it with: kms-tui keys action REF restore",
                )
        return self._not_found(ref)

    def _trashed(self, known: Collection[str], full: bool, live: set[str]) -> Iterator[NativeKey]:
        """Keys in the trash (not also in the key directory), each once, as pending deletion."""
        for ref, entry in self.trash.latest().items():
            if ref in live:
                continue
            if ref in known and not full:
                yield NativeKey.seen(ref, state=T.PENDING)
                continue
            try:
                private = self._parse(ref, self.trash.read(entry, K.MAX_KEY_FILE_BYTES))
                native = self._native(ref, private)
            except E.KmsError as exc:
                log.warning("Skipped trashed key file %s in %s: %s.", entry.name, self.trash.path, exc.title)
                continue
            if len(ref) == 64 and native.key_id != ref:
                log.warning("Skipped trashed key file %s: it holds another key than its name says.", entry.name)
                continue
            native.state = T.PENDING
            yield native

    def delete(self, ref: str, **options: str) -> str:
        opts = check_options(self.DELETE_OPTIONS, options, f"deleting from {self.DISPLAY}")
        days = T.window_days(opts.get("pending_window_days", str(T.DEFAULT_WINDOW_DAYS)))
        self._path(ref)  # only a key id ever becomes a path
        self._refuse_if_open_to_others()
        self._file(ref, read=False)  # a regular file, or not found / pending deletion
        try:
            self.trash.put(ref, days)
        except E.KeyNotFoundInEngine:
            raise self._gone(ref) from None  # deleted meanwhile
        finally:
            with self._lock:
                self._cache.pop(ref, None)
        return T.PENDING

    def discard(self, ref: str) -> None:
        """A key just made that could not be recorded: removed at once, nothing kept in the trash."""
        path = self._path(ref)
        self._refuse_if_open_to_others()
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            raise self._not_found(ref) from None
        except OSError as exc:
            raise E.EngineUnavailable(f"Key file {path} could not be deleted: {exc.strerror}.") from None
        finally:
            with self._lock:
                self._cache.pop(ref, None)
        self._fsync_dir()

    def key_action(self, ref: str, action: str) -> NativeKey | None:
        if action not in self.KEY_ACTIONS:
            raise E.OperationNotSupported(f"{self.DISPLAY} has no key action {action[:40]!r}.",
                                          hint="Actions: " + ", ".join(self.KEY_ACTIONS) + ".")
        self._path(ref)
        self._refuse_if_open_to_others()
        entry = self.trash.find(ref)
        if entry is None:
            self.get(ref)  # not found is said as such
            raise E.EngineError(f"Key {ref} of engine {self.engine_id!r} is not pending deletion: "
                                f"there is nothing to {action}.", title="Key is not pending deletion")
        if action == "restore":
            return self._restore(ref, entry)
        copies = self.trash.of(ref)
        for each in copies:  # checked first, all of them: only the key named is ever destroyed
            self._opened(ref, each)
        for each in copies:
            self.trash.remove(each)
        try:
            return self.get(ref)  # a copy in the key directory too (put back by hand) is kept
        except E.KeyNotFoundInEngine:
            return None

    def _opened(self, ref: str, entry: T.TrashEntry) -> NativeKey:
        """The trashed file opens and holds the key its name says; else nothing is done with it."""
        native = self._native(ref, self._parse(ref, self.trash.read(entry, K.MAX_KEY_FILE_BYTES)))
        if len(ref) == 64 and native.key_id != ref:
            raise E.KeyIntegrityError(
                f"Trashed file {entry.name} of engine {self.engine_id!r} holds key {native.key_id[:16]}…, not key "
                f"{ref[:16]}…: it is neither restored nor purged.",
                hint=f"Compare it with a backup, then move it out of {self.trash.path} by hand.")
        return native

    def _restore(self, ref: str, entry: T.TrashEntry) -> NativeKey:
        self._opened(ref, entry)  # checked before it moves
        self.trash.take_back(entry)
        return self.get(ref)

    def expired_deletions(self) -> list[str]:
        """Refs of keys pending deletion whose window has ended (by their latest deletion)."""
        if not os.path.isdir(self.directory):
            return []
        now = self.trash.clock()
        return sorted(ref for ref, entry in self.trash.latest().items() if entry.expired(now))

    def pending_until(self, ref: str) -> int | None:
        """When the window of a key pending deletion ends (unix seconds), or None."""
        entry = self.trash.find(ref)
        return None if entry is None else entry.purge_after
