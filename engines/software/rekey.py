"""The software engine's encrypted key files as a whole: find them, prove a passphrase, re-encrypt.

A re-key rewrites the files one at a time, each through a copy that is written,
fsynced and checked (it decrypts under the new passphrase to the same key)
before it is renamed over the original: at every instant each file is
encrypted under the old passphrase or the new one, never neither. Running it
again after an interruption finishes the job (files already under the new
passphrase are left as they are), so it is its own recovery. Before the first
file is touched, every file is checked to open under one of the two
passphrases; a file that opens under neither stops the re-key unchanged.

Key files are the ones the engine lists (named by a key id) and the ones in its
trash (``.trash/``, named by a key id and a suffix): a passphrase guards both.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .. import errors as E
from .. import file_trust as FT
from .. import keys as K
from .trash import TRASH_DIR, fsync_dir, write_new_private

TMP_PREFIX = ".rekey-"
ENCRYPTED_MARKERS = (b"ENCRYPTED PRIVATE KEY", b"Proc-Type: 4,ENCRYPTED")
PROVE_LIMIT = 20  # files tried when proving a passphrase: a mixed directory still finds one
_HEX = frozenset("0123456789abcdef")


def is_key_name(name: str) -> bool:
    """A key id (64 hex) or legacy id (40 hex), alone or followed by a dot and a suffix (trash)."""
    head = name.split(".", 1)[0]
    return len(head) in (64, 40) and set(head) <= _HEX


@contextlib.contextmanager
def directory_lock(directory: str, *, exclusive: bool) -> Iterator[None]:
    """An flock on the key directory itself: a re-key holds it exclusively, a key written takes it
    shared, so no key is written under a passphrase a re-key is replacing. No file is added to the
    directory (Lamassu reads it too)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        yield
        return
    except OSError as exc:
        raise E.EngineUnavailable(f"The key directory {directory} cannot be used: {exc.strerror}.") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def _folders(directory: str) -> list[str]:
    """The key directory and its trash, unless the trash is a symlink (then it is not ours to read)."""
    trash = os.path.join(directory, TRASH_DIR)
    return [directory] if os.path.islink(trash) else [directory, trash]


