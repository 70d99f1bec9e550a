"""Run every benchmark and print one table: figure, baseline, ratio, target, PASS/FAIL.

    .venv/bin/python bench/run.py            # all six figures (about 10 minutes)
    .venv/bin/python bench/run.py --quick    # smaller sizes and fewer runs (about 3 minutes)
    .venv/bin/python bench/run.py --only startup,signing

Each kms-tui figure is measured beside its baseline in the same run (alternating,
medians of at least 5 runs; 3 with --quick). The table is also written, with the
date and the machine, to bench/RESULTS.md (the README quotes it). A figure (or a
whole suite) that cannot be measured is a failed row saying why, and the other
figures are still measured. Exit 1 when a target is not met or a figure is missing.
"""

from __future__ import annotations

import datetime
import importlib
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, Figure, machine, measured  # noqa: E402

SUITES = ("startup", "oneshot", "signing", "sync_scaling", "durability")  # figures 1-3, one-shot, 4 and 6, 5, 7-8


def _number(value: float, unit: str) -> str:
    if value != value:  # NaN: not measured
        return "-"
    if unit == "s":
        return f"{value * 1000:,.0f} ms"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:,.2f} {unit}".rstrip()


def table(figures: list[Figure]) -> str:
    rows = [("Figure", "kms-tui", "Baseline", "Ratio", "Target", "Result")]
    for f in figures:
        baseline = f"{_number(f.baseline, f.unit)} ({f.baseline_name})" if f.baseline is not None else "-"
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None and not f.error else "-"
        name = f"{f.name} — {f.note}" if f.note else f.name
        if f.error:
            name += " — not measured: " + f.error.replace("|", "/")
        rows.append((name, _number(f.value, f.unit), baseline, ratio, f.target or "-", f.verdict()))
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _run_suite(suite: str, quick: bool) -> list[Figure]:
    figures: list[Figure] = importlib.import_module(f"bench.{suite}").run(quick)
    return figures


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    only = None
    if "--only" in argv:
        only = set(argv[argv.index("--only") + 1].split(","))
    os.environ["PYTHONPATH"] = f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    figures: list[Figure] = []
    started = time.monotonic()
    for suite in SUITES:
        if only and suite not in only:
            continue
        print(f"bench: {suite}…", file=sys.stderr, flush=True)
        figures += measured(f"{suite} suite", "", "", _run_suite, suite, quick)
    text = table(figures)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"Measured {stamp} on {machine()}{' (--quick)' if quick else ''}; "
              f"{time.monotonic() - started:.0f} s.")
    print(header)
    print(text)
    if not only:
        (ROOT / "bench" / "RESULTS.md").write_text(f"# Benchmark results\n\n{header}\n\n{text}\n")
    return 0 if all(f.passed is not False for f in figures) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
