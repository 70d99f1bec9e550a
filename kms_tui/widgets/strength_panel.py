"""The strength panel: the spec's class, why, what would raise it, quantum exposure, and fitness per PKI role."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ..service.algorithms import strength, strength_reason
from ..service.quantum import assess, certificate_line, quantum_cells
from ..strength import role_advice, stronger_choice
from .cells import STRENGTH_STYLE


class StrengthPanel(Static):
    """Given an algorithm and size (and the engine's security level, when known), its strength and role fitness.

    ``show_certificate`` adds how the key's latest certificate stands against 2030, once it is known.
    """

    DEFAULT_CSS = """
    StrengthPanel { border: round $primary-darken-1; padding: 0 1; height: auto; }
    """

    def __init__(self, algorithm: str, size: int, security_level: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.border_title = "Strength"
        self.show(algorithm, size, security_level)

    def show(self, algorithm: str, size: int, security_level: int | None = None,
             certificate_not_after: str | None = None) -> None:
        """``security_level`` None: fitness by size alone (no engine chosen yet)."""
        self.spec = (algorithm, size, security_level)
        level = strength(algorithm, size)
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True, min_width=19)
        table.add_column()
        table.add_row(Text(level, style=STRENGTH_STYLE[level]), Text(strength_reason(algorithm, size)))
        better = stronger_choice(algorithm, size)
        if better:
            table.add_row(Text("Stronger", style="dim"), Text(better))
        vulnerable = assess(algorithm, size).vulnerable
        label, text = quantum_cells(algorithm, size)
        table.add_row(Text(label, style="yellow" if vulnerable else "green"), Text(text))
        certificate = certificate_line(certificate_not_after) if vulnerable else None
        if certificate:
            table.add_row(Text("Latest certificate", style="dim"), Text(certificate))
        for advice in role_advice(algorithm, size, security_level):
            mark = Text("✓ " if advice.fits else "✗ ", style="green" if advice.fits else "red")
            table.add_row(mark + Text(advice.role), Text(advice.advice, style="" if advice.fits else "dim"))
        self.update(table)

    def show_certificate(self, not_after: str | None) -> None:
        """The same key, with the end of its latest certificate (ISO UTC) weighed against 2030."""
        algorithm, size, security_level = self.spec
        self.show(algorithm, size, security_level, not_after)
