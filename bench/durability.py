"""Figures 7 and 8: what durable audit rows cost — SQLite ``synchronous=FULL`` against ``NORMAL``.

Every ``kms.signing.sign`` commits one audit row, so a single signature pays one commit; a batch
pays one commit for all its signatures. Both are measured on the software engine (ECDSA
P-256, the cheapest signature, so the commit's share is the largest) with the store opened
under each setting in turn, alternating, on the same filesystem as a real data directory.
FULL (the shipped setting) fsyncs the WAL at every commit; NORMAL only at checkpoints, so
a power cut could lose the last rows.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure  # noqa: E402
from bench.sync_scaling import open_kms  # noqa: E402

SINGLE = 300  # kms.signing.sign calls per run: 300 audit rows
BATCH = 2_000
MODES = ("NORMAL", "FULL")


def _open(tmp: Path, mode: str):
    import store.connection

    store.connection.SYNCHRONOUS = mode  # read when the store opens its connection
    kms = open_kms(tmp / mode.lower())
    assert kms.context.store._conn.db.execute("PRAGMA synchronous").fetchone()[0] == {"NORMAL": 1, "FULL": 2}[mode]
    kms.keys.create("ECDSA", 256, "bench")
    return kms


def _single_rate(kms) -> float:
    digest = os.urandom(32)
    start = time.perf_counter()
    for _ in range(SINGLE):
        kms.signing.sign("bench", "ECDSA_SHA_256", digest, "DIGEST")
    return SINGLE / (time.perf_counter() - start)


def _batch_rate(kms) -> float:
    from kms_tui.batch import read_items, result_line

    lines = [os.urandom(32).hex().encode() + b"\n" for _ in range(BATCH)]
    out: list[str] = []
    start = time.perf_counter()
    summary = kms.signing.sign_batch("bench", "ECDSA_SHA_256", read_items(lines), "DIGEST",
                             emit=lambda *r: out.append(result_line(*r)))
    elapsed = time.perf_counter() - start
    assert summary.signed == BATCH, summary
    return BATCH / elapsed


def measure(tmp: Path, runs: int) -> dict[str, dict[str, float]]:
    import store.connection

    shipped = store.connection.SYNCHRONOUS
    stores = {}
    try:
        for mode in MODES:
            stores[mode] = _open(tmp, mode)
        rates: dict[str, dict[str, list[float]]] = {m: {"single": [], "batch": []} for m in MODES}
        for _ in range(runs):
            for mode in MODES:  # alternating, so drift on the machine hits both alike
                rates[mode]["single"].append(_single_rate(stores[mode]))
                rates[mode]["batch"].append(_batch_rate(stores[mode]))
    finally:
        store.connection.SYNCHRONOUS = shipped
        for kms in stores.values():
            kms.close()
    return {m: {k: statistics.median(v) for k, v in r.items()} for m, r in rates.items()}


def run(quick: bool = False) -> list[Figure]:
    runs = 3 if quick else 5
    # Not in a tmpfs: an fsync there costs nothing and the figure would say nothing.
    base = os.environ.get("KMS_BENCH_DIR") or str(Path(__file__).resolve().parent)
    with tempfile.TemporaryDirectory(prefix=".kms-bench-durability-", dir=base) as name:
        rates = measure(Path(name), runs)
    full, normal = rates["FULL"], rates["NORMAL"]
    per_row_ms = (1 / full["single"] - 1 / normal["single"]) * 1000
    return [
        Figure("Single sign, software P-256, audit synchronous=FULL", full["single"], "sig/s", normal["single"],
               "synchronous=NORMAL", note=f"one audit row committed per signature; FULL adds {per_row_ms:.2f} ms each"),
        Figure(f"Batch sign, software P-256 ({BATCH:,} digests), synchronous=FULL", full["batch"], "sig/s",
               normal["batch"], "synchronous=NORMAL", note="one audit row (one fsync) for the whole batch"),
    ]


if __name__ == "__main__":
    for figure in run("--quick" in sys.argv):
        print(figure)
