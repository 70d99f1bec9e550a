"""Rich renderables for untrusted values: always Text, never markup."""

from __future__ import annotations

from rich.text import Text

from ..text import safe_text

STRENGTH_STYLE = {"HIGH": "bold green", "MEDIUM": "yellow", "LOW": "bold red"}


def literal(value, limit: int | None = None, style: str = "") -> Text:
    """A value shown exactly as it is (markup and escape sequences do nothing)."""
    return Text(safe_text(value, limit), style=style, no_wrap=False)


def strength(level: str) -> Text:
    return Text(level, style=STRENGTH_STYLE.get(level, ""))


def security_level(level: int) -> Text:
    return Text(f"SL{level}", style={2: "bold green", 1: "cyan"}.get(level, ""))
