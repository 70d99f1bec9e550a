"""Shared by the benchmarks: the figure record, medians, fixtures of data, and the machine line."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
KMS_TUI = str(Path(sys.executable).with_name("kms-tui"))


@dataclass
class Figure:
    """One row of the results table.

    ``ratio`` is value / baseline; ``target`` reads like "<= 1.5x" or ">= 0.9x"
    (compared with the ratio) or "<= 50 ms" (compared with the value itself).
    ``error`` says why the figure or its baseline could not be measured: such a
    figure fails, whatever its numbers.
    """

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    note: str = ""
    error: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline

    @property
    def passed(self) -> bool | None:
        if self.error:
            return False
        if not self.target:
            return None
        op, _, rest = self.target.partition(" ")
        number = float(rest.split()[0].rstrip("x%"))
        subject = self.ratio if rest.endswith("x") else self.value
        if subject is None:
            return False
        return subject <= number if op == "<=" else subject >= number

    def verdict(self) -> str:
        return {None: "-", True: "PASS", False: "FAIL"}[self.passed]


def failed(name: str, unit: str, target: str, exc: BaseException) -> Figure:
    """A figure that could not be measured, with the reason (the last lines of a tool's stderr, if any)."""
    if isinstance(exc, subprocess.CalledProcessError):
        command = exc.cmd[0] if isinstance(exc.cmd, list | tuple) else str(exc.cmd).split()[0]
        reason = f"{Path(command).name} exited {exc.returncode}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    stderr = getattr(exc, "stderr", None)
    if stderr:
        text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else str(stderr)
        reason += " — " + " / ".join(text.strip().splitlines()[-3:])
    return Figure(name, math.nan, unit, target=target, error=" ".join(reason.split())[:400])


def measured(name: str, unit: str, target: str, make: Callable[..., list[Figure]], *args: object) -> list[Figure]:
    """``make(*args)``'s figures; when it raises, one failed figure saying why, and the bench goes on."""
    try:
        return make(*args)
    except Exception as exc:
        return [failed(name, unit, target, exc)]


def median_of(runs: int, fn: Callable[[], float]) -> tuple[float, list[float]]:
    """The median of ``runs`` calls of ``fn`` (each returns one measurement)."""
    values = [fn() for _ in range(runs)]
    return statistics.median(values), values


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def wall(command: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds from start to exit of a command; it must succeed."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    return time.perf_counter() - start


def rss_mb() -> float:
    """This process's current resident set size in MB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def bench_env(data_dir: Path | None = None) -> dict[str, str]:
    """An environment for the kms-tui processes a benchmark starts (a throwaway file keyring)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env["PYTHON_KEYRING_BACKEND"] = "bench.bench_keyring.BenchKeyring"
    if data_dir is not None:
        env["KMS_TUI_DATA_DIR"] = str(data_dir)
        env["KMS_TUI_BENCH_KEYRING"] = str(Path(data_dir).with_suffix(".keyring.json"))
    return env
