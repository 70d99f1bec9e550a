"""Batch signing through the service, and the batch input format."""

from __future__ import annotations

import base64
import hashlib
import io
import threading

import pytest
from cryptography.hazmat.primitives import serialization

from engines.errors import InvalidInput
from engines.testing import verify_independently
from kms_tui.batch import (
    MAX_LINE_BYTES,
    BatchItem,
    read_items,
    read_lines,
    read_stream,
    result_line,
    result_lines,
)
from kms_tui.service.errors import Refused


def _items(*lines: bytes, encoding: str = "hex"):
    return list(read_items(list(lines), encoding))


def _public(kms, ref):
    return serialization.load_pem_public_key(kms.keys.export_public(ref, "pem"))


class Collect:
    def __init__(self):
        self.results = []

    def __call__(self, item_id, line, signature, error):
        self.results.append((item_id, line, signature, error))


# --- the input format ----------------------------------------------------------


def test_plain_lines_are_hex_or_base64_numbered_from_one():
    digest = hashlib.sha256(b"a").digest()
    items = _items(digest.hex().encode() + b"\n", b"\n", b"# comment\n", b"  " + digest.hex().upper().encode() + b"\r\n")
    assert [(i.id, i.line, i.data, i.error) for i in items] == [(1, 1, digest, None), (4, 4, digest, None)]
    [b64] = _items(base64.b64encode(digest) + b"\n", encoding="base64")
    assert b64.data == digest


def test_json_lines_carry_ids_and_either_encoding():
    items = _items(b'{"id": "cert-7", "hex": "00ff"}', b'{"id": 12, "base64": "AP8="}', b'{"hex": "01"}')
    assert [(i.id, i.data) for i in items] == [("cert-7", b"\x00\xff"), (12, b"\x00\xff"), (3, b"\x01")]


@pytest.mark.parametrize(("line", "error"), [
    (b"zz", "not valid hex"),
    (b"abc", "not valid hex"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "not valid hex"),
    (b'"text"', "not valid hex"),
    (b"{\"id\": 1}", "give exactly one of hex or base64"),
    (b'{"id": 1, "hex": "00", "base64": "AA=="}', "give exactly one of hex or base64"),
    (b'{"id": 1, "hex": 5}', "hex must be a string"),
    (b'{"id": 1, "hex": "0g"}', "not valid hex"),
    (b'{"id": true, "hex": "00"}', "id must be a string or an integer"),
    (b'{"id": [1], "hex": "00"}', "id must be a string or an integer"),
    (b'{"id": 1, "hex": "00", "digest": "00"}', "unknown member 'digest'"),
    (b"[" * 100_000, "not valid hex"),
    (b"{" * 100_000, "not valid JSON"),
])
def test_unreadable_lines_become_items_with_their_error(line, error):
    [item] = _items(line)
    assert item.data is None and error in item.error and item.line == 1


def test_an_overlong_line_is_reported_without_being_held_and_numbering_goes_on():
    stream = io.BytesIO(b"00\n" + b"a" * (MAX_LINE_BYTES * 3) + b"\n01\n")
    items = list(read_items(read_lines(stream)))
    assert [(i.line, i.data) for i in items] == [(1, b"\x00"), (2, None), (3, b"\x01")]
    assert "longer than" in items[1].error


class Trickle(io.RawIOBase):
    """A stream that hands out its bytes a few at a time, the way a pipe does."""

    def __init__(self, data: bytes, sizes: list[int]):
        self._data, self._sizes, self.reads, self._at = memoryview(data), sizes, 0, 0

    def readable(self):
        return True

    def read1(self, n=-1):
        size = self._sizes[self.reads % len(self._sizes)]
        self.reads += 1
        piece = bytes(self._data[self._at:self._at + size])
        self._at += len(piece)
        return piece


def test_a_stream_read_as_it_arrives_gives_the_items_of_a_line_by_line_read():
    digest = hashlib.sha256(b"a").hexdigest().encode()
    data = (digest + b"\n\n# c\n" + b"f" * (MAX_LINE_BYTES + 5) + b"\n" + b'{"id": "x", "hex": "00"}\r\n'
            + b"zz\n" + digest + b"\n" + digest)  # the last line has no newline
    by_line = [(i.id, i.line, i.data, i.error) for i in read_items(read_lines(io.BytesIO(data)))]
    for sizes in ([len(data)], [7, 64, 3], [65536], [1] * 80 + [len(data)]):
        stream = Trickle(data, sizes)
        chunks = list(read_stream(stream).chunks())
        assert [(i.id, i.line, i.data, i.error) for c in chunks for i in c] == by_line
    assert [line for _, line, _, _ in by_line] == [1, 4, 5, 6, 7, 8]


