"""Choosing a key's algorithm and size among what one engine can create, with its strength shown live."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from ..service import algorithms as A
from ..widgets.cells import strength
from ..widgets.strength_panel import StrengthPanel

CREATABLE = (A.RSA, A.ECDSA, A.ED25519, A.ML_DSA)


def size_label(algorithm: str, size: int) -> Text:
    """A size as people name it (P-384 for ECDSA, ML-DSA-65), with its strength class."""
    if algorithm == A.ML_DSA:
        name = A.display_name(algorithm, size)
    else:
        name = A.NIST_NAME.get(size, str(size)) if algorithm == A.ECDSA else str(size)
    return Text(name.ljust(7) if len(name) < 7 else f"{name} ") + strength(A.strength(algorithm, size))


def supported_text(supported: dict[str, list[int]]) -> str:
    """"RSA 2048/3072/4096 · ECDSA P-256/P-384 · Ed25519 · ML-DSA-44/65/87"."""
    parts = []
    for alg in CREATABLE:
        sizes = supported.get(alg) or []
        if alg == A.ED25519 and sizes:
            parts.append(alg)
        elif sizes:
            shown = [A.NIST_NAME.get(s, str(s)) if alg == A.ECDSA else str(s) for s in sizes]
            parts.append(f"{alg}{'-' if alg == A.ML_DSA else ' '}{'/'.join(shown)}")
    return " · ".join(parts)


class KeySpecChooser(Horizontal):
    """Two lists (algorithm, size) offering only ``supported``, and the strength panel of the choice.

    The first HIGH size is proposed for each algorithm; a choice survives being
    offered again (Back, then Next) while the engine still supports it. Role fitness
    takes the engine's security level into account: a root CA key is not fit in
    software, however long it is.
    """

    DEFAULT_CSS = """
    KeySpecChooser { height: auto; }
    KeySpecChooser #algorithm-col { width: 14; height: auto; }
    KeySpecChooser #size-col { width: 18; height: auto; margin-right: 1; }
    KeySpecChooser OptionList { height: auto; }
    KeySpecChooser StrengthPanel { width: 1fr; }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supported: dict[str, list[int]] = {}
        self.algorithm: str | None = None
        self.key_size: int | None = None
        self.security_level: int | None = None  # the engine's; None: fitness by size alone

    def compose(self) -> ComposeResult:
        with Vertical(id="algorithm-col"):
            yield Label("Algorithm")
            yield OptionList(id="algorithm-list")
        with Vertical(id="size-col"):
            yield Label("Size")
            yield OptionList(id="size-list")
        yield StrengthPanel(A.RSA, 3072, id="create-strength")

    def offer(self, supported: dict[str, list[int]], security_level: int | None = None) -> None:
        self.supported = supported
        self.security_level = security_level
        algorithms = self.query_one("#algorithm-list", OptionList)
        algorithms.set_options(Option(alg, id=alg) for alg in supported)
        keep = self.algorithm if self.algorithm in supported else next(iter(supported))
        algorithms.highlighted = list(supported).index(keep)
        self._fill_sizes(keep)

    def _fill_sizes(self, algorithm: str) -> None:
        sizes = self.supported.get(algorithm, [])
        previous = self.key_size if algorithm == self.algorithm else None
        self.algorithm = algorithm
        size_list = self.query_one("#size-list", OptionList)
        size_list.set_options(Option(size_label(algorithm, s), id=str(s)) for s in sizes)
        high = [s for s in sizes if A.strength(algorithm, s) == A.HIGH]
        self.key_size = previous if previous in sizes else (high[0] if high else sizes[-1])
        size_list.highlighted = sizes.index(self.key_size)
        self.query_one(StrengthPanel).show(algorithm, self.key_size, self.security_level)

    @property
    def chosen(self) -> bool:
        return self.algorithm in self.supported and self.key_size in self.supported[self.algorithm]

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option_list.id == "algorithm-list":
            self._fill_sizes(event.option.id)
        elif self.algorithm:
            self.key_size = int(event.option.id)
            self.query_one(StrengthPanel).show(self.algorithm, self.key_size, self.security_level)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "algorithm-list":
            event.stop()  # Enter on an algorithm moves to its sizes; Enter on a size goes on (the wizard)
            self.query_one("#size-list", OptionList).focus()
