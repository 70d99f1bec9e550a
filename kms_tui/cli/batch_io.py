"""``keys sign --batch``: stream lines in, JSON lines out, progress on stderr.

Results are written as they are made (flushed at least every 0.2 s), so a
consumer can follow a long batch on a slow engine, and an interrupted batch
leaves every finished result behind. Exit 0 when every item was signed, 1 when
some were not, 130 when interrupted (SIGINT or SIGTERM); the audit row is
written in every case.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time

from ..batch import read_stream, result_line, result_lines
from ..files import open_input, open_new_file

FLUSH_SECONDS = 0.2
PLAIN_PROGRESS_SECONDS = 2.0


class _Output:
    """Result lines, buffered; flushed by a timer thread too, so results show while the input stalls."""

    def __init__(self, stream):
        self.stream = stream
        self.pending: list[str] = []
        self.written = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._tick, name="batch-flush", daemon=True)
        self._timer.start()

    def emit(self, item_id, line: int, signature: bytes | None, error: str | None) -> None:
        text = result_line(item_id, line, signature, error)
        with self._lock:
            self.pending.append(text)
            self.written += 1
            if signature is None:
                self.failed += 1
            if len(self.pending) >= 512:
                self._write()

    def emit_many(self, items, signatures, errors) -> None:
        texts = result_lines(items, signatures, errors)
        with self._lock:
            self.pending += texts
            self.written += len(texts)
            if errors is not None:
                self.failed += sum(error is not None for error in errors)
            if len(self.pending) >= 512:
                self._write()

    def _tick(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except (OSError, ValueError):  # the reader went away: the main thread will see it too
                return

    def _write(self) -> None:
        if self.pending:
            self.stream.write(("\n".join(self.pending) + "\n").encode("utf-8"))
            self.pending.clear()
        self.stream.flush()

    def flush(self) -> None:
        with self._lock:
            self._write()

    def close(self) -> None:
        self._stop.set()
        self._timer.join()
        self.flush()


class _Progress:
    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.next_plain = time.monotonic() + PLAIN_PROGRESS_SECONDS
        self.shown = False

    def __call__(self, summary) -> None:
        rate = summary.count / summary.seconds if summary.seconds > 0 else 0.0
        text = f"Signed {summary.signed}, failed {summary.failed} · {rate:,.0f}/s"
        if self.tty:
            sys.stderr.write(f"\r{text}\x1b[K")
            sys.stderr.flush()
            self.shown = True
        elif time.monotonic() >= self.next_plain:
            self.next_plain = time.monotonic() + PLAIN_PROGRESS_SECONDS
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def end(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")


def _terminate(signum, frame):
    raise KeyboardInterrupt


def run_batch(kms, args) -> int:
    record = kms.keys.resolve(args.ref)  # a wrong REF fails before any output file is made
    source = sys.stdin.buffer if args.batch == "-" else open_input(args.batch, "batch")
    try:
        out = _Output(sys.stdout.buffer if args.out in (None, "-") else open_new_file(args.out))
    except BaseException:
        if source is not sys.stdin.buffer:
            source.close()
        raise
    progress = _Progress()
    previous = signal.signal(signal.SIGTERM, _terminate)
    summary = None
    try:
        summary = kms.signing.sign_batch(
            record.key_id, args.algorithm, read_stream(source, args.input_encoding),
            args.message_type, emit=out.emit, emit_many=out.emit_many, progress=progress,
            allow_retired=getattr(args, "allow_retired", False), workers=getattr(args, "threads", None),
        )
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        progress.end()
        try:
            out.close()
        finally:
            if out.stream is not sys.stdout.buffer:
                out.stream.close()
            if source is not sys.stdin.buffer:
                source.close()
    if summary is None:
        sys.stderr.write(f"Interrupted after {out.written} items ({out.failed} failed); "
                         "the results so far and the audit row are written.\n")
        return 130
    if args.json:
        sys.stderr.write(json.dumps({
            "count": summary.count, "signed": summary.signed, "failed": summary.failed,
            "stopped": summary.stopped, "seconds": round(summary.seconds, 3),
            "inputs_sha256": summary.inputs_sha256, "outputs_sha256": summary.outputs_sha256,
        }) + "\n")
    else:
        rate = summary.count / summary.seconds if summary.seconds > 0 else 0.0
        sys.stderr.write(f"Signed {summary.signed} of {summary.count} ({summary.failed} failed) "
                         f"in {summary.seconds:.2f} s, {rate:,.0f}/s.\n")
        if summary.stopped:
            sys.stderr.write(f"Stopped early: {summary.stopped}\n")
    return 0 if summary.failed == 0 and not summary.stopped else 1
