"""Figures 4 and 6: batch signing throughput, and the memory of a long signing session.

Batch signing (2 000 digests, ECDSA P-256 and RSA-2048):
- software engine: ``kms.signing.sign_batch`` — reading the hex lines, signing, writing each
  JSON result line, one audit row — against a bare ``cryptography`` loop signing the same
  digests with the same key object and padding/ECDSA objects made once (nothing read,
  nothing written); the batch as it runs (one signing thread per core) and on one thread;
- SoftHSM2: the same batch against a bare python-pkcs11 loop on the same session and
  key object (CKM_ECDSA over the digest; CKM_RSA_PKCS over its DigestInfo — what the
  engine sends), signing only;
- SoftHSM2 through the command line: ``kms-tui keys sign --batch`` end to end (process
  start to exit, its PIN read from gnome-keyring over D-Bus) against what operators script today, a shell loop of ``pkcs11-tool
  --sign`` per digest (timed over ``TOOL_LOOP`` digests). RSA signatures take the token
  long enough to bound any signer: that figure is also given divided by the bound
  (pkcs11-tool's seconds per signature ÷ the bare python-pkcs11 loop's).

A batch and its bare loop run one after the other, at least ``runs`` times each and more
while either has run less than ``PAIR_SECONDS`` in all; the figure is the two medians.

A figure that cannot be measured (a tool missing or failing) is reported as failed, with
the reason, and the other figures are still measured.

Memory: 10 000 ``kms.signing.sign`` calls in a fresh process; the resident set after 10 000
against after the first 1 000.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import KMS_TUI, PYTHON, Figure, bench_env, failed, measured, rss_mb  # noqa: E402
from bench.sync_scaling import HSM_PIN, open_kms, patched_env, softhsm_store  # noqa: E402

BATCH = 2_000
ML_DSA_BATCH = 500  # an ML-DSA-65 signature takes about a millisecond
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
TOOL_LOOP = 60
PAIR_SECONDS = 1.0  # each side of a batch figure runs at least this long in all
MAX_PAIRS = 25
BATCH_TARGET = ">= 0.95x"  # a batch against its bare loop
BOUND_TARGET = ">= 0.85x"  # the end-to-end speed-up against the most the token allows
KEYS = (("ECDSA", 256, "ECDSA_SHA_256", "ECDSA"), ("RSA", 2048, "RSASSA_PKCS1_V1_5_SHA_256", "RSA"))
# ML-DSA signs the message itself (pure ML-DSA): its batch takes the same 32-byte inputs as messages.
SOFTWARE_KEYS = (*KEYS, ("ML-DSA", 65, "ML_DSA_SHAKE_256", "ML-DSA"))


def _batch_rate(kms, name: str, sig_alg: str, lines: list[bytes], workers: int | None = None) -> float:
    from kms_tui.batch import read_stream, result_line, result_lines

    out: list[str] = []
    start = time.perf_counter()
    message_type = "RAW" if sig_alg.startswith("ML_DSA") else "DIGEST"
    summary = kms.signing.sign_batch(name, sig_alg, read_stream(io.BytesIO(b"".join(lines))), message_type,
                                     emit=lambda *r: out.append(result_line(*r)),
                                     emit_many=lambda *r: out.extend(result_lines(*r)), workers=workers)
    elapsed = time.perf_counter() - start
    assert summary.signed == len(lines), summary
    return len(lines) / elapsed


def _bare_rate(private, algorithm: str, digests: list[bytes]) -> float:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    chosen = Prehashed(hashes.SHA256())
    sign, ecdsa, pkcs1 = private.sign, ec.ECDSA(chosen), padding.PKCS1v15()
    start = time.perf_counter()
    if algorithm == "ECDSA":
        for digest in digests:
            sign(digest, ecdsa)
    elif algorithm == "ML-DSA":
        for message in digests:
            sign(message)
    else:
        for digest in digests:
            sign(digest, pkcs1, chosen)
    return len(digests) / (time.perf_counter() - start)


def _alternate(runs: int, ours: Callable[[], float], bare: Callable[[], float],
               count: int = BATCH) -> tuple[list[float], list[float]]:
    """Rates of ``ours`` and ``bare``, one after the other: at least ``runs`` of each, and more (up to
    ``MAX_PAIRS``) until each side has run ``PAIR_SECONDS``, so that a fast batch (tens of ms) is not
    one scheduler hiccup away from its figure on a shared machine."""
    ours_rates: list[float] = []
    bare_rates: list[float] = []
    spent = [0.0, 0.0]
    while len(ours_rates) < runs or (min(spent) < PAIR_SECONDS and len(ours_rates) < MAX_PAIRS):
        for rates, fn, side in ((ours_rates, ours, 0), (bare_rates, bare, 1)):
            rate = fn()
            rates.append(rate)
            spent[side] += count / rate
    return ours_rates, bare_rates


def _digests(n: int) -> tuple[list[bytes], list[bytes]]:
    digests = [os.urandom(32) for _ in range(n)]
    return digests, [d.hex().encode() + b"\n" for d in digests]


def _software_key(kms, algorithm: str, size: int, sig_alg: str, short: str, runs: int) -> list[Figure]:
    from kms_tui.service.batch_run import batch_workers

    name = f"batch-{short.lower()}"
    record = kms.keys.create(algorithm, size, name)
    driver = kms.context.driver(record.engine_id)
    private = driver._read_private(record.native_ref, signing=True)  # its own key object
    threads = batch_workers(driver)
    count = ML_DSA_BATCH if algorithm == "ML-DSA" else BATCH
    inputs = "messages" if algorithm == "ML-DSA" else "digests"
    digests, lines = _digests(count)
    ours, bare = _alternate(runs, lambda: _batch_rate(kms, name, sig_alg, lines),
                            lambda: _bare_rate(private, algorithm, digests), count)
    one, bare_one = _alternate(runs, lambda: _batch_rate(kms, name, sig_alg, lines, workers=1),
                               lambda: _bare_rate(private, algorithm, digests), count)
    note = "batch reads hex lines, writes JSON lines and one audit row; the loop only signs"
    return [Figure(f"Batch sign, software, {short} {size} ({count:,} {inputs})", statistics.median(ours),
                   "sig/s", statistics.median(bare), "bare cryptography loop, one thread", BATCH_TARGET,
                   note=f"{note}; the batch signs on {threads} thread{'s' * (threads > 1)} (one per core)"),
            Figure(f"Batch sign, software, {short} {size} ({count:,} {inputs}), one thread (--threads 1)",
                   statistics.median(one), "sig/s", statistics.median(bare_one), "bare cryptography loop", "",
                   note="what each thread adds around the library's sign")]


def software_batch(tmp: Path, runs: int) -> list[Figure]:
    kms = open_kms(tmp / "software")
    figures = []
    try:
        for algorithm, size, sig_alg, short in SOFTWARE_KEYS:
            figures += measured(f"Batch sign, software, {short} {size}", "sig/s", BATCH_TARGET,
                                _software_key, kms, algorithm, size, sig_alg, short, runs)
    finally:
        kms.close()
    return figures


def _tool_sign(command: list[str], env: dict[str, str]) -> float:
    """Seconds of one ``pkcs11-tool`` run; CalledProcessError (with its stderr) when it fails."""
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, text=True, timeout=60)
    return time.perf_counter() - start


@dataclass
class _Token:
    """The SoftHSM2 token the SoftHSM2 figures use, and where their files go."""

    conf: Path
    module: Path
    label: str
    data_dir: Path
    tmp: Path
    cli_env: dict[str, str] | None = None  # where the command finds its PIN: the Secret Service


def _tool_loop_rate(token: _Token, key_id_hex: str, mechanism: str) -> float:
    """``pkcs11-tool --sign`` once per digest, as a shell loop does. The key is chosen by its CKA_ID
    (``--id``): OpenSC's ``--sign`` ignores ``--label`` and signs with the first private key it finds."""
    env = {**os.environ, "SOFTHSM2_CONF": str(token.conf)}
    digests, _ = _digests(TOOL_LOOP)
    seconds = 0.0
    for i, digest in enumerate(digests):
        path = token.tmp / f"{mechanism.lower()}-digest-{i}.bin"
        path.write_bytes(digest if mechanism == "ECDSA" else SHA256_DIGEST_INFO + digest)
        seconds += _tool_sign(["pkcs11-tool", "--module", str(token.module), "--token-label", token.label, "--login",
                               "--pin", HSM_PIN, "--sign", "--mechanism", "ECDSA" if mechanism == "ECDSA" else "RSA-PKCS",
                               "--id", key_id_hex, "--input-file", str(path),
                               "--output-file", str(path.with_suffix(".sig"))], env)
    return TOOL_LOOP / seconds


