"""Where kms-tui keeps its data, and keeping that directory private.

The data directory holds the metadata database and the default software
engine's keys, so it is created owner-only (0700) and tightened if it exists.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import StoreError

APP_DIR_NAME = "kms-tui"
ENV_DATA_DIR = "KMS_TUI_DATA_DIR"


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
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


def ensure_private_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and its parents) and make it mode 0700; return it.

    ``mkdir``'s mode is filtered by the umask, and an existing directory keeps
    whatever mode it had, so the mode is always set explicitly afterwards.
    """
    target = Path(path).expanduser()
    try:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(target, 0o700)
    except FileExistsError:
        raise StoreError(
            f"{target} exists and is not a directory.",
            title="Data directory unavailable",
            hint="Move that file aside or choose another data directory (--data-dir).",
        ) from None
    except OSError as exc:
        raise StoreError(
            f"Cannot prepare the data directory {target}: {exc.strerror or exc}.",
            title="Data directory unavailable",
            hint="Check its owner and permissions, or choose another one (--data-dir).",
        ) from exc
    return target
