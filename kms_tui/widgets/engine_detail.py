"""One engine's detail: identity, security level, Lamassu sharing, reachability, key types and settings.

Given an ``EngineView`` and the latest ``EngineCheck`` (attributes down) by
``show``; it never calls the service. Values from the database (names,
settings, error messages) are drawn literally, paths in them as the app's
``PathDisplay`` shows them. A secret is never shown: only whether one is stored.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, VerticalScroll
from textual.widgets import Static

from ..path_display import PathDisplay
from ..service import SECRET_LOCATIONS as LOCATIONS
from ..service import EngineCheck, EngineView
from ..service.algorithms import KEY_ALGORITHMS
from .cells import literal, security_level

CHECKING = Text("checking…", style="dim")
LAMASSU_SHARED = Text("shared: only what Lamassu can use is made here", style="cyan")


def reach_cell(check: EngineCheck | None) -> Text:
    """The engines table's status cell; ``None`` means a check is running."""
    if check is None:
        return CHECKING
    return Text("✓ reachable", style="green") if check.reachable else Text("✗ unreachable", style="bold red")


def key_types_text(supported: dict[str, list[int]]) -> Text:
    if not supported:
        return Text("not known yet (test the connection)", style="dim")
    order = sorted(supported, key=lambda a: (KEY_ALGORITHMS.index(a) if a in KEY_ALGORITHMS else 99, a))
    return Text("\n".join(f"{alg} {'/'.join(str(s) for s in supported[alg])}" if alg != "Ed25519" else alg
                          for alg in order))


def two_columns(rows: list[tuple[str, object]]) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True, min_width=9)
    grid.add_column(overflow="fold")  # long paths and reasons wrap, never cut
    for name, value in rows:
        grid.add_row(name, value)
    return grid


def settings_table(config: dict[str, str], paths: PathDisplay) -> Table | Text:
    """The non-secret options, one per line (the config never holds a secret); paths in them as shown."""
    if not config:
        return Text("none", style="dim")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="italic", no_wrap=True)
    grid.add_column(overflow="fold")
    for name, value in sorted(config.items()):
        grid.add_row(literal(name), literal(paths.text(value)))
    return grid


class EngineDetail(VerticalScroll):
    """Two panes (facts, settings), side by side when the screen is wide (``-wide``)."""

    SCOPED_CSS = False  # the layout follows the screen's breakpoint class, an ancestor
    DEFAULT_CSS = """
    EngineDetail { height: 1fr; border: round $primary-darken-1; padding: 0 1; }
    EngineDetail > #engine-panes { height: auto; layout: vertical; }
    .-wide EngineDetail > #engine-panes { layout: horizontal; }
    EngineDetail #engine-info, EngineDetail #engine-settings { height: auto; width: 1fr; }
    .-wide EngineDetail #engine-info { width: 46; }
    .-wide EngineDetail #engine-settings { margin-left: 2; }
    """

    def __init__(self, paths: PathDisplay | None = None, *, id: str | None = None):
        super().__init__(id=id)
        self.paths = paths or PathDisplay()

    def compose(self) -> ComposeResult:
        with Container(id="engine-panes"):
            yield Static("Loading engines…", id="engine-info")
            yield Static("", id="engine-settings")

    def show(self, view: EngineView | None, check: EngineCheck | None) -> None:
        info = self.query_one("#engine-info", Static)
        settings = self.query_one("#engine-settings", Static)
        if view is None:
            self.border_title = "Engine"
            info.update("No engine selected.")
            settings.update("")
            return
        r = view.record
        self.border_title = f"Engine {r.id}"
        if check is None:
            reach = CHECKING
        elif check.reachable:
            reach = Text("✓ reachable", style="green")
        else:
            reach = Text(f"✗ {check.title}: ", style="bold red") + literal(self.paths.text(check.message))
        supported = check.supported_key_types if check and check.reachable else r.supported_key_types
        info.update(two_columns([
            ("Name", literal(r.name)),
            ("Type", Text(f"{view.display} ({r.type})")),
            ("Security", security_level(r.security_level) + Text(" · ") + literal(r.provider)),
            ("Default", Text("yes ★" if r.is_default else "no")),
            *([("Lamassu", LAMASSU_SHARED)] if view.lamassu else []),
            ("Keys", Text(str(view.key_count))),
            ("Status", reach),
            ("Key types", key_types_text(supported)),
        ]))
        secret = "none" if not view.secret_label else f"{view.secret_label}: " + LOCATIONS.get(
            view.secret_location or "", "stored (never shown)" if r.has_secret else "not set")
        settings.update(two_columns([("Secret", literal(secret)), ("Settings", settings_table(r.config, self.paths))]))
