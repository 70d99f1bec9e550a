"""Checks on the text the store keeps: names, aliases, tags and ids.

Names end up in terminals, log lines and lookups, so control characters (C0,
DEL, C1 — the stuff of escape sequences) are refused outright. Anything else
printable is kept literally, Rich-markup lookalikes and bidi marks included:
escaping for display is the presentation layer's job, not the store's.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from .errors import InvalidValue

MAX_TEXT = 255


def has_control_chars(value: str) -> bool:
    # Category Cc is exactly C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F).
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def check_text(value: object, what: str) -> str:
    """Return ``value`` stripped, or raise InvalidValue saying what is wrong.

    Leading and trailing blanks are dropped: they are invisible in a table and
    would make two names look identical.
    """
    if not isinstance(value, str):
        raise InvalidValue(f"The {what} must be text, not {type(value).__name__}.")
    if has_control_chars(value):
        # Checked before stripping, which would silently eat a trailing newline or NEL.
        # The value itself is not echoed: it may carry terminal escape sequences.
        raise InvalidValue(
            f"The {what} contains control characters (such as escape, tab or newline).",
            hint=f"Use printable characters only in the {what}.",
        )
    text = value.strip()
    if not text:
        raise InvalidValue(f"The {what} is empty.", hint=f"Give the {what} at least one visible character.")
    if len(text) > MAX_TEXT:
        raise InvalidValue(
            f"The {what} is {len(text)} characters long; at most {MAX_TEXT} are allowed.",
            hint=f"Choose a shorter {what}.",
        )
    return text


def check_tags(tags: Iterable[str] | None) -> list[str]:
    """Validated tags, duplicates dropped, first-seen order kept."""
    if tags is None:
        return []
    if isinstance(tags, str):
        raise InvalidValue("Tags must be a list of strings, not one string.")
    seen: dict[str, None] = {}
    for tag in tags:
        seen.setdefault(check_text(tag, "tag"), None)
    return list(seen)
