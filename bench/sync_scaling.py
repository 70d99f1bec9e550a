"""Figure 5, sync: keys adopted per second at 1x, 2x and 4x the size, and AWS calls counted.

A fresh database adopts every key of an engine (``kms.inventory.sync``):

- the software engine, with clear Lamassu key files (one PEM per key, named by its key id)
  written straight into its directory: 10 000, 20 000 and 40 000 EC P-256 keys;
- SoftHSM2, on private tokens of a private configuration (and a private copy of the
  library, so other benchmarks in the same process keep theirs): 2 000, 4 000 and 8 000;
- AWS KMS on a moto server: the API calls of a first sync (adopting) and of a second
  one (every key known), counted by operation with botocore's ``before-call`` event.

The per-key cost may not grow with the size (4x vs 1x at most 1.25x), and a re-sync of
AWS KMS makes its listing calls only: two per page of keys, none per key.

    .venv/bin/python bench/sync_scaling.py [--quick]
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root is what imports resolve against
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure  # noqa: E402

SOFTWARE_SIZES = (10_000, 20_000, 40_000)
SOFTWARE_QUICK = (1_000, 2_000, 4_000)
HSM_SIZES = (2_000, 4_000, 8_000)
HSM_QUICK = (200, 400, 800)
AWS_SIZES = (50, 100, 200)
AWS_QUICK = (10, 20, 40)
PER_KEY_TARGET = "<= 1.25x"
HSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
HSM_SO_PIN, HSM_PIN = "bench-so-pin-2468", "bench-user-pin-1357"


@contextlib.contextmanager
def patched_env(**values: str | None):
    """``os.environ`` with these values (None removes one) for the block."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def open_kms(data_dir: Path):
    """A Kms on a fresh data directory with the benchmark keyring (a throwaway JSON file)."""
    from bench.bench_keyring import BenchKeyring
    from kms_tui.service import Kms
    from store.credentials import CredentialStore

    os.environ["KMS_TUI_BENCH_KEYRING"] = str(data_dir.with_suffix(".keyring.json"))
    return Kms(data_dir, credentials=CredentialStore(backend=BenchKeyring()))


def timed_sync(kms, engine_id: str):
    start = time.perf_counter()
    (report,) = kms.inventory.sync(engine_id)
    elapsed = time.perf_counter() - start
    return elapsed, report


# ---------------------------------------------------------------- keys to adopt


def ec_pems(count: int) -> list[tuple[str, bytes]]:
    """(key id, clear PKCS#8 PEM) of ``count`` fresh EC P-256 keys."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from engines import keys as K

    made = []
    for _ in range(count):
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        made.append((K.key_id_of(private.public_key()), pem))
    return made


def software_directory(path: Path, keys: list[tuple[str, bytes]]) -> Path:
    """A software engine's key directory in Lamassu's layout: ``<dir>/<key id>``, 0600 files, a 0700 directory."""
    path.mkdir(mode=0o700, parents=True)
    for key_id, pem in keys:
        fd = os.open(path / key_id, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
    return path


def softhsm_store(base: Path, sizes: tuple[int, ...]) -> tuple[Path, Path]:
    """(configuration, private copy of the library) with one empty token per size, labelled ``bench-<n>``."""
    if shutil.which("softhsm2-util") is None or not os.path.exists(HSM_MODULE):
        raise RuntimeError("SoftHSM2 is not installed (softhsm2-util, libsofthsm2.so)")
    (base / "tokens").mkdir(parents=True)
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    module = base / "libsofthsm2-bench.so"  # one loaded library reads one configuration
    shutil.copyfile(os.path.realpath(HSM_MODULE), module)
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    for n in sizes:
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", f"bench-{n}", "--so-pin", HSM_SO_PIN,
                        "--pin", HSM_PIN], env=env, check=True, capture_output=True, timeout=60)
    return conf, module


def fill_token(module: Path, label: str, keys: list[tuple[str, bytes]]) -> None:
    """Key pairs on a token as the PKCS#11 engine imports them (label and id = key id), without the engine."""
    from cryptography.hazmat.primitives import serialization

    from engines.pkcs11 import objects as O
    from engines.pkcs11.module import load_module

    token = load_module(str(module)).lib.get_token(token_label=label)
    with token.open(rw=True, user_pin=HSM_PIN) as session:
        for key_id, pem in keys:
            private = serialization.load_pem_private_key(pem, None)
            private_template, public_template = O.import_templates(private, key_id, key_id.encode("ascii"))
            session.create_object(private_template)
            session.create_object(public_template)


# ---------------------------------------------------------------- figures


def scaling_figures(engine: str, sizes: tuple[int, ...], seconds: dict[int, list[float]]) -> list[Figure]:
    """keys/s at each size, and the per-key cost at the largest size against the smallest."""
    figures = []
    per_key = {n: statistics.median(seconds[n]) / n for n in sizes}
    for n in sizes:
        runs = ", ".join(f"{n / s:,.0f}" for s in seconds[n])
        figures.append(Figure(f"Sync: {engine}, {n:,} keys adopted ({n // sizes[0]}x)", 1 / per_key[n], "keys/s",
                              note=f"median of {len(seconds[n])} runs: {runs} keys/s"))
    small, large = sizes[0], sizes[-1]
    figures.append(Figure(
        f"Sync: {engine}, per-key cost at {large // small}x", per_key[large] * 1e3, "ms/key",
        baseline=per_key[small] * 1e3, baseline_name=f"per-key cost at 1x ({small:,} keys)", target=PER_KEY_TARGET,
        note="the per-key cost may not grow with the number of keys"))
    return figures


