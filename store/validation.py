"""Checks on the text the store keeps: names, aliases, tags and ids.

Names come from operators and from crypto backends (a PKCS#11 label, a Vault path), so
whatever they hold is kept literally: Rich-markup lookalikes, bidi marks,
escape sequences and other control characters included. Escaping them for
display is the presentation layer's job (``kms_tui.text.safe_text``), not the
store's. Only NUL (which C libraries and terminals truncate at), blank values
and absurd lengths are refused. Surrounding spaces are dropped: they are
invisible in a table and would make two names look identical.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from .errors import InvalidValue

MAX_TEXT = 16_384


def has_control_chars(value: str) -> bool:
    # Category Cc is exactly C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F).
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def clean(value: str) -> str:
    """The stored form of a name: surrounding spaces dropped, nothing else touched."""
    return value.strip(" ")


def check_text(value: object, what: str) -> str:
    """Return ``value`` as stored, or raise InvalidValue saying what is wrong."""
    if not isinstance(value, str):
        raise InvalidValue(f"The {what} must be text, not {type(value).__name__}.")
    if "\x00" in value:
        # The value itself is not echoed: it may carry terminal escape sequences.
        raise InvalidValue(f"The {what} contains a NUL character.", hint=f"Remove it from the {what}.")
    text = clean(value)
    if not text.strip():
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
