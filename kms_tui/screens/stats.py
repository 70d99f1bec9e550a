"""The stats screen: totals, bar charts by engine, algorithm, size, strength and security level, and quantum exposure.

The numbers come from one ``kms.inventory.stats()`` call (GROUP BY queries in SQLite, a
few milliseconds at 100 000 keys) made in a thread worker. On a wide terminal
the charts sit two to a row. A bar drills down: Enter (or a click) on it shows
the keys screen filtered to the keys it counts. The quantum charts count the
quantum-vulnerable keys (``kms.quantum.exposure()``, one GROUP BY); their role and
strength bars, and q, open the quantum migration report.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ..changes import DatabaseChanged
from ..widgets.bar_chart import Bar, BarChart
from ..widgets.cells import STRENGTH_STYLE
from ..workers import ServiceCalls

# (chart id, title, stats key); the order is the reading order on screen.
CHARTS = (
    ("chart-engine", "Keys by engine", "by_engine"),
    ("chart-strength", "Keys by strength", "by_strength"),
    ("chart-algorithm", "Keys by algorithm", "by_algorithm"),
    ("chart-size", "Keys by algorithm and size", "by_size"),
    ("chart-level", "Keys by engine security level", "by_security_level"),
    ("chart-bound", "Bound to resources", None),
)
LEVEL_STYLE = {"SL2": "bold green", "SL1": "cyan", "SL0": ""}
EXPIRING_CHART = "chart-expiring"  # shown once certificates are recorded; its bars filter the keys too
DRILLS = ("by_engine", "by_strength", "by_algorithm", "by_size", "by_security_level", None)  # the charts a bar of which filters the keys
# (chart id, title, exposure key): quantum-vulnerable keys (every algorithm but ML-DSA).
QUANTUM_CHARTS = (
    ("chart-q-engine", "Quantum-vulnerable keys by engine", "by_engine"),
    ("chart-q-role", "Quantum-vulnerable keys by role / binding", "by_role"),
    ("chart-q-level", "Quantum-vulnerable keys by engine security level", "by_security_level"),
    ("chart-q-strength", "Quantum-vulnerable keys by strength (replace by)", "by_strength"),
)
QUANTUM_STYLE = {"<112 (disallowed)": "bold red", "112 (2030)": "yellow", "128+ (2035)": "", **LEVEL_STYLE}


def chart_bars(key: str | None, stats: dict[str, Any]) -> list[Bar]:
    """The bars of one chart, from the stats dict (pure, so it is easy to check)."""
    if key is None:
        return [Bar("bound", stats.get("bound", 0)), Bar("unbound", stats.get("unbound", 0))]
    values: dict[str, int] = stats.get(key) or {}
    if key == "by_strength":
        return [Bar(level, values.get(level, 0), STRENGTH_STYLE.get(level, "")) for level in ("HIGH", "MEDIUM", "LOW")]
    if key == "by_security_level":
        return [Bar(level, values.get(level, 0), LEVEL_STYLE.get(level, "")) for level in ("SL2", "SL1", "SL0")]
    if key == "by_engine":  # biggest first: the engine that matters most is on top
        return [Bar(name, n) for name, n in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))]
    return [Bar(name, n) for name, n in values.items()]


def quantum_bars(key: str, exposure: dict[str, Any]) -> list[Bar]:
    """The bars of one quantum chart, from ``kms.quantum.exposure()``."""
    values: dict[str, int] = exposure.get(key) or {}
    if key == "by_engine":
        return [Bar(name, n) for name, n in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))]
    return [Bar(label, n, QUANTUM_STYLE.get(label, "")) for label, n in values.items()]


def quantum_filter(key: str, label: str) -> dict[str, Any] | None:
    """The keys screen's filter for a quantum bar; None where the report says more (role, strength)."""
    if key == "by_engine":
        return {"quantum_vulnerable": True, "engine_id": label}
    if key == "by_security_level" and label.startswith("SL"):
        return {"quantum_vulnerable": True, "security_level": int(label.removeprefix("SL"))}
    return None


def bar_filter(key: str | None, label: str) -> dict[str, Any]:
    """The keys screen's filter (``KeyQuery`` fields) for the keys one bar counts."""
    if key is None:
        return {"bound": label == "bound"}
    if key == "by_size":
        algorithm, _, size = label.rpartition(" ")
        return {"algorithm": algorithm, "size": int(size)}
    if key == "by_security_level":  # "SL2": the keys of every engine at that level
        return {"security_level": int(label.removeprefix("SL"))}
    field = {"by_engine": "engine_id", "by_strength": "strength", "by_algorithm": "algorithm"}[key]
    return {field: label}


