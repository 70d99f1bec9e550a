"""`kms-tui keys sign REF --batch FILE|-`: JSON lines out, progress on stderr, one audit row."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from tests.cli.runner import KMS_TUI


def _public(cli, ref):
    return serialization.load_pem_public_key(cli("keys", "export-public", ref).stdout)


def _audit_batches(cli):
    return [r for r in cli.json("audit", "list", "--limit", "500") if r["action"] == "key.sign_batch"]


def test_a_mixed_batch_file_signs_the_good_lines_and_exits_1(cli, tmp_path):
    cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "batch")
    digests = [hashlib.sha256(b"%d" % i).digest() for i in range(3)]
    batch = tmp_path / "in.txt"
    batch.write_text(f"{digests[0].hex()}\nnot-hex\n{{\"id\": \"csr-9\", \"hex\": \"{digests[1].hex()}\"}}\n"
                     f"# a comment\n{digests[2].hex()[:-2]}\n{digests[2].hex()}\n")
    out = tmp_path / "out.jsonl"
    proc = cli("keys", "sign", "batch", "--algorithm", "ECDSA_SHA_256", "--message-type", "digest",
               "--batch", str(batch), "--out", str(out), code=1)
    assert "Signed 3 of 5 (2 failed)" in proc.stderr.decode()
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["line"], r["signature"] is not None) for r in results] == [
        (1, 1, True), (2, 2, False), ("csr-9", 3, True), (5, 5, False), (6, 6, True)]
    assert results[1]["error"] == "not valid hex"
    assert "needs a 32-byte SHA256 digest; got 31 bytes" in results[3]["error"]
    public = _public(cli, "batch")
    import base64

    for result, digest in zip([results[0], results[2], results[4]], digests, strict=True):
        public.verify(base64.b64decode(result["signature"]), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    [row] = _audit_batches(cli)
    assert (row["details"]["count"], row["details"]["signed"], row["details"]["failed"]) == (5, 3, 2)
    assert not [r for r in cli.json("audit", "list") if r["action"] == "key.sign"]
    # The output file is evidence: a second run does not overwrite it, and signs nothing.
    proc = cli("keys", "sign", "batch", "--algorithm", "ECDSA_SHA_256", "--batch", str(batch), "--out", str(out), code=3)
    assert "exists; it is not overwritten" in proc.stderr.decode()
    assert len(_audit_batches(cli)) == 1


def test_stdin_batch_of_base64_messages_exits_0_with_json_summary(cli):
    cli("keys", "create", "--algorithm", "ED25519", "--size", "256", "--name", "ed")
    import base64

    messages = [b"message %d" % i for i in range(50)]
    proc = cli("keys", "sign", "ed", "--algorithm", "ED25519", "--batch", "-", "--input-encoding", "base64", "--json",
               input=b"\n".join(base64.b64encode(m) for m in messages) + b"\n")
    results = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    public = _public(cli, "ed")
    for message, result in zip(messages, results, strict=True):
        public.verify(base64.b64decode(result["signature"]), message)
    summary = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    assert summary["count"] == summary["signed"] == 50 and summary["failed"] == 0


def test_batch_refuses_in_together_with_batch_and_raw_encoding(cli):
    cli("keys", "create", "--algorithm", "ED25519", "--size", "256", "--name", "ed")
    proc = cli("keys", "sign", "ed", "--algorithm", "ED25519", "--batch", "-", "--in", "x", code=3, input=b"00\n")
    assert "--in and --batch are exclusive" in proc.stderr.decode()
    proc = cli("keys", "sign", "missing-key", "--algorithm", "ED25519", "--batch", "-", code=3, input=b"00\n")
    assert proc.stdout == b""


def test_an_interrupted_batch_keeps_its_results_and_audit_row(process_cli):
    cli = process_cli  # SIGINT to a real process that needs the keyring's secret
    cli("keys", "create", "--algorithm", "RSA", "--size", "2048", "--name", "rsa")
    proc = subprocess.Popen([KMS_TUI, "--data-dir", str(cli.data_dir), "keys", "sign", "rsa", "--algorithm",
                             "RSASSA_PKCS1_V1_5_SHA_256", "--batch", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli.env)
    try:
        for i in range(30):
            proc.stdin.write(b"%02x\n" % i)
        proc.stdin.flush()
        # Results arrive while the input is still open (the process now waits for line 31).
        lines = [proc.stdout.readline() for _ in range(30)]
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "Interrupted after" in err.decode()
    assert rest == b""
    results = [json.loads(line) for line in lines]
    assert len(results) == 30 and all(r["signature"] for r in results)
    [row] = _audit_batches(cli)
    assert row["details"]["interrupted"] is True and row["details"]["count"] == 30
    assert cli.json("audit", "verify")["ok"] is True


def test_threads_give_the_output_of_one_thread_and_are_bounded(cli):
    cli("keys", "create", "--algorithm", "ED25519", "--size", "256", "--name", "ed")  # deterministic signatures
    lines = b"".join(b"%064x\n" % i for i in range(600))
    outputs = [cli("keys", "sign", "ed", "--algorithm", "ED25519", "--batch", "-", "--threads", n, input=lines).stdout
               for n in ("1", "3")]
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == 600
    proc = cli("keys", "sign", "ed", "--algorithm", "ED25519", "--batch", "-", "--threads", "0", code=2, input=lines)
    assert "--threads" in proc.stderr.decode() and proc.stdout == b""