def key_files(directory: str) -> list[str]:
    """Paths of the regular key files of a key directory and of its trash (symlinks are not followed)."""
    found = []
    for folder in _folders(directory):
        try:
            with os.scandir(folder) as entries:
                found += [e.path for e in entries if is_key_name(e.name) and e.is_file(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise E.EngineUnavailable(f"The key directory {folder} cannot be listed: {exc.strerror}.") from None
    return sorted(found)


def read(path: str, engine_id: str | None = None) -> tuple[bytes, FT.FileIdentity]:
    """(bytes, identity) of a key file, never through a symlink nor from a FIFO or a huge file.

    With ``engine_id``, a file ssh would not trust (another user's, writable by
    others) is refused too: it is read to count what a passphrase guards, but
    never rewritten.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise E.KeyParseError(f"Key file {path} cannot be read: {exc.strerror}.") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if engine_id is not None:
            FT.check_key_file(path, st, engine_id)
        if not stat.S_ISREG(st.st_mode) or st.st_size > K.MAX_KEY_FILE_BYTES:
            raise E.KeyParseError(f"Key file {path} is not a regular file of a key's size.")
        return fh.read(K.MAX_KEY_FILE_BYTES + 1), (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def is_encrypted(data: bytes) -> bool:
    return any(marker in data for marker in ENCRYPTED_MARKERS)


def encrypted_files(directory: str) -> list[str]:
    """The key files (listed and trashed) that only a passphrase opens."""
    found = []
    for path in key_files(directory):
        with contextlib.suppress(E.KmsError):
            if is_encrypted(read(path)[0]):
                found.append(path)
    return found


def still_current(directory: str, passphrase: bytes, tries: int = 3) -> bool:
    """Whether ``passphrase`` opens one of the first few encrypted files (True when there is none).

    Cheap (one directory scan that stops early, one decryption): run before a key is
    written, it catches a driver left holding a passphrase a re-key has since replaced.
    """
    tried = 0
    for folder in _folders(directory):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not (is_key_name(entry.name) and entry.is_file(follow_symlinks=False)):
                continue
            with contextlib.suppress(E.KmsError):
                data = read(entry.path)[0]
                if not is_encrypted(data):
                    continue
                if _open(data, passphrase) is not None:
                    return True
                tried += 1
            if tried >= tries:
                return False
    return tried == 0


def _open(data: bytes, passphrase: bytes | None) -> K.PrivateKey | None:
    """The private key when ``passphrase`` decrypts ``data``, else None."""
    if passphrase is None:
        return None
    try:
        parsed = K.parse_key(data, passphrase)
    except E.KmsError:
        return None
    return parsed.private_key


def prove(directory: str, passphrase: bytes | None) -> str | None:
    """The name of a key file ``passphrase`` decrypts; None when no file is encrypted.

    Raises WrongPassphrase when none of the first few encrypted files opens with it.
    """
    tried = 0
    for path in encrypted_files(directory):
        if _open(read(path)[0], passphrase) is not None:
            return os.path.relpath(path, directory)
        tried += 1
        if tried >= PROVE_LIMIT:
            break
    if not tried:
        return None
    raise E.WrongPassphrase(
        f"The passphrase does not decrypt the encrypted key files in {directory} ({tried} tried).",
        hint="Give the passphrase these files were encrypted with. To change it, use: kms-tui engines rekey ENGINE",
    )


@dataclass
class RekeyResult:
    """What a re-key did, for the audit row and the operator."""

    reencrypted: int = 0
    already: int = 0  # under the new passphrase before this run (a resumed re-key)
    clear: int = 0  # clear files (Lamassu's own), left as they are
    files: list[str] = field(default_factory=list)  # re-encrypted, relative to the directory


Progress = Callable[[int, int], None]  # (files done, files to do)
# A file a re-key rewrites: (path, identity when read, its private key).
Rewrite = tuple[str, FT.FileIdentity, K.PrivateKey]


def reencrypt(directory: str, old: bytes | None, new: bytes, progress: Progress | None = None,
              engine_id: str = "") -> RekeyResult:
    """Re-encrypt every encrypted key file of ``directory`` from ``old`` to ``new`` (see the module doc)."""
    if not new:
        raise E.InvalidInput("The new passphrase is empty.")
    with directory_lock(directory, exclusive=True):
        _remove_stale_copies(directory)
        todo, result = plan(directory, old, new, engine_id)
        for done, (path, identity, private) in enumerate(todo, 1):
            _rewrite(path, identity, private, new, engine_id)
            result.reencrypted += 1
            result.files.append(os.path.relpath(path, directory))
            if progress is not None:
                progress(done, len(todo))
        plan(directory, None, new, engine_id)  # every encrypted file now opens under the new one, or this raises
    return result


def plan(directory: str, old: bytes | None, new: bytes, engine_id: str = "") -> tuple[list[Rewrite], RekeyResult]:
    """(files to rewrite, counts so far): every encrypted file, each opened under the old or the new passphrase; refuses if one opens under neither."""
    todo: list[Rewrite] = []
    result, foreign = RekeyResult(), []
    for path in key_files(directory):
        data, identity = read(path, engine_id)
        if not is_encrypted(data):
            result.clear += 1
        elif _open(data, new) is not None:
            result.already += 1
        else:
            private = _open(data, old)
            if private is None:
                foreign.append(os.path.relpath(path, directory))
            else:
                todo.append((path, identity, private))
    if foreign:
        shown = ", ".join(foreign[:3]) + (" …" if len(foreign) > 3 else "")
        raise E.WrongPassphrase(
            f"{len(foreign)} key file(s) in {directory} open with neither the current nor the new passphrase "
            f"({shown}); nothing was re-encrypted.",
            hint="Find the passphrase of those files (kms-tui doctor lists them), or move them out of the "
            "directory, then run the re-key again.",
        )
    return todo, result


def _rewrite(path: str, identity: FT.FileIdentity, private: K.PrivateKey, new: bytes, engine_id: str) -> None:
    """Replace one key file by its copy under ``new``, checked before the rename."""
    folder = os.path.dirname(path)
    pem = K.private_pkcs8_pem(private, new)
    check = _open(pem, new)
    if check is None or K.key_id_of(check.public_key()) != K.key_id_of(private.public_key()):
        raise E.KeyIntegrityError(f"The re-encrypted copy of {path} does not hold the same key; it was not used.")
    tmp = os.path.join(folder, f"{TMP_PREFIX}{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        write_new_private(tmp, pem)
        if read(path, engine_id)[1] != identity:  # changed since it was read: never replaced blind
            raise E.KeyIntegrityError(f"Key file {path} changed during the re-key; run it again.")
        os.replace(tmp, path)
    except OSError as exc:
        raise E.EngineUnavailable(f"Key file {path} could not be re-encrypted: {exc.strerror}.") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    fsync_dir(folder)


def _remove_stale_copies(directory: str) -> None:
    """Copies left by an interrupted re-key: their original was never replaced, so they are spare."""
    for folder in _folders(directory):
        try:
            names = [n for n in os.listdir(folder) if n.startswith(TMP_PREFIX) and n.endswith(".tmp")]
        except OSError:
            continue
        for name in names:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))
