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

import json
import math
import unicodedata
from collections.abc import Iterable
from typing import Any

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


# --- JSON documents (key metadata) -------------------------------------------------
# SQLite's json() refuses NaN and Infinity, and Python's json refuses to nest much
# deeper than its recursion limit: a value outside these bounds would be stored
# and then fail every listing, which reads like a damaged database.
MAX_JSON_DEPTH = 32
MAX_JSON_BYTES = 64 * 1024
MAX_COUNT = 10**9  # a limit a person asks for (the command line's bound)
SQLITE_INT_MAX = 2**63 - 1  # beyond it, binding a parameter overflows


def _not_finite(what: str, shown: str) -> InvalidValue:
    return InvalidValue(f"The {what} holds {shown}, which is not a finite number: JSON cannot represent it.",
                        hint="Use a finite number, or a string such as \"NaN\".")


def _too_deep(what: str) -> InvalidValue:
    return InvalidValue(f"The {what} is nested more than {MAX_JSON_DEPTH} levels deep.",
                        hint="Flatten it: metadata is meant for labels and short records.")


def check_json_value(value: object, what: str = "key metadata") -> None:
    """Refuse non-finite numbers, non-text keys, deep nesting and documents over 64 KiB.

    Walked without recursion, so a value nested thousands deep is refused, not a crash.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep(what)
            if isinstance(item, dict):
                if not all(isinstance(k, str) for k in item):
                    raise InvalidValue(f"The {what} has a member name that is not text.")
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise _not_finite(what, repr(item))
        elif not (item is None or isinstance(item, str | int | float)):
            raise InvalidValue(f"The {what} holds a {type(item).__name__}, which is not a JSON value.")
    try:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidValue(f"The {what} holds text that is not valid Unicode (a lone surrogate).") from None
    except ValueError:  # an integer of more digits than Python converts to text
        raise InvalidValue(f"The {what} holds a number too long to write as JSON.") from None
    if size > MAX_JSON_BYTES:
        raise InvalidValue(f"The {what} is {size} bytes as JSON; at most {MAX_JSON_BYTES} are allowed.",
                           hint="Keep large documents elsewhere and store a reference to them.")


def parse_json_object(text: str, what: str = "key metadata") -> dict[str, Any]:
    """``text`` as a JSON object within the bounds above, or InvalidValue saying why."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_JSON_BYTES:
        raise InvalidValue(f"The {what} is larger than {MAX_JSON_BYTES} bytes.",
                           hint="Keep large documents elsewhere and store a reference to them.")

    def refuse(name: str) -> float:  # NaN, Infinity, -Infinity: Python reads them, SQLite does not
        raise _not_finite(what, name)

    try:
        value = json.loads(text, parse_constant=refuse)
    except RecursionError:
        raise _too_deep(what) from None
    except ValueError as exc:
        raise InvalidValue(f"The {what} is not valid JSON ({exc.args[0] if exc.args else exc}).") from None
    if not isinstance(value, dict):
        raise InvalidValue(f"The {what} must be a JSON object, not {type(value).__name__}.")
    check_json_value(value, what)
    return value


def check_count(value: object, label: str) -> int:
    """A limit, offset or size: a whole number SQLite can hold (never an OverflowError)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SQLITE_INT_MAX:
        shown = "a larger number" if isinstance(value, int) and value > 0 else repr(value)[:40]
        raise InvalidValue(f"The {label} must be a whole number from 0 to {SQLITE_INT_MAX}, not {shown}.")
    return value
