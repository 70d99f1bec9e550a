"""A horizontal bar chart: one line per item (label, bar, count), bars scaled to the width.

Given its items (attributes down) by ``show``; it renders whatever width it
gets, so the same chart works in an 80-column SSH terminal and a wide one.
Labels are untrusted (engine ids, algorithm names) and drawn literally.
A chart made ``selectable`` takes the focus: up and down move a cursor over
the bars, Enter or a click on a line posts ``BarChart.Selected`` for that bar.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

from ..text import safe_text

# Eighths of a cell, so small differences still show at 80 columns.
_PARTS = " ▏▎▍▌▋▊▉"
_LABEL_MAX = 24


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    style: str = ""  # colour of the bar (e.g. strength HIGH/MEDIUM/LOW); the theme's accent if empty


def bar_cells(count: int, largest: int, width: int) -> str:
    """The bar for ``count`` out of ``largest`` in ``width`` cells (eighth-cell precision)."""
    if count <= 0 or largest <= 0 or width <= 0:
        return ""
    eighths = max(1, round(count / largest * width * 8))  # a non-zero count never vanishes
    full, part = divmod(eighths, 8)
    return "█" * full + (_PARTS[part] if part else "")


class BarChart(Widget):
    """Label, bar and count per line; the longest bar fills the space left by the labels."""

    COMPONENT_CLASSES = {"bar-chart--bar", "bar-chart--count", "bar-chart--cursor"}
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("enter", "select", "Show keys", tooltip="List the keys this bar counts"),
    ]
    DEFAULT_CSS = """
    BarChart {
        height: auto;
        border: round $primary-darken-1;
        border-title-color: $text;
        padding: 0 1;
    }
    BarChart > .bar-chart--bar {
        color: $accent;
    }
    BarChart > .bar-chart--count {
        text-style: bold;
    }
    BarChart > .bar-chart--cursor {
        text-style: reverse;
    }
    BarChart:focus {
        border: round $accent;
    }
    """

    class Selected(Message):
        """A bar was chosen (Enter or a click): ``chart`` is the chart, ``bar`` the bar."""

        def __init__(self, chart: BarChart, bar: Bar) -> None:
            super().__init__()
            self.chart = chart
            self.bar = bar

        @property
        def control(self) -> BarChart:
            return self.chart

    def __init__(self, bars: list[Bar] | None = None, *, title: str = "", empty: str = "no keys",
                 id: str | None = None, classes: str | None = None, selectable: bool = False):
        super().__init__(id=id, classes=classes)
        self.bars: list[Bar] = list(bars or [])
        self.total: int | None = None
        self.empty = empty
        self.cursor = 0  # the bar Enter chooses, marked while the chart has the focus
        self.can_focus = selectable
        if title:
            self.border_title = title

    def show(self, bars: list[Bar], total: int | None = None) -> None:
        """Replace the items; with ``total``, each count also shows its share. The height follows.

        The cursor stays on the bar of the same label when there still is one.
        """
        label = self.bars[self.cursor].label if 0 <= self.cursor < len(self.bars) else None
        self.bars, self.total = list(bars), total
        labels = [b.label for b in self.bars]
        self.cursor = labels.index(label) if label in labels else min(self.cursor, max(0, len(labels) - 1))
        self.refresh(layout=True)

    @property
    def selected(self) -> Bar | None:
        return self.bars[self.cursor] if 0 <= self.cursor < len(self.bars) else None

    def action_cursor(self, step: int) -> None:
        if self.bars:
            self.cursor = min(max(0, self.cursor + step), len(self.bars) - 1)
            self.refresh()

    def action_select(self) -> None:
        bar = self.selected
        if bar is not None:
            self.post_message(self.Selected(self, bar))

    def on_click(self, event: events.Click) -> None:
        line = event.y - self.gutter.top  # the content's line under the pointer
        if self.can_focus and 0 <= line < len(self.bars):
            self.cursor = line
            self.refresh()
            self.action_select()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(1, len(self.bars))

    def render(self) -> Text:
        if not self.bars:
            return Text(self.empty, style="dim")
        width = self.content_region.width or self.size.width
        labels = [safe_text(b.label, _LABEL_MAX) for b in self.bars]
        counts = [str(b.count) + (f" {round(b.count * 100 / self.total):3d}%" if self.total else "") for b in self.bars]
        label_w = max(len(s) for s in labels)
        count_w = max(len(s) for s in counts)
        bar_w = max(1, width - label_w - count_w - 2)
        largest = max(b.count for b in self.bars)
        bar_style = self.get_component_rich_style("bar-chart--bar")
        count_style = self.get_component_rich_style("bar-chart--count")
        cursor_style = self.get_component_rich_style("bar-chart--cursor")
        out = Text(no_wrap=True, overflow="crop")
        for i, (bar, label, count) in enumerate(zip(self.bars, labels, counts, strict=True)):
            if i:
                out.append("\n")
            cells = bar_cells(bar.count, largest, bar_w)
            out.append(label.ljust(label_w), style=cursor_style if i == self.cursor and self.has_focus else "")
            out.append(" ")
            out.append(cells, style=bar.style or bar_style)
            out.append(" " * (bar_w - len(cells)) + " ")
            out.append(count.rjust(count_w), style=count_style)
        return out
