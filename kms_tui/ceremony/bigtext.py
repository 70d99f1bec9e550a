"""A hash printed large, for the paper record: 3-row block glyphs, 16 characters a line."""

from __future__ import annotations

GLYPHS = {
    "0": ("█▀█", "█ █", "▀▀▀"), "1": (" ▄█", "  █", "  ▀"), "2": ("▀▀█", "█▀▀", "▀▀▀"), "3": ("▀▀█", " ▀█", "▀▀▀"),
    "4": ("█ █", "▀▀█", "  ▀"), "5": ("█▀▀", "▀▀█", "▀▀▀"), "6": ("█▀▀", "█▀█", "▀▀▀"), "7": ("▀▀█", "  █", "  ▀"),
    "8": ("█▀█", "█▀█", "▀▀▀"), "9": ("█▀█", "▀▀█", "▀▀▀"), "a": ("▄▀▄", "█▀█", "▀ ▀"), "b": ("█▄ ", "█▀█", "▀▀▀"),
    "c": ("█▀▀", "█  ", "▀▀▀"), "d": (" ▄█", "█▀█", "▀▀▀"), "e": ("█▀▀", "█▀▀", "▀▀▀"), "f": ("█▀▀", "█▀ ", "▀  "),
}


def big_hash(value: str, per_line: int = 16) -> str:
    """The hex string in block glyphs (groups of four), followed by each line in plain text."""
    value = value.lower()
    blocks = []
    for start in range(0, len(value), per_line):
        chunk = value[start:start + per_line]
        rows = []
        for r in range(3):
            groups = [" ".join(GLYPHS[c][r] for c in chunk[g:g + 4]) for g in range(0, len(chunk), 4)]
            rows.append("   ".join(groups).rstrip())
        plain = " ".join(chunk[g:g + 4] for g in range(0, len(chunk), 4))
        blocks.append("\n".join(rows) + f"\n{plain}")
    return "\n\n".join(blocks)
