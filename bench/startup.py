"""Figures 1-3: TUI start, CLI list, and the keys screen over a large inventory.

Each kms-tui measurement is paired with its baseline in the same run, the two
alternating, so that a machine busy for a moment weighs on both.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import KMS_TUI, PYTHON, ROOT, Figure, bench_env, p95, wall  # noqa: E402
from bench.data import make_inventory  # noqa: E402

PROBE = str(ROOT / "bench" / "tui_probe.py")


def _probe(args: list[str], env: dict[str, str]) -> tuple[float, dict]:
    started = time.time()
    out = subprocess.run([PYTHON, PROBE, *args], check=True, capture_output=True, text=True, env=env, timeout=600)
    return started, json.loads(out.stdout.strip().splitlines()[-1])


def _tui_runs(data_dir: Path, runs: int, interact: bool = False) -> tuple[list[dict], list[float]]:
    env = bench_env(data_dir)
    kms_runs, minimal = [], []
    for _ in range(runs):
        started, marks = _probe(["kms", str(data_dir)] + (["--interact"] if interact else []), env)
        marks["ready_s"] = marks["ready"] - started
        marks["rows_s"] = marks["rows"] - started
        kms_runs.append(marks)
        started, marks = _probe(["minimal"], env)
        minimal.append(marks["ready"] - started)
    return kms_runs, minimal


def tui_start(work: Path, runs: int, keys: int) -> list[Figure]:
    data_dir = work / f"tui-{keys}"
    make_inventory(data_dir, keys)
    kms_runs, minimal = _tui_runs(data_dir, runs)
    baseline = statistics.median(minimal)
    sdks = sorted({m for r in kms_runs for m in r["sdk_modules"]})
    return [
        Figure(f"TUI start to first frame ({keys:,} keys, 6 engines)", statistics.median(r["ready_s"] for r in kms_runs),
               "s", baseline, "minimal Textual app", "<= 1.5x"),
        Figure(f"TUI start to keys in the table ({keys:,} keys)", statistics.median(r["rows_s"] for r in kms_runs),
               "s", baseline, "minimal Textual app", note="rows arrive after the first frame"),
        Figure("Engine SDK modules imported by the first frame", len(sdks), "modules", target="<= 0",
               note=", ".join(sdks) or "none of boto3, botocore, azure, hvac, pkcs11"),
    ]


def _aws() -> list[str]:
    """The AWS CLI: the one on PATH, or one installed for the benchmark in a venv of its own."""
    found = shutil.which("aws")
    if found:
        return [found]
    venv = Path(tempfile.gettempdir()) / "kms-tui-bench-awscli"
    aws = venv / "bin" / "aws"
    if not aws.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "awscli"], check=True)
    return [str(aws)]


def cli_list(work: Path, runs: int, keys: int) -> list[Figure]:
    data_dir = work / f"tui-{keys}"
    if not (data_dir / "kms.db").exists():
        make_inventory(data_dir, keys)
    env = bench_env(data_dir)
    aws = _aws()
    subprocess.run([*aws, "--version"], check=True, capture_output=True)  # warm the page cache for both
    subprocess.run([KMS_TUI, "keys", "list", "--json"], check=True, capture_output=True, env=env)
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(wall([KMS_TUI, "keys", "list", "--json"], env))
        theirs.append(wall([*aws, "--version"]))
    version = subprocess.run([*aws, "--version"], capture_output=True, text=True).stdout.split()[0]
    return [Figure(f"kms-tui keys list --json ({keys:,} keys)", statistics.median(ours), "s",
                   statistics.median(theirs), f"aws --version ({version})", "<= 0.5x")]


def large_inventory(work: Path, runs: int, keys: int) -> list[Figure]:
    data_dir = work / f"tui-{keys}"
    made = make_inventory(data_dir, keys)
    kms_runs, minimal = _tui_runs(data_dir, runs, interact=True)
    baseline = statistics.median(minimal)
    latencies = [x for r in kms_runs for x in r["filter_latencies"]]
    to_table = [x for r in kms_runs for x in r["filter_table_latencies"]]
    return [
        Figure(f"Keys screen ready with rows ({keys:,} keys)", statistics.median(r["rows_s"] for r in kms_runs), "s",
               baseline, "minimal Textual app", "<= 4x", note=f"inventory made in {made:.0f} s"),
        Figure(f"Filter keystroke to updated table, p95 ({len(to_table)} keystrokes)", p95(to_table) * 1000, "ms",
               target="<= 25 ms", note=f"median {statistics.median(to_table) * 1000:.1f} ms"),
        Figure("Filter keystroke to the screen redrawn, p95", p95(latencies) * 1000, "ms",
               note=f"median {statistics.median(latencies) * 1000:.1f} ms; the redraw of the table is Textual's"),
        Figure(f"Scroll to the last of {keys:,} keys (Ctrl+End)", statistics.median(r["scroll_to_end"] for r in kms_runs) * 1000,
               "ms", target="<= 200 ms"),
        Figure("Peak RSS of that TUI session", max(r["peak_rss_mb"] for r in kms_runs), "MB", target="<= 250 MB"),
    ]


# Runs a command with its output thrown away; prints its seconds and the peak RSS of its process (KB).
_PEAK = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)\n"
)


def _peak(command: list[str], env: dict[str, str], codes: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one run of ``command`` in a fresh process of its own."""
    out = subprocess.run([PYTHON, "-c", _PEAK, *command], check=True, capture_output=True, text=True, env=env)
    seconds, kb, code = out.stdout.split()
    if int(code) not in codes:
        raise subprocess.CalledProcessError(int(code), command)
    return float(seconds), int(kb) / 1024