def _token_object(kms, record):
    """The python-pkcs11 private key object of a recorded key, on the engine's own logged-in session,
    and the hex of its CKA_ID."""
    from pkcs11 import Attribute

    from engines.pkcs11 import lookup as pkcs11_lookup

    link = kms.context.driver(record.engine_id)._link

    def find(shared):
        obj = pkcs11_lookup.find_private(shared, link.where, record.native_ref)
        return obj, bytes(obj[Attribute.ID]).hex()

    return link.run("find the key", find)


def _bare_pkcs11_rate(obj, mechanism: str, digests: list[bytes]) -> float:
    """The baseline: python-pkcs11's sign in a loop, on the same session and key object as the batch."""
    from pkcs11 import Mechanism

    if mechanism == "ECDSA":
        payloads, mech = digests, Mechanism.ECDSA
    else:
        payloads, mech = [SHA256_DIGEST_INFO + d for d in digests], Mechanism.RSA_PKCS
    sign = obj.sign
    start = time.perf_counter()
    for payload in payloads:
        sign(payload, mechanism=mech)
    return len(payloads) / (time.perf_counter() - start)


def _softhsm_batch_figure(kms, obj, name: str, sig_alg: str, short: str, size: int, lines: list[bytes],
                          runs: int, bare_rates: list[float]) -> list[Figure]:
    digests = [bytes.fromhex(line.decode().strip()) for line in lines]
    ours, bare = _alternate(runs, lambda: _batch_rate(kms, name, sig_alg, lines),
                            lambda: _bare_pkcs11_rate(obj, short, digests))
    bare_rates += bare
    return [Figure(f"Batch sign, SoftHSM2, {short} {size} ({BATCH:,} digests)", statistics.median(ours), "sig/s",
                   statistics.median(bare_rates), "bare python-pkcs11 loop, one session", BATCH_TARGET)]