class StatsScreen(ServiceCalls, Screen):
    """How many keys, where, of what kind and how strong."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    DEFAULT_CSS = """
    StatsScreen #stats-totals {
        height: auto;
        padding: 0 1;
        margin: 1 0 0 0;
    }
    StatsScreen #stats-charts {
        height: auto;
        grid-size: 1;
        grid-gutter: 0 1;
        grid-rows: auto;
        padding: 0 1;
    }
    StatsScreen.-wide #stats-charts {
        grid-size: 2;
    }
    """
    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="stats.refresh", tooltip="Count the keys again"),
        Binding("q", "quantum_report", "Quantum report", id="stats.quantum",
                tooltip="Every key's quantum exposure, replace-by date and suggested ML-DSA set"),
    ]

    def __init__(self):
        super().__init__()
        self.stats: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="stats"):
            yield Static("Counting keys…", id="stats-totals")
            with Grid(id="stats-charts"):
                for chart_id, title, key in CHARTS:
                    yield BarChart(title=title, id=chart_id, empty="counting…", selectable=key in DRILLS)
                expiring = BarChart(title="Certificates ending within (expired too)", id=EXPIRING_CHART,
                                    empty="none", selectable=True)
                expiring.display = False
                yield expiring
                for chart_id, title, _ in QUANTUM_CHARTS:
                    yield BarChart(title=title, id=chart_id, empty="counting…", selectable=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(f"#{CHARTS[0][0]}", BarChart).focus()
        self.when_ready(self.reload, show=lambda note: self.query_one("#stats-totals", Static).update(Text(note)))

    def on_screen_resume(self) -> None:
        if self.is_mounted:  # keys may have changed on another screen
            self.reload()

    def on_database_changed(self, event: DatabaseChanged) -> None:
        self.reload()

    def reload(self) -> None:
        if not self.kms_ready:
            return  # the first load runs once the service is open
        self.call(self.kms.inventory.stats, then=self._show, group="stats")
        self.call(self.kms.certs.expiring_counts, then=self._show_expiring, group="stats-certs")
        self.call(self.kms.quantum.exposure, then=self._show_quantum, group="stats-quantum")

    def action_refresh(self) -> None:
        self.reload()

    def action_quantum_report(self) -> None:
        from .quantum_report import QuantumReportScreen

        self.app.push_screen(QuantumReportScreen())

    def on_bar_chart_selected(self, event: BarChart.Selected) -> None:
        quantum = next((k for chart_id, _, k in QUANTUM_CHARTS if chart_id == event.chart.id), None)
        if quantum is not None:
            self._quantum_selected(quantum, event.bar)
            return
        if event.chart.id == EXPIRING_CHART:
            fields: dict[str, Any] = {"expiring_within_days": int(event.bar.label.split()[0])}
        else:
            key = next(k for chart_id, _, k in CHARTS if chart_id == event.chart.id)
            fields = bar_filter(key, event.bar.label)
        if event.bar.count:
            self.run_worker(self._open_keys(fields), group="drill", exclusive=True)
        else:
            self.notify(f"No keys to show for {event.bar.label!r}.", severity="information", markup=False)

    async def _open_keys(self, fields: dict[str, Any]) -> None:
        """The keys screen, showing only what the bar counted (its filters say so and can be cleared there)."""
        from .keys import KeysScreen

        await self.app.switch_mode("keys")
        screen = self.app.screen_stack[0]
        if isinstance(screen, KeysScreen):
            screen.show_only(**fields)

    def _quantum_selected(self, key: str, bar: Bar) -> None:
        fields = quantum_filter(key, bar.label)
        if not bar.count:
            self.notify(f"No keys to show for {bar.label!r}.", severity="information", markup=False)
        elif fields is None:
            self.action_quantum_report()
        else:
            self.run_worker(self._open_keys(fields), group="drill", exclusive=True)

    def _show_quantum(self, exposure: dict[str, Any]) -> None:
        vulnerable = exposure.get("total", {}).get("vulnerable", 0)
        for chart_id, _, key in QUANTUM_CHARTS:
            chart = self.query_one(f"#{chart_id}", BarChart)
            chart.empty = "no quantum-vulnerable keys"
            chart.show(quantum_bars(key, exposure) if vulnerable else [], vulnerable)

    def _show_expiring(self, counts: dict[int, int]) -> None:
        """Certificates ending within 30 and 90 days (expired ones included); the chart shows once there are any."""
        chart = self.query_one(f"#{EXPIRING_CHART}", BarChart)
        chart.display = any(counts.values())
        style = {30: "bold red", 90: "yellow"}
        chart.show([Bar(f"{days} days", n, style.get(days, "")) for days, n in counts.items()])

    def _show(self, stats: dict[str, Any]) -> None:
        self.stats = stats
        total = stats.get("total", 0)
        engines = len(stats.get("by_engine") or {})
        strength = stats.get("by_strength") or {}
        line = Text()
        if not total:
            line.append("No keys yet: create or import one on the keys screen (F2, then n or i).", style="bold")
        else:
            line.append(f"{total}", style="bold")
            line.append(f" key{'s' if total != 1 else ''} on ")
            line.append(f"{engines}", style="bold")
            line.append(f" engine{'s' if engines != 1 else ''} · ")
            for level in ("HIGH", "MEDIUM", "LOW"):
                line.append(f"{strength.get(level, 0)} {level}", style=STRENGTH_STYLE[level])
                line.append(" · ")
            line.append(f"{stats.get('bound', 0)} bound, {stats.get('unbound', 0)} unbound")
        self.query_one("#stats-totals", Static).update(line)
        for chart_id, _, key in CHARTS:
            chart = self.query_one(f"#{chart_id}", BarChart)
            chart.empty = "no keys"
            chart.show(chart_bars(key, stats), total)