def large_outputs(work: Path, runs: int, keys: int) -> list[Figure]:
    """``keys list --json`` / ``--jsonl`` over a large inventory: rows are written as read, memory stays flat."""
    data_dir = work / f"tui-{keys}"
    if not (data_dir / "kms.db").exists():
        make_inventory(data_dir, keys)
    env = bench_env(data_dir)
    figures = []
    for option in ("--json", "--jsonl"):
        command = [KMS_TUI, "keys", "list", option]
        _peak(command, env)  # the page cache warm for every run
        samples = [_peak(command, env) for _ in range(runs)]
        figures.append(Figure(f"Peak RSS of keys list {option} ({keys:,} keys)",
                              statistics.median(mb for _, mb in samples), "MB", target="<= 60 MB",
                              note=f"median {statistics.median(s for s, _ in samples):.2f} s"))
    return figures


def doctor_findings(work: Path, runs: int, keys: int) -> list[Figure]:
    """``kms-tui doctor`` where every recorded key's file is gone: one finding per key, printed as found."""
    data_dir = work / f"doctor-{keys}"
    made = make_inventory(data_dir, keys, with_engines=False)  # only key records: no key file exists
    env = bench_env(data_dir)
    samples = {option: [] for option in ("text", "--json")}
    for _ in range(runs):
        for option in samples:
            command = [KMS_TUI, "doctor"] + ([option] if option != "text" else [])
            samples[option].append(_peak(command, env, codes=(1,)))
    return [
        Figure(f"kms-tui doctor, {keys:,} findings (key files gone){'' if option == 'text' else ' ' + option}",
               statistics.median(s for s, _ in values), "s", target="<= 8 s",
               note=f"peak RSS {statistics.median(mb for _, mb in values):.0f} MB; inventory made in {made:.0f} s")
        for option, values in samples.items()
    ]


def run(quick: bool = False) -> list[Figure]:
    runs = 5 if quick else 7
    with tempfile.TemporaryDirectory(prefix="kms-tui-bench-") as tmp:
        work = Path(tmp)
        figures = tui_start(work, runs, 10_000)
        figures += cli_list(work, runs, 10_000)
        figures += large_inventory(work, 3 if quick else 5, 20_000 if quick else 100_000)
        figures += large_outputs(work, 3 if quick else 5, 20_000 if quick else 100_000)
        figures += doctor_findings(work, 1 if quick else 3, 20_000 if quick else 100_000)
    return figures


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    for figure in run("--quick" in sys.argv):
        print(figure)
