"""The batch signing loop: items taken in chunks, one signer, every result emitted in order.

A batch signs as fast as its engine allows only if the work around each signature
is small beside it: a software ECDSA P-256 signature takes about 20 µs, so a
microsecond of Python per item is 5 %. The loop therefore works on parts of a
chunk: it signs a part in a tight loop (one call and one append per item), then
hashes its inputs and outputs with one ``update`` each and hands its results to
the front end at once (``emit_many``). A part grows while it takes under
``PART_SECONDS`` and shrinks when it takes longer, so on a slow engine (an HSM at
tens of milliseconds a signature) every result is emitted, and progress reported,
as it is made. An exception part-way (an interrupt, another key found behind the
record) still emits and hashes what the part had signed.

A signer with ``many`` (a token: one hold of its lock for a part) signs a part
with one call. With ``workers`` > 1 (an engine whose signing function is thread-safe and lets go
of the GIL while it signs: the key in memory, ``cryptography`` doing the work), a
part is cut into one slice per worker, signed side by side and put back in order.
A slice that raises makes the whole part signed again one by one, so a failing
item is handled (and counted) exactly as without workers; the signatures the
slices made are then dropped unseen.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from engines.errors import InvalidInput, KeyIntegrityError, KmsError

# After this many engine failures in a row, a batch stops: the engine is down, not one input bad.
MAX_ENGINE_FAILURES_IN_A_ROW = 10
MAX_PART = 256
# A part is signed on several threads only when each slice has at least this many items.
MIN_SLICE = 8
MAX_WORKERS = 8
PART_SECONDS = 0.02
PROGRESS_SECONDS = 0.1

# The batch hashes take each input and output after its length as 8 bytes (big-endian);
# the lengths of digests and signatures are made once.
_PREFIXES = tuple(n.to_bytes(8, "big") for n in range(1024))
UNREADABLE = b"\xff" * 8  # stands in the hashes for an input that could not be read or signed


@dataclass
class BatchSummary:
    """What a batch did; the audit row carries the same figures."""

    count: int = 0
    signed: int = 0
    failed: int = 0
    interrupted: bool = False
    stopped: str | None = None  # why the batch stopped early (engine failing), if it did
    inputs_sha256: str = ""
    outputs_sha256: str = ""
    seconds: float = 0.0


class BatchItem(Protocol):
    """One input of a batch: its id and line, and its bytes or why they could not be read."""

    @property
    def id(self) -> object: ...
    @property
    def line(self) -> int: ...
    @property
    def data(self) -> bytes | None: ...
    @property
    def error(self) -> str | None: ...


BatchEmit = Callable[[object, int, "bytes | None", "str | None"], None]
# items, their signatures (None where failed), and their errors (None when every item was signed)
BatchEmitMany = Callable[[Sequence[BatchItem], Sequence["bytes | None"], "Sequence[str | None] | None"], None]


def framed(blobs: Sequence[bytes | None]) -> bytes:
    """Each blob after its length as 8 bytes, joined; ``UNREADABLE`` for None.

    Blobs of one length (a batch's digests, RSA signatures) are framed by one ``join``."""
    p = _PREFIXES
    if None not in blobs:
        lengths = set(map(len, blobs))  # type: ignore[arg-type]  # no None among them
        if len(lengths) == 1:
            size = lengths.pop()
            prefix = p[size] if size < 1024 else size.to_bytes(8, "big")
            return prefix + prefix.join(blobs)  # type: ignore[arg-type]
    return b"".join([
        UNREADABLE if b is None else (p[len(b)] if len(b) < 1024 else len(b).to_bytes(8, "big")) + b for b in blobs
    ])


def batch_workers(driver: object, asked: int | None = None) -> int:
    """Threads a batch signs on: ``asked``, else one per core this process may use (at most
    ``MAX_WORKERS``); always one for a driver whose signer is not thread-safe (a PKCS#11 session)."""
    if not getattr(driver, "CONCURRENT_SIGNER", False):
        return 1
    if asked is not None:
        if asked < 1:
            raise InvalidInput(f"A batch signs on at least one thread; {asked} was asked.")
        return min(asked, MAX_WORKERS)
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


def _sign_slice(sign_one: Callable[[bytes], bytes], data: list[bytes | None]) -> list[bytes | None] | None:
    """A slice's signatures, or None when one raised (the part is then signed again one by one)."""
    try:
        return list(map(sign_one, data))  # type: ignore[arg-type]  # no None: checked by the caller
    except Exception:  # noqa: BLE001 - see above
        return None


def chunks_of(items: Iterable[BatchItem]) -> Iterable[Sequence[BatchItem]]:
    """An input as chunks: its own (``items.chunks()``, what was read at once), a list whole, else one by one."""
    chunks = getattr(items, "chunks", None)
    if chunks is not None:
        found: Iterable[Sequence[BatchItem]] = chunks()
        return found
    if isinstance(items, (list, tuple)):
        return (items,) if items else ()
    return ([item] for item in items)


class BatchRun:
    """One batch's state: counts, the two running hashes, the part size and the in-a-row failures."""

    def __init__(self, sign_one: Callable[[bytes], bytes], emit: BatchEmit, emit_many: BatchEmitMany | None,
                 progress: Callable[[BatchSummary], None] | None, cancel: threading.Event | None,
                 workers: int = 1) -> None:
        self.summary = BatchSummary()
        self._sign_one, self._emit, self._emit_many = sign_one, emit, emit_many
        self._progress, self._cancel = progress, cancel
        self._workers = max(1, workers)
        self._pool: Executor | None = None
        self._many: Callable[[list[bytes]], list[bytes]] | None = getattr(sign_one, "many", None)
        self._inputs, self._outputs = hashlib.sha256(), hashlib.sha256()
        self.count = self.signed = self.in_a_row = 0
        self._part = 1
        self.started = self._next_report = time.monotonic()

    def run(self, items: Iterable[BatchItem]) -> None:
        """Sign every item, in order, until the input ends, the batch is cancelled or the engine keeps failing."""
        if self._workers == 1:
            self._run(items)
            return
        with ThreadPoolExecutor(self._workers - 1, thread_name_prefix="batch-sign") as pool:
            self._pool = pool
            try:
                self._run(items)
            finally:
                self._pool = None

    def _run(self, items: Iterable[BatchItem]) -> None:
        cancel = self._cancel
        for chunk in chunks_of(items):
            start, size = 0, len(chunk)
            while start < size:
                if cancel is not None and cancel.is_set():
                    self.summary.interrupted = True
                    return
                step = self._part
                part = chunk if start == 0 and step >= size else chunk[start:start + step]
                began = time.monotonic()
                go_on = self._sign_part(part)
                now = time.monotonic()
                self._part = min(step * 2, MAX_PART) if now - began < PART_SECONDS else max(1, step // 2)
                start += len(part)
                if self._progress is not None and now >= self._next_report:
                    self._next_report = now + PROGRESS_SECONDS
                    self._progress(self.finish())
                if not go_on:
                    return

    def _sign_part(self, part: Sequence[BatchItem]) -> bool:
        """Sign a part in a tight loop; False when the engine failed too often in a row to go on."""
        if self._pool is not None and len(part) >= MIN_SLICE * self._workers:
            together = self._sign_side_by_side(self._pool, part)
        elif self._many is not None and len(part) > 1:
            together = self._sign_at_once(self._many, part)
        else:
            together = None
        if together is not None:
            self.in_a_row = 0
            self._record(part, together, {})
            return True
        signatures: list[bytes | None] = []
        errors: dict[int, str | None] = {}  # by position in the part: why it has no signature
        add, sign_one = signatures.append, self._sign_one
        in_a_row = self.in_a_row
        try:
            for item in part:
                data = item.data
                if data is None:
                    errors[len(signatures)] = item.error
                    add(None)
                    continue
                try:
                    add(sign_one(data))
                    in_a_row = 0
                except InvalidInput as exc:
                    errors[len(signatures)] = exc.message
                    add(None)
                except KeyIntegrityError:
                    raise  # another key behind the record (a session found it again): the batch stops
                except KmsError as exc:
                    errors[len(signatures)] = exc.message
                    add(None)
                    in_a_row += 1
                    if in_a_row >= MAX_ENGINE_FAILURES_IN_A_ROW:
                        self.summary.stopped = f"the engine failed {in_a_row} times in a row: {exc.message}"
                        return False
            return True
        finally:
            self.in_a_row = in_a_row
            self._record(part if len(signatures) == len(part) else part[:len(signatures)], signatures, errors)

    @staticmethod
    def _sign_at_once(many: Callable[[list[bytes]], list[bytes]], part: Sequence[BatchItem]) -> list[bytes | None] | None:
        """The part's signatures from the signer's ``many``; None when an input is unreadable or it raised."""
        data = [item.data for item in part]
        if None in data:
            return None
        try:
            signed: list[bytes | None] = list(many(data))  # type: ignore[arg-type]  # no None
        except Exception:  # noqa: BLE001 - the part is signed again one by one, where each error is handled
            return None
        return signed if len(signed) == len(data) else None

    def _sign_side_by_side(self, pool: Executor, part: Sequence[BatchItem]) -> list[bytes | None] | None:
        """The part's signatures, its slices signed on the pool's threads and this one; None when an
        input is unreadable or a slice raised (the caller then signs the part one by one)."""
        data = [item.data for item in part]
        if None in data:
            return None
        sign_one, workers = self._sign_one, self._workers
        size = -(-len(data) // workers)
        slices = [data[n:n + size] for n in range(0, len(data), size)]
        others = [pool.submit(_sign_slice, sign_one, piece) for piece in slices[1:]]
        try:
            signed: list[bytes | None] = list(map(sign_one, slices[0]))  # type: ignore[arg-type]  # no None
        except Exception:  # noqa: BLE001 - the part is signed again one by one, where each error is handled
            signed = []
        for other in others:
            got = other.result()
            if got is None or not signed:
                signed = []
                continue
            signed += got
        return signed if len(signed) == len(data) else None

    def _record(self, done: Sequence[BatchItem], signatures: list[bytes | None],
                errors: dict[int, str | None]) -> None:
        """Hash, count and emit a part's results: the audit covers every result handed to the front end
        (one whose emit raised included), and no other."""
        if not signatures:
            return
        listed = [errors.get(n) for n in range(len(signatures))] if errors else None
        if self._emit_many is not None:
            self._account(done, signatures, len(errors))
            self._emit_many(done, signatures, listed)
            return
        emit, handed = self._emit, 0
        try:
            for n, item in enumerate(done):
                handed = n + 1
                emit(item.id, item.line, signatures[n], None if listed is None else listed[n])
        finally:
            whole = handed == len(signatures)
            self._account(done if whole else done[:handed], signatures if whole else signatures[:handed],
                          len(errors) if whole else sum(1 for n in errors if n < handed))

    def _account(self, done: Sequence[BatchItem], signatures: Sequence[bytes | None], failed: int) -> None:
        self._inputs.update(framed([item.data for item in done]))
        self._outputs.update(framed(signatures))
        self.count += len(signatures)
        self.signed += len(signatures) - failed

    def finish(self) -> BatchSummary:
        """The summary as of now (counts, time and both hashes)."""
        s = self.summary
        s.count, s.signed, s.failed = self.count, self.signed, self.count - self.signed
        s.seconds = time.monotonic() - self.started
        s.inputs_sha256, s.outputs_sha256 = self._inputs.hexdigest(), self._outputs.hexdigest()
        return s
