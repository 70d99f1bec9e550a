"""Figures 4 and 6: batch signing throughput, and the memory of a long signing session.

Batch signing (2 000 digests, ECDSA P-256 and RSA-2048):
- software engine: ``kms.signing.sign_batch`` — reading the hex lines, signing, writing each
  JSON result line, one audit row — against a bare ``cryptography`` loop signing the same
  digests with the same key object (nothing read, nothing written);
- SoftHSM2: the same batch against a bare python-pkcs11 loop on the same session and
  key object (CKM_ECDSA over the digest; CKM_RSA_PKCS over its DigestInfo — what the
  engine sends), signing only;
- SoftHSM2 through the command line: ``kms-tui keys sign --batch`` end to end (process
  start to exit) against what operators script today, a shell loop of ``pkcs11-tool
  --sign`` per digest (timed over ``TOOL_LOOP`` digests).

Memory: 10 000 ``kms.signing.sign`` calls in a fresh process; the resident set after 10 000
against after the first 1 000.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import KMS_TUI, PYTHON, Figure, bench_env, rss_mb  # noqa: E402
from bench.sync_scaling import HSM_PIN, open_kms, patched_env, softhsm_store  # noqa: E402

BATCH = 2_000
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
TOOL_LOOP = 60
KEYS = (("ECDSA", 256, "ECDSA_SHA_256", "ECDSA"), ("RSA", 2048, "RSASSA_PKCS1_V1_5_SHA_256", "RSA"))


def _batch_rate(kms, name: str, sig_alg: str, lines: list[bytes]) -> float:
    from kms_tui.batch import read_items, result_line

    out: list[str] = []
    start = time.perf_counter()
    summary = kms.signing.sign_batch(name, sig_alg, read_items(lines), "DIGEST",
                             emit=lambda *r: out.append(result_line(*r)))
    elapsed = time.perf_counter() - start
    assert summary.signed == len(lines), summary
    return len(lines) / elapsed


def _bare_rate(private, algorithm: str, digests: list[bytes]) -> float:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    chosen = Prehashed(hashes.SHA256())
    sign = private.sign
    start = time.perf_counter()
    if algorithm == "ECDSA":
        for digest in digests:
            sign(digest, ec.ECDSA(chosen))
    else:
        for digest in digests:
            sign(digest, padding.PKCS1v15(), chosen)
    return len(digests) / (time.perf_counter() - start)


def _digests(n: int) -> tuple[list[bytes], list[bytes]]:
    digests = [os.urandom(32) for _ in range(n)]
    return digests, [d.hex().encode() + b"\n" for d in digests]


def software_batch(tmp: Path, runs: int) -> list[Figure]:
    kms = open_kms(tmp / "software")
    figures = []
    try:
        for algorithm, size, sig_alg, short in KEYS:
            name = f"batch-{short.lower()}"
            record = kms.keys.create(algorithm, size, name)
            private = kms.context.driver(record.engine_id)._load(record.native_ref)  # the engine's own key object
            digests, lines = _digests(BATCH)
            ours, bare = [], []
            for _ in range(runs):
                ours.append(_batch_rate(kms, name, sig_alg, lines))
                bare.append(_bare_rate(private, algorithm, digests))
            figures.append(Figure(f"Batch sign, software, {short} {size} ({BATCH:,} digests)", statistics.median(ours),
                                  "sig/s", statistics.median(bare), "bare cryptography loop", ">= 0.9x",
                                  note="batch reads hex lines, writes JSON lines and one audit row; the loop only signs"))
    finally:
        kms.close()
    return figures


def _tool_sign(command: list[str], env: dict[str, str]) -> float:
    """Seconds of one successful ``pkcs11-tool`` run. SoftHSM2 sometimes answers CKR_OPERATION_NOT_INITIALIZED
    to pkcs11-tool's RSA-PKCS signing (a tool quirk, not load): such a run is repeated and not timed."""
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        if done.returncode == 0:
            return time.perf_counter() - start
    raise RuntimeError(f"{command[0]} exited {done.returncode}: {done.stderr.strip()[-500:]}")


