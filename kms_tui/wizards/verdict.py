"""The verify wizard's verdict: VALID in large green letters, or INVALID in red.

Three rows of block characters, so the answer reads at a glance across the
room in a key ceremony, and in a plain 80×24 terminal.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

GLYPHS = {
    "V": ("█   █", "▀▄ ▄▀", "  ▀  "),
    "A": ("▄▀▀▀▄", "█▀▀▀█", "▀   ▀"),
    "L": ("█    ", "█    ", "▀▀▀▀▀"),
    "I": ("▀█▀", " █ ", "▀▀▀"),
    "D": ("█▀▀▀▄", "█   █", "▀▀▀▀ "),
    "N": ("█▄  █", "█ ▀▄█", "▀   ▀"),
}


def banner(word: str) -> str:
    """``word`` in three rows of block letters (only the letters of VALID and INVALID)."""
    return "\n".join("  ".join(GLYPHS[c][row] for c in word) for row in range(3))


class Verdict(Static):
    """Shows a verification result; empty until ``show`` is called."""

    DEFAULT_CSS = """
    Verdict { height: auto; padding: 1 2; content-align: center middle; text-align: center; text-style: bold; }
    Verdict.valid { background: $success; color: $text; }
    Verdict.invalid { background: $error; color: $text; }
    """

    def show(self, valid: bool) -> None:
        self.set_classes("valid" if valid else "invalid")
        word = "VALID" if valid else "INVALID"
        sentence = ("The signature matches this message and key." if valid
                    else "The signature does NOT match this message and key.")
        self.update(Text(banner(word) + "\n\n" + sentence))
