"""The confirm step's compatibility note: which clients of the engine's backend cannot use the key.

Shown by the create and import wizards before anything is made or written, from
``kms.keys.compatibility``: a warning line per client that cannot use the key, or, on an engine
shared with Lamassu that Lamassu cannot use the key on, the refusal the service will make.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..service import Compatibility


def note_text(compatibility: Compatibility) -> Text:
    """The note's lines; empty when every client can use the key."""
    lines: list[Text] = []
    refusal = compatibility.refusal
    if refusal is not None:
        lines.append(Text.assemble(("Refused: ", "bold red"),
                                   (f"this engine is shared with Lamassu, and {refusal.reason}.", "red")))
    for verdict in compatibility.problems:
        if verdict is not refusal:
            lines.append(Text.assemble(("Warning: ", "bold yellow"), verdict.line()))
    return Text("\n").join(lines)


class CompatibilityNote(Static):
    """Hidden until the check finds a client that cannot use the key."""

    DEFAULT_CSS = """
    CompatibilityNote { margin-bottom: 1; }
    """

    def on_mount(self) -> None:
        self.display = False

    def show(self, compatibility: Compatibility) -> None:
        text = note_text(compatibility)
        self.update(text)
        self.display = bool(text.plain)

    def clear(self) -> None:
        self.update("")
        self.display = False
