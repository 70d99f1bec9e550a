"""Where kms-tui keeps its data, and keeping that directory private.

The data directory holds the metadata database and the default software
engine's keys, so it is created owner-only (0700). One that exists keeps its
mode, and is refused when it belongs to another user or group or others may
write to it (``store.trust``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import StoreError
from .trust import check_trusted

APP_DIR_NAME = "kms-tui"
ENV_DATA_DIR = "KMS_TUI_DATA_DIR"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``explicit``, else ``$KMS_TUI_DATA_DIR``, else XDG.

    An empty value counts as unset. A relative ``$XDG_DATA_HOME`` is ignored,
    as the XDG Base Directory specification requires.
    """
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / APP_DIR_NAME
    return Path.home() / ".local" / "share" / APP_DIR_NAME


def _make_missing(target: Path) -> None:
    """Create ``target`` and its missing parents, each 0700 whatever the umask.

    Only a directory made here is given a mode: one that exists keeps its own.
    """
    missing, path = [], target
    while not os.path.isdir(path) and path.parent != path:
        missing.append(path)
        path = path.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue  # made meanwhile, or a file in the way: judged below
        os.chmod(path, 0o700)  # made here: the exact mode, whatever the umask


def ensure_private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and its parents) mode 0700, or check the existing one; return it.

    An existing directory that belongs to another user or that group or others
    may write to is refused (UntrustedPath) and left as it is.
    """
    target = Path(path).expanduser()
    try:
        _make_missing(target)
        st = os.stat(target)
    except OSError as exc:
        raise StoreError(
            f"Cannot prepare the data directory {target}: {exc.strerror or exc}.",
            title="Data directory unavailable",
            hint="Check its owner and permissions, or choose another one (--data-dir).",
        ) from exc
    if not stat.S_ISDIR(st.st_mode):
        raise StoreError(
            f"{target} exists and is not a directory.",
            title="Data directory unavailable",
            hint="Move that file aside or choose another data directory (--data-dir).",
        )
    check_trusted(target, st, "data directory", 0o700)
    return target
