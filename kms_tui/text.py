"""Showing untrusted text safely: key names, tags and metadata from engines or users.

Shared by the CLI and the TUI. Control characters (C0, C1, DEL) and bidi
format characters are shown as escapes, so a hostile name cannot move the
cursor, retitle the terminal or reorder what follows it. Rich markup needs no
escaping here: the TUI always renders these strings as ``rich.text.Text``,
never as markup.
"""

from __future__ import annotations

import unicodedata
from typing import Any


def safe_text(value: Any, limit: int | None = None) -> str:
    """Printable form of a value: controls and bidi overrides shown as escapes; optional truncation."""
    text = "" if value is None else str(value)
    if text.isprintable():  # no control or format character at all (the usual case): nothing to escape
        return text if limit is None or len(text) <= limit else text[: max(1, limit - 1)] + "…"
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cc" or (cat == "Cf" and ch != "\u200d"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    text = "".join(out)
    if limit is not None and len(text) > limit:
        text = text[: max(1, limit - 1)] + "…"
    return text