def test_a_part_grows_on_a_fast_engine_and_stays_one_item_on_a_slow_one(kms, monkeypatch):
    import kms_tui.service.batch_run as batch_run

    kms.keys.create("ECDSA", 256, "ec")
    lines = [hashlib.sha256(b"%d" % n).hexdigest().encode() for n in range(300)]
    parts: list[int] = []

    def many(items, signatures, errors):
        parts.append(len(items))

    kms.signing.sign_batch("ec", "ECDSA_SHA_256", read_items(lines), "DIGEST", emit=Collect(), emit_many=many)
    assert sum(parts) == 300 and parts[:3] == [1, 2, 4] and max(parts) > 16
    parts.clear()
    clock = iter(range(100_000))
    monkeypatch.setattr(batch_run.time, "monotonic", lambda: next(clock) * 0.05)  # every part "takes" 50 ms
    kms.signing.sign_batch("ec", "ECDSA_SHA_256", read_items(lines[:20]), "DIGEST", emit=Collect(), emit_many=many)
    assert parts == [1] * 20


def test_results_handed_at_once_are_the_lines_and_hashes_of_results_one_by_one(kms):
    kms.keys.create("ED25519", 256, "ed")  # deterministic signatures: both batches must agree byte for byte
    lines = [b"00", b"zz", b"0102", b'{"id": "q\\u202e", "hex": "03"}'] * 30
    one_by_one, at_once = [], []
    a = kms.signing.sign_batch("ed", "ED25519", read_items(lines),
                               emit=lambda *r: one_by_one.append(result_line(*r)))
    b = kms.signing.sign_batch("ed", "ED25519", read_items(lines), emit=Collect(),
                               emit_many=lambda *r: at_once.extend(result_lines(*r)))
    assert at_once == one_by_one and len(at_once) == 120
    assert (a.inputs_sha256, a.outputs_sha256, a.signed, a.failed) == (b.inputs_sha256, b.outputs_sha256, 90, 30)


def test_result_lines_are_json_with_the_id_as_given():
    import json

    ok = json.loads(result_line("a\"b\u202e", 3, b"\x01\x02", None))
    assert ok == {"id": "a\"b\u202e", "line": 3, "signature": "AQI=", "error": None}
    bad = json.loads(result_line(7, 7, None, 'bad "digest"'))
    assert bad == {"id": 7, "line": 7, "signature": None, "error": 'bad "digest"'}


# --- signing -------------------------------------------------------------------