def software_scaling(tmp: Path, sizes: tuple[int, ...], runs: int) -> list[Figure]:
    pool = ec_pems(sizes[-1])
    seconds: dict[int, list[float]] = {}
    for n in sizes:
        directory = software_directory(tmp / f"software-{n}", pool[:n])
        seconds[n] = []
        for run in range(runs):
            with open_kms(tmp / f"software-{n}-db-{run}") as kms:
                kms.engines.register("GOLANG", "soft", options={"directory": str(directory), "encrypt": "false"})
                elapsed, report = timed_sync(kms, "soft")
                assert len(report.adopted) == n, f"adopted {len(report.adopted)} of {n} software keys"
            seconds[n].append(elapsed)
    return scaling_figures("software engine", sizes, seconds)


def softhsm_scaling(tmp: Path, sizes: tuple[int, ...], runs: int) -> list[Figure]:
    conf, module = softhsm_store(tmp / "softhsm", sizes)
    pool = ec_pems(sizes[-1])
    seconds: dict[int, list[float]] = {}
    with patched_env(SOFTHSM2_CONF=str(conf)):  # read by our library copy when it initialises
        for n in sizes:
            fill_token(module, f"bench-{n}", pool[:n])
        for n in sizes:
            seconds[n] = []
            for run in range(runs):
                with open_kms(tmp / f"hsm-{n}-db-{run}") as kms:
                    kms.engines.register("PKCS11", "hsm", options={"module": str(module), "token": f"bench-{n}"},
                                        secret=HSM_PIN)
                    elapsed, report = timed_sync(kms, "hsm")
                    assert len(report.adopted) == n, f"adopted {len(report.adopted)} of {n} SoftHSM2 keys"
                seconds[n].append(elapsed)
    return scaling_figures("SoftHSM2", sizes, seconds)


class CallCounter:
    """The API operations a boto3 client makes (botocore's ``before-call`` event), by name."""

    def __init__(self, client):
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call", self._count)

    def _count(self, model, **_):
        self.calls[model.name] += 1

    def take(self) -> Counter[str]:
        taken, self.calls = self.calls, Counter()
        return taken


def _shown(calls: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(calls.items())) or "none"


def aws_calls(tmp: Path, sizes: tuple[int, ...]) -> list[Figure]:
    from engines.aws.kms import AwsKmsEngine
    from tests.engines.aws.moto_server import AWS_ENV, SECRET, MotoServer, hermetic_env

    hermetic = hermetic_env({}, tmp)
    figures = []
    server = MotoServer(tmp / "moto.log").start()
    try:
        with patched_env(**{name: None for name in AWS_ENV}, **hermetic):
            for n, region in zip(sizes, ("eu-west-1", "eu-west-2", "eu-west-3"), strict=True):
                aws = server.client("kms", region)
                for _ in range(n):
                    aws.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")
                with open_kms(tmp / f"aws-{n}-db") as kms:
                    kms.engines.register("AWS_KMS", "aws", options=server.options(region=region), secret=SECRET)
                    counter = CallCounter(kms.context.driver("aws")._conn.client())
                    (first,) = kms.inventory.sync("aws")
                    assert len(first.adopted) == n, f"adopted {len(first.adopted)} of {n} KMS keys"
                    first_calls = counter.take()
                    (second,) = kms.inventory.sync("aws")
                    assert second.unchanged == n and not second.adopted and not second.missing
                    second_calls = counter.take()
                pages = math.ceil(n / AwsKmsEngine._page_size)
                listing = 2 * pages  # ListAliases and ListKeys, a page of each
                figures.append(Figure(
                    f"Sync: AWS KMS re-sync of {n} known keys, calls per 100 keys", sum(second_calls.values()) * 100 / n,
                    "calls", baseline=listing * 100 / n,
                    baseline_name=f"2 listing calls per page of {AwsKmsEngine._page_size} keys",
                    target="<= 1.0x",
                    note=f"second sync: {_shown(second_calls)}; first sync (adopting): {_shown(first_calls)}"))
    finally:
        server.stop()
    return figures


def run(quick: bool = False) -> list[Figure]:
    runs = 3 if quick else 5
    with tempfile.TemporaryDirectory(prefix="kms-bench-sync-") as name:
        tmp = Path(name)
        figures = software_scaling(tmp, SOFTWARE_QUICK if quick else SOFTWARE_SIZES, runs)
        figures += softhsm_scaling(tmp, HSM_QUICK if quick else HSM_SIZES, runs)
        figures += aws_calls(tmp, AWS_QUICK if quick else AWS_SIZES)
    return figures


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    for figure in run(quick):
        ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else "-"
        baseline = f"{figure.baseline:,.3f} ({figure.baseline_name})" if figure.baseline is not None else "-"
        print(f"{figure.name}: {figure.value:,.3f} {figure.unit}; baseline {baseline}; ratio {ratio}; "
              f"target {figure.target or '-'}: {figure.verdict()}")
        if figure.note:
            print(f"    {figure.note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