def _cli_batch_seconds(token: _Token, name: str, sig_alg: str, batch_file: Path, out: Path) -> float:
    env = token.cli_env or {**bench_env(token.data_dir), "SOFTHSM2_CONF": str(token.conf)}
    start = time.perf_counter()
    subprocess.run([KMS_TUI, "keys", "sign", name, "--algorithm", sig_alg, "--message-type", "digest",
                    "--batch", str(batch_file), "--out", str(out)], env=env, check=True, capture_output=True,
                   timeout=600)
    return time.perf_counter() - start


def _end_to_end(token: _Token, obj, name: str, sig_alg: str, short: str, size: int, key_id_hex: str,
                lines: list[bytes], runs: int, bare_rates: list[float]) -> list[Figure]:
    """``kms-tui keys sign --batch`` (process start to exit) against a ``pkcs11-tool --sign`` loop; for RSA,
    whose signatures the token makes slowly, also its speed-up over that loop divided by the most any signer
    could gain on this token (pkcs11-tool's seconds per signature ÷ the bare python-pkcs11 loop's). That
    quotient is the command's rate over the bare loop's, so each command run is followed by a bare loop."""
    title = f"kms-tui keys sign --batch, SoftHSM2, {short} {size} (end to end)"
    bounded = short != "ECDSA"
    batch_file = token.tmp / f"{name}.txt"
    batch_file.write_bytes(b"".join(lines))
    one = token.tmp / f"{name}-one.txt"
    one.write_bytes(lines[0])
    digests = [bytes.fromhex(line.decode().strip()) for line in lines]
    cli_rates, bare_beside = [], []
    for i in range(max(3, runs // 2)):
        cli_rates.append(BATCH / _cli_batch_seconds(token, name, sig_alg, batch_file, token.tmp / f"{name}-{i}.jsonl"))
        if bounded:
            bare_beside.append(_bare_pkcs11_rate(obj, short, digests))
    cli = statistics.median(cli_rates)
    # A one-digest batch: what a process costs before it signs in bulk.
    start_up = statistics.median(_cli_batch_seconds(token, name, sig_alg, one, token.tmp / f"{name}-one-{i}.jsonl")
                                 for i in range(3))
    note = f"PIN from gnome-keyring over D-Bus; a one-digest batch takes {start_up * 1000:.0f} ms"
    target = ">= 50x" if short == "ECDSA" else ""
    bound_title = f"kms-tui keys sign --batch, SoftHSM2, {short} {size}: speed-up over pkcs11-tool ÷ the token's bound"
    try:
        tool = _tool_loop_rate(token, key_id_hex, short)
    except Exception as exc:
        figure = failed(title, "sig/s", target, exc)
        figure.value, figure.note, figure.error = cli, note, "baseline " + figure.error
        return [figure, failed(bound_title, "x", BOUND_TARGET, exc)] if bounded else [figure]
    bare = statistics.median(bare_beside or bare_rates) if bare_beside or bare_rates else None
    if bare:
        note += f"; the token signs at {bare:,.0f}/s on a bare loop"
    figures = [Figure(title, cli, "sig/s", tool, f"pkcs11-tool --sign shell loop ({TOOL_LOOP} digests)", target,
                      note=note + "; bound by the token: see the next row" if bounded else note)]
    if bounded:
        if bare is None:
            figures.append(failed(bound_title, "x", BOUND_TARGET, RuntimeError("no bare python-pkcs11 loop measured")))
        else:
            figures.append(Figure(bound_title, cli / tool, "x", bare / tool,
                                  "bound: pkcs11-tool s/sig ÷ bare python-pkcs11 s/sig", BOUND_TARGET))
    return figures


def _softhsm_key(kms, token: _Token, algorithm: str, size: int, sig_alg: str, short: str, runs: int) -> list[Figure]:
    name = f"hsm-{short.lower()}"
    record = kms.keys.create(algorithm, size, name)
    obj, key_id_hex = _token_object(kms, record)
    _, lines = _digests(BATCH)
    bare_rates: list[float] = []
    figures = measured(f"Batch sign, SoftHSM2, {short} {size}", "sig/s", BATCH_TARGET,
                       _softhsm_batch_figure, kms, obj, name, sig_alg, short, size, lines, runs, bare_rates)
    figures += measured(f"kms-tui keys sign --batch, SoftHSM2, {short} {size} (end to end)", "sig/s",
                        ">= 50x" if short == "ECDSA" else BOUND_TARGET,
                        _end_to_end, token, obj, name, sig_alg, short, size, key_id_hex, lines, runs, bare_rates)
    return figures


def softhsm_batch(tmp: Path, runs: int) -> list[Figure]:
    from bench.oneshot import SecretService

    label = "bench-sign"
    conf, module = softhsm_store(tmp / "hsm", ())
    token = _Token(conf, module, label, tmp / "hsm-data", tmp)
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", "bench-so-pin-2468",
                    "--pin", HSM_PIN], env=env, check=True, capture_output=True, timeout=60)
    figures = []
    # The command runs as an operator runs it: its PIN in the OS keyring (gnome-keyring over D-Bus).
    host = SecretService(tmp / "secret-service")
    with patched_env(SOFTHSM2_CONF=str(conf)):
        kms = open_kms(token.data_dir)
        try:
            kms.engines.register("PKCS11", "hsm", options={"module": str(module), "token": label}, secret=HSM_PIN,
                                 make_default=True)
            token.cli_env = {**host.env, "SOFTHSM2_CONF": str(conf), "KMS_TUI_DATA_DIR": str(token.data_dir)}
            subprocess.run([KMS_TUI, "engines", "secret", "hsm", "--secret-stdin"], env=token.cli_env,
                           input=HSM_PIN + "\n", text=True, check=True, capture_output=True, timeout=120)
            for algorithm, size, sig_alg, short in KEYS:
                figures += measured(f"SoftHSM2 figures, {short} {size}", "sig/s", BATCH_TARGET,
                                    _softhsm_key, kms, token, algorithm, size, sig_alg, short, runs)
        finally:
            kms.close()
            host.stop()
    return figures