def test_a_mixed_batch_signs_the_good_lines_and_audits_once(kms):
    kms.keys.create("ECDSA", 256, "batch-key")
    digest = hashlib.sha256(b"first").digest()
    lines = [digest.hex().encode(), b"zz", b'{"id": "short", "hex": "0011"}',
             b'{"id": "b64", "base64": "' + base64.b64encode(hashlib.sha256(b"second").digest()) + b'"}', b"{oops"]
    before = len(kms.audit.rows(limit=1000))
    out = Collect()
    summary = kms.signing.sign_batch("batch-key", "ECDSA_SHA_256", read_items(lines), "DIGEST", emit=out)
    assert (summary.count, summary.signed, summary.failed, summary.interrupted) == (5, 2, 3, False)
    by_id = {r[0]: r for r in out.results}
    assert [r[0] for r in out.results] == [1, 2, "short", "b64", 5]
    assert "needs a 32-byte SHA256 digest; got 2 bytes" in by_id["short"][3]
    assert by_id[2][3] == "not valid hex" and by_id[5][3] == "not valid JSON"
    public = _public(kms, "batch-key")
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    public.verify(by_id[1][2], digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    public.verify(by_id["b64"][2], hashlib.sha256(b"second").digest(), ec.ECDSA(Prehashed(hashes.SHA256())))
    rows = kms.audit.rows(limit=1000)
    assert len(rows) == before + 1  # one row for the batch, none per signature
    row = rows[0]
    assert row.action == "key.sign_batch"
    assert row.details["count"] == 5 and row.details["signed"] == 2 and row.details["failed"] == 3
    assert row.details["inputs_sha256"] == summary.inputs_sha256
    assert row.details["outputs_sha256"] == summary.outputs_sha256
    assert kms.audit.verify().ok


def test_the_audit_hashes_cover_every_input_and_output(kms):
    kms.keys.create("ED25519", 256, "ed")
    lines = [b"00", b"0102"]
    a = kms.signing.sign_batch("ed", "ED25519", read_items(lines), emit=Collect())
    b = kms.signing.sign_batch("ed", "ED25519", read_items([b"00", b"0103"]), emit=Collect())
    c = kms.signing.sign_batch("ed", "ED25519", read_items(lines), emit=Collect())
    assert a.inputs_sha256 != b.inputs_sha256
    assert a.inputs_sha256 == c.inputs_sha256 and a.outputs_sha256 == c.outputs_sha256  # Ed25519 is deterministic
    expected = hashlib.sha256()
    for data in (b"\x00", b"\x01\x02"):
        expected.update(len(data).to_bytes(8, "big") + data)
    assert a.inputs_sha256 == expected.hexdigest()


@pytest.mark.parametrize(("algorithm", "size", "sig_alg"), [
    ("RSA", 2048, "RSASSA_PSS_SHA_384"), ("RSA", 2048, "RSASSA_PKCS1_V1_5_SHA_256"), ("ECDSA", 384, "ECDSA_SHA_384"),
    ("ED25519", 256, "ED25519"),
])
def test_raw_messages_sign_like_single_signatures(kms, algorithm, size, sig_alg):
    kms.keys.create(algorithm, size, "k")
    messages = [b"message %d" % i for i in range(5)]
    out = Collect()
    kms.signing.sign_batch("k", sig_alg, read_items([m.hex().encode() for m in messages]), "RAW", emit=out)
    public = _public(kms, "k")
    for message, (_, _, signature, error) in zip(messages, out.results, strict=True):
        assert error is None
        verify_independently(public, sig_alg, message, signature)
        assert kms.signing.verify("k", sig_alg, message, signature)


def test_the_key_and_algorithm_are_checked_before_anything_is_signed(kms):
    kms.keys.create("ECDSA", 256, "ec")
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    kms.keys.import_key(other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
                   "pub-only")
    out = Collect()
    with pytest.raises(InvalidInput):
        kms.signing.sign_batch("ec", "RSASSA_PSS_SHA_256", read_items([b"00"]), emit=out)
    with pytest.raises(InvalidInput):
        kms.signing.sign_batch("ec", "NO_SUCH_ALG", read_items([b"00"]), emit=out)
    with pytest.raises(Refused):
        kms.signing.sign_batch("pub-only", "ECDSA_SHA_256", read_items([b"00"]), emit=out)
    assert out.results == []
    assert not [r for r in kms.audit.rows(limit=100) if r.action == "key.sign_batch"]


def test_a_cancelled_batch_stops_and_its_audit_row_says_so(kms):
    kms.keys.create("ECDSA", 256, "ec")
    cancel = threading.Event()
    out = Collect()

    def items():
        for i in range(1000):
            if i == 10:
                cancel.set()
            yield BatchItem(i, i + 1, b"%d" % i)

    summary = kms.signing.sign_batch("ec", "ECDSA_SHA_256", items(), emit=out, cancel=cancel)
    assert summary.interrupted and summary.count == 10 == len(out.results)
    row = kms.audit.rows(limit=1)[0]
    assert row.action == "key.sign_batch" and row.details["interrupted"] is True and row.details["count"] == 10


def test_an_interruption_mid_batch_still_writes_the_audit_row(kms):
    kms.keys.create("ECDSA", 256, "ec")

    def emit(item_id, line, signature, error):
        if line == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        kms.signing.sign_batch("ec", "ECDSA_SHA_256", read_items([b"00"] * 50), emit=emit)
    row = kms.audit.rows(limit=1)[0]
    assert row.details["interrupted"] is True and row.details["count"] == 4 and row.details["signed"] == 4
    assert kms.audit.verify().ok


def test_progress_is_reported_with_running_counts(kms, monkeypatch):
    import kms_tui.service.batch_run as batch_run

    clock = iter(range(0, 10_000))
    monkeypatch.setattr(batch_run.time, "monotonic", lambda: next(clock) * 0.05)
    kms.keys.create("ED25519", 256, "ed")
    seen = []
    kms.signing.sign_batch("ed", "ED25519", read_items([b"00", b"zz"] * 20), emit=Collect(),
                   progress=lambda s: seen.append((s.count, s.signed, s.failed)))
    assert seen and seen == sorted(seen)
    assert all(count == signed + failed for count, signed, failed in seen)
    assert seen[-1][0] <= 40


def test_side_by_side_signing_gives_the_results_and_hashes_of_one_thread(kms, monkeypatch):
    from kms_tui.service import batch_run

    threads: set[str] = set()
    slice_signer = batch_run._sign_slice

    def watched(sign_one, data):
        threads.add(threading.current_thread().name)
        return slice_signer(sign_one, data)

    monkeypatch.setattr(batch_run, "_sign_slice", watched)
    kms.keys.create("ED25519", 256, "ed")  # deterministic: both runs must agree byte for byte
    lines = [b"%04x" % n for n in range(700)]
    lines[400] = b"zz"  # unreadable: its part is signed one by one, with the error in its place
    runs = {}
    for workers in (1, 3):
        out: list[str] = []
        runs[workers] = (kms.signing.sign_batch("ed", "ED25519", read_items(lines), emit=Collect(), workers=workers,
                                                emit_many=lambda *r, out=out: out.extend(result_lines(*r))), out)
    (one, one_out), (three, three_out) = runs[1], runs[3]
    assert three_out == one_out and len(one_out) == 700 and '"error": "not valid hex"' in one_out[400]
    assert (three.signed, three.failed, three.inputs_sha256, three.outputs_sha256) == \
        (one.signed, one.failed, one.inputs_sha256, one.outputs_sha256) == (699, 1, one.inputs_sha256, one.outputs_sha256)
    assert any(name.startswith("batch-sign") for name in threads)  # the pool's threads signed slices
    with pytest.raises(InvalidInput, match="at least one thread"):
        kms.signing.sign_batch("ed", "ED25519", read_items(lines[:1]), emit=Collect(), workers=0)
