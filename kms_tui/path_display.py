"""How the TUI shows file system paths, and reads them back when they are typed.

Every path the app draws (an engine's key directory, a file it wrote, a path in an
error message or a doctor finding, the file picker's choice) goes through one
``PathDisplay``. By default it writes the home directory as ``~``; the app can be
given other aliases (a real directory and the text shown for it). A path typed in
a field is read back through ``real``, so a shown path typed or picked works as
the real one. Commands keep an alias only where a shell expands it back (``~``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

HOME = "~"


def _home() -> dict[Path, str]:
    """The home directory as ``~`` (no alias when there is no home to speak of)."""
    try:
        return {Path.home(): HOME}
    except RuntimeError:
        return {}


class PathDisplay:
    """Aliases of directories: the real one, and the text shown for it."""

    def __init__(self, aliases: Mapping[str | os.PathLike, str] | None = None):
        if aliases is None:
            aliases = _home()
        given = [(os.fspath(real).rstrip("/"), shown.rstrip("/") or shown) for real, shown in aliases.items()]
        given = [(real, shown) for real, shown in given if real]  # "/" itself is never aliased
        pairs: dict[str, str] = {}
        for real, shown in given:
            for variant in (real, os.path.realpath(real)):  # a path through a link is the same directory
                if variant != "/":
                    pairs.setdefault(variant, shown)
        # The longest directory first: a nested alias wins over its parent's.
        self._aliases = sorted(pairs.items(), key=lambda pair: -len(pair[0]))
        # Typed text is read back by the longest shown prefix first, to the directory as it was given.
        self._typed = sorted(((shown, real) for real, shown in given), key=lambda pair: -len(pair[0]))
        self._in_text = [(re.compile(rf"(?<![\w.~/-]){re.escape(real)}(?=/|$|[^\w.~-])"), shown)
                         for real, shown in self._aliases]

    def split(self, path: str | os.PathLike) -> tuple[str, str] | None:
        """(shown root, the rest after its "/") for a path under an alias; None otherwise."""
        text = os.fspath(path)
        for real, shown in self._aliases:
            if text == real:
                return shown, ""
            if text.startswith(real + "/"):
                return shown, text[len(real) + 1:]
        return None

    def path(self, path: str | os.PathLike) -> str:
        """One path as shown."""
        parts = self.split(path)
        if parts is None:
            return os.fspath(path)
        shown, rest = parts
        return f"{shown}/{rest}" if rest else shown

    def text(self, text: str) -> str:
        """A message with every aliased directory in it written as shown."""
        for pattern, shown in self._in_text:
            text = pattern.sub(lambda _match, shown=shown: shown, text)
        return text

    def real(self, typed: str) -> str:
        """A typed (or shown) path back as the real one; text under no alias is returned as it is."""
        for shown, real in self._typed:
            if typed == shown or typed.startswith(shown + "/"):
                return real + typed[len(shown):]
        return typed