def memory_probe(data_dir: str, total: int) -> dict:
    """In a fresh process: RSS after 1 000 and after ``total`` signatures through the service."""
    kms = open_kms(Path(data_dir))
    kms.keys.create("ECDSA", 256, "long-session")
    marks = {}
    for i in range(1, total + 1):
        kms.signing.sign("long-session", "ECDSA_SHA_256", b"message %d" % i)
        if i in (1_000, total):
            marks[i] = rss_mb()
    kms.close()
    return marks


def memory(tmp: Path, total: int) -> list[Figure]:
    out = subprocess.run([PYTHON, str(Path(__file__).resolve()), "--memory", str(tmp / "memory"), str(total)],
                         env=bench_env(tmp / "memory"), check=True, capture_output=True, text=True, timeout=900)
    marks = {int(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}
    return [Figure(f"RSS after {total:,} service signatures", marks[total], "MB", marks[1_000], "RSS after 1,000",
                   "<= 1.1x", note="each signature also appends an audit row")]


def run(quick: bool = False) -> list[Figure]:
    runs = 3 if quick else 5
    with tempfile.TemporaryDirectory(prefix="kms-bench-sign-") as name:
        tmp = Path(name)
        figures = measured("Batch sign, software", "sig/s", BATCH_TARGET, software_batch, tmp, runs)
        figures += measured("Batch sign, SoftHSM2", "sig/s", BATCH_TARGET, softhsm_batch, tmp, runs)
        total = 3_000 if quick else 10_000
        figures += measured(f"RSS after {total:,} service signatures", "MB", "<= 1.1x", memory, tmp, total)
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--memory"]:
        print(json.dumps(memory_probe(sys.argv[2], int(sys.argv[3]))))
    else:
        for figure in run("--quick" in sys.argv):
            print(figure)
