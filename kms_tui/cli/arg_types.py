"""Argument types of the command line: numbers within sane bounds, JSON objects within the store's.

A value out of bounds is a usage error (exit 2, argparse's one line), never an
overflow deep inside SQLite or a RecursionError in the JSON parser.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

from ..service.types import MAX_COUNT

MAX_KEY_SIZE = 65_536  # bits; the largest key any engine makes is RSA-16384
_WHOLE = re.compile(r"[+-]?[0-9]{1,30}")  # ASCII digits only; 30 of them is already far out of bounds


def whole(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        stripped = text.strip()
        if not _WHOLE.fullmatch(stripped):
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, not {text[:40]!r}")
        value = int(stripped)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, not {stripped[:40]}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its own messages
    return parse


count = whole(1, MAX_COUNT)  # --limit
key_size = whole(1, MAX_KEY_SIZE)  # --size


def json_object(text: str) -> dict:
    """An argparse type: a JSON object the store accepts (finite numbers, 32 levels, 64 KiB)."""
    from ..service.errors import InvalidValue
    from ..service.types import parse_json_object

    try:
        return parse_json_object(text, "JSON")
    except InvalidValue as exc:
        raise argparse.ArgumentTypeError(f"{exc.message} {exc.hint or ''}".strip()) from None
