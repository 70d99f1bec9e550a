"""One TUI process under measurement; prints one JSON line of figures and exits.

    python bench/tui_probe.py minimal               # Header + DataTable + Footer, nothing else
    python bench/tui_probe.py kms DATA_DIR          # kms-tui's keys screen on DATA_DIR
    python bench/tui_probe.py kms DATA_DIR --interact   # plus filter keystrokes and scrolling to the end

Times are wall-clock seconds since the epoch (``time.time()``), so the parent
can subtract the moment it started this process. ``ready`` is Textual's ready
event (the first frame); ``rows`` is when the keys table first holds rows.
``sdk_modules`` lists engine SDK modules imported by the first frame.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

SDKS = ("boto3", "botocore", "azure", "hvac", "pkcs11")
SIZE = (120, 40)
TYPING_PAUSE = 0.1  # seconds between keystrokes: a fast typist (a keystroke's latency is its own)


def _sdk_modules() -> list[str]:
    return sorted(m for m in sys.modules if m.split(".")[0] in SDKS)


def minimal() -> dict:
    from textual.app import App
    from textual.widgets import DataTable, Footer, Header

    marks: dict = {}

    class Minimal(App):
        def compose(self):
            yield Header()
            yield DataTable()
            yield Footer()

        def on_mount(self) -> None:
            self.query_one(DataTable).add_columns("Name", "Key ID", "Engine", "Algorithm", "Strength")

        def on_ready(self) -> None:
            marks["ready"] = time.time()
            self.exit()

    Minimal().run(headless=True, size=SIZE)
    return marks


async def _wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the screen did not update in time")
        await asyncio.sleep(0.0005)


def _idle(app) -> bool:
    """No keys or count query is running."""
    return all(w.is_finished for w in app.workers._workers.copy() if w.group in ("keys", "count"))


SHOWN = asyncio.Event()  # set each time the keys table receives a page (no polling while timing)
SHOWN_AT = [0.0]  # when it last did: taken there, not when this coroutine next runs (after a redraw, maybe)


async def _shown(app, timeout: float = 30.0) -> float:
    """Wait until the table received its page and the screen was redrawn; returns when the page came."""
    await asyncio.wait_for(SHOWN.wait(), timeout)
    SHOWN.clear()
    shown = SHOWN_AT[0]
    drawn = asyncio.Event()
    app.call_after_refresh(drawn.set)
    await asyncio.wait_for(drawn.wait(), timeout)
    return shown


async def _interact(app, marks: dict) -> None:
    """Filter keystrokes and scrolling to the end, timed from key to the redrawn table."""
    from textual.widgets import DataTable, Input

    screen = app.screen
    table = screen.query_one(DataTable)
    filter_input = screen.query_one("#filter", Input)
    latencies, to_table = [], []
    # Names, fleets, aliases and tags: each keystroke re-queries every key.
    for text in ("sensor-0042", "camera", "gateway-09", "dev-00", "batch-07"):
        for i in range(1, len(text) + 1):
            await asyncio.sleep(TYPING_PAUSE)
            SHOWN.clear()
            started = time.perf_counter()
            filter_input.value = text[:i]  # what a keystroke does to the Input
            in_table = await _shown(app)
            latencies.append(time.perf_counter() - started)
            to_table.append(in_table - started)
        filter_input.value = ""
        await _shown(app)
        await _wait(lambda: _idle(app) and not screen.counting)
    marks["filter_latencies"] = latencies  # to the redrawn screen
    marks["filter_table_latencies"] = to_table  # to the new rows in the table
    table.focus()
    await asyncio.sleep(0.05)
    from kms_tui.screens.keys import PAGE

    last_offset = max(0, (screen.total - 1) // PAGE) * PAGE
    SHOWN.clear()
    started = time.perf_counter()
    table.action_scroll_bottom()
    await _shown(app)
    marks["scroll_to_end"] = time.perf_counter() - started
    marks["scroll_landed"] = [screen.query_state.offset == last_offset, table.cursor_row == table.row_count - 1,
                              len(screen.records) == screen.total - last_offset]
    marks["last_row_total"] = screen.total


def kms(data_dir: str, interact: bool) -> dict:
    from kms_tui.app import KmsApp
    from kms_tui.screens import keys

    marks: dict = {}
    shown = keys.KeysScreen._show

    def _show(screen, records, query=None) -> None:  # the keys table receives its rows
        shown(screen, records, query)
        SHOWN_AT[0] = time.perf_counter()
        SHOWN.set()
        if records and "rows" not in marks:
            marks["rows"] = time.time()
            marks["sdk_modules_at_rows"] = _sdk_modules()
            if interact:
                screen.app.run_worker(_measure(screen.app), exclusive=True)
            else:
                screen.app.exit()

    keys.KeysScreen._show = _show

    async def _measure(app) -> None:
        try:
            await _interact(app, marks)
        finally:
            app.exit()

    class Probe(KmsApp):
        CSS_PATH = str(Path(sys.modules[KmsApp.__module__].__file__).with_name(KmsApp.CSS_PATH))

        def on_ready(self) -> None:
            marks["ready"] = time.time()
            marks["sdk_modules"] = _sdk_modules()

    Probe(data_dir=data_dir, freeze_gc=True).run(headless=True, size=SIZE)  # as kms_tui.app.run() makes it
    return marks


def main() -> None:
    which = sys.argv[1]
    marks = minimal() if which == "minimal" else kms(sys.argv[2], "--interact" in sys.argv)
    import resource

    marks["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(marks))


if __name__ == "__main__":
    main()