def _tool_loop_rate(conf: Path, module: Path, token: str, label: str, mechanism: str, tmp: Path) -> float:
    """``pkcs11-tool --sign`` once per digest, as a shell loop does."""
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    digests, _ = _digests(TOOL_LOOP)
    seconds = 0.0
    for i, digest in enumerate(digests):
        path = tmp / f"{label}-digest-{i}.bin"
        path.write_bytes(digest if mechanism == "ECDSA" else SHA256_DIGEST_INFO + digest)
        seconds += _tool_sign(["pkcs11-tool", "--module", str(module), "--token-label", token, "--login", "--pin",
                               HSM_PIN, "--sign", "--mechanism", "ECDSA" if mechanism == "ECDSA" else "RSA-PKCS",
                               "--label", label, "--input-file", str(path),
                               "--output-file", str(path.with_suffix(".sig"))], env)
    return TOOL_LOOP / seconds


def _token_object(kms, record):
    """The python-pkcs11 private key object of a recorded key, on the engine's own logged-in session."""
    from engines.pkcs11 import lookup as pkcs11_lookup

    link = kms.context.driver(record.engine_id)._link
    return link.run("find the key", lambda shared: pkcs11_lookup.find_private(shared, link.where, record.native_ref))


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


def softhsm_batch(tmp: Path, runs: int) -> list[Figure]:
    token = "bench-sign"
    conf, module = softhsm_store(tmp / "hsm", ())
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", token, "--so-pin", "bench-so-pin-2468",
                    "--pin", HSM_PIN], env=env, check=True, capture_output=True, timeout=60)
    figures = []
    data_dir = tmp / "hsm-data"
    with patched_env(SOFTHSM2_CONF=str(conf)):
        kms = open_kms(data_dir)
        try:
            kms.engines.register("PKCS11", "hsm", options={"module": str(module), "token": token}, secret=HSM_PIN,
                                make_default=True)
            for algorithm, size, sig_alg, short in KEYS:
                name = f"hsm-{short.lower()}"
                record = kms.keys.create(algorithm, size, name)
                _, lines = _digests(BATCH)
                obj = _token_object(kms, record)
                digests = [bytes.fromhex(line.decode().strip()) for line in lines]
                ours, bare = [], []
                for _ in range(runs):
                    ours.append(_batch_rate(kms, name, sig_alg, lines))
                    bare.append(_bare_pkcs11_rate(obj, short, digests))
                figures.append(Figure(f"Batch sign, SoftHSM2, {short} {size} ({BATCH:,} digests)",
                                      statistics.median(ours), "sig/s", statistics.median(bare),
                                      "bare python-pkcs11 loop, one session", ">= 0.9x"))
                # End to end through the command line, against a pkcs11-tool shell loop.
                batch_file = tmp / f"{name}.txt"
                batch_file.write_bytes(b"".join(lines))
                cli_env = {**bench_env(data_dir), "SOFTHSM2_CONF": str(conf)}
                cli_runs = []
                for i in range(max(3, runs // 2)):
                    start = time.perf_counter()
                    subprocess.run([KMS_TUI, "keys", "sign", name, "--algorithm", sig_alg, "--message-type", "digest",
                                    "--batch", str(batch_file), "--out", str(tmp / f"{name}-{i}.jsonl")],
                                   env=cli_env, check=True, capture_output=True, timeout=600)
                    cli_runs.append(BATCH / (time.perf_counter() - start))
                one = tmp / f"{name}-one.txt"
                one.write_bytes(lines[0])
                start_up = []
                for i in range(3):  # a one-digest batch: what a process costs before it signs in bulk
                    start = time.perf_counter()
                    subprocess.run([KMS_TUI, "keys", "sign", name, "--algorithm", sig_alg, "--message-type", "digest",
                                    "--batch", str(one), "--out", str(tmp / f"{name}-one-{i}.jsonl")],
                                   env=cli_env, check=True, capture_output=True, timeout=600)
                    start_up.append(time.perf_counter() - start)
                tool = _tool_loop_rate(conf, module, token, record.native_ref, short, tmp)
                figures.append(Figure(f"kms-tui keys sign --batch, SoftHSM2, {short} {size} (end to end)",
                                      statistics.median(cli_runs), "sig/s", tool,
                                      f"pkcs11-tool --sign shell loop ({TOOL_LOOP} digests)", ">= 50x",
                                      note=f"a one-digest batch takes {statistics.median(start_up) * 1000:.0f} ms; "
                                           f"the token signs at {statistics.median(bare):,.0f}/s"))
        finally:
            kms.close()
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
        figures = software_batch(tmp, runs)
        figures += softhsm_batch(tmp, runs)
        figures += memory(tmp, 3_000 if quick else 10_000)
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--memory"]:
        print(json.dumps(memory_probe(sys.argv[2], int(sys.argv[3]))))
    else:
        for figure in run("--quick" in sys.argv):
            print(figure)
