"""The ceremony transcript: JSON lines whose entries form a hash chain, each on disk before the next step.

The first line is a header (``{"format": FORMAT, "mode": …}``); every other line is one
entry. Each entry carries the hash of the one before (``prev``; ``GENESIS`` for the first)
and its own ``hash``: the SHA-256 of its canonical JSON (sorted keys, no spaces) without the
``hash`` field. Each entry and its newline go to the file in one write, fsynced before the
ceremony goes on, so the file a crash or a kill leaves behind is a valid prefix: every
complete line an entry, the chain intact up to where it stopped. A finished transcript ends
with a ``ceremony.end`` entry, whose hash is the final hash that goes on the paper record.

``load`` reads this format and the earlier one (``FORMAT_V1``: one JSON document, written
when the ceremony ended).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from .errors import CeremonyAborted
from .outputs import OutputDir, write_all

FORMAT = "kms-tui-ceremony-transcript/2"
FORMAT_V1 = "kms-tui-ceremony-transcript/1"
GENESIS = "0" * 64
MAX_TRANSCRIPT_BYTES = 16 * 1024 * 1024


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def line(record: dict[str, Any]) -> bytes:
    """One record as one line (JSON escapes every newline inside a string)."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False).encode() + b"\n"


class TranscriptWriteError(CeremonyAborted):
    """The transcript could not be written: nothing more may happen without a record."""

    title = "Transcript not written"


class TranscriptFile:
    """The transcript on disk: a new file in the output directory, appended one fsynced line at a time."""

    def __init__(self, outputs: OutputDir, name: str, mode: str):
        self.path = outputs.path / name
        self.fd = outputs.create(name)
        self._close = weakref.finalize(self, os.close, self.fd)
        self.broken = False
        try:
            self.write(line({"format": FORMAT, "mode": mode}))
        except BaseException:
            self.close()
            raise

    @property
    def writable(self) -> bool:
        return self._close.alive and not self.broken

    def write(self, data: bytes) -> None:
        if not self.writable:
            raise TranscriptWriteError(f"The transcript {self.path} can no longer be written; the ceremony stops.")
        try:
            write_all(self.fd, data)
            os.fsync(self.fd)
        except OSError as exc:
            self.broken = True
            raise TranscriptWriteError(f"The transcript {self.path} could not be written ({exc.strerror}); "
                                       "the ceremony stops here.") from None

    def close(self) -> None:
        self._close()


class Transcript:
    """Entries appended in order, each sealed with the hash of the one before and, with a file, written first."""

    def __init__(self, mode: str, file: TranscriptFile | None = None):
        self.mode = mode
        self.file = file
        self.entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # one entry at a time, whichever thread records it

    @property
    def last_hash(self) -> str:
        return self.entries[-1]["hash"] if self.entries else GENESIS

    @property
    def writable(self) -> bool:
        return self.file is None or self.file.writable

    def append(self, kind: str, ts: str, **data: Any) -> dict[str, Any]:
        with self._lock:
            entry = {"seq": len(self.entries), "kind": kind, "ts": ts, "prev": self.last_hash, **data}
            entry["hash"] = entry_hash(entry)
            if self.file is not None:
                self.file.write(line(entry))
            self.entries.append(entry)
        return entry


class TranscriptUnreadable(ValueError):
    """Not a transcript of a format this version reads."""


@dataclass
class Loaded:
    """What a transcript file holds: its header, its entries (as parsed), and what could not be parsed."""

    format: str
    mode: Any
    entries: list[Any]
    final_hash: Any = None  # the earlier format's sealed final hash; None in JSON lines
    problems: list[str] = field(default_factory=list)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply to read
        return None


def load(data: bytes) -> Loaded:
    if not data:
        raise TranscriptUnreadable("the transcript is empty: the ceremony stopped before its first entry was written")
    head = _json(data.split(b"\n", 1)[0])
    if isinstance(head, dict) and head.get("format") == FORMAT:
        return _load_lines(head, data)
    doc = _json(data)
    if isinstance(doc, dict) and doc.get("format") == FORMAT_V1 and isinstance(doc.get("entries"), list):
        return Loaded(FORMAT_V1, doc.get("mode"), doc["entries"], final_hash=doc.get("final_hash", ""))
    raise TranscriptUnreadable(f"not a {FORMAT} transcript (its first line is not the header)")


def _load_lines(head: dict[str, Any], data: bytes) -> Loaded:
    lines = data.split(b"\n")
    tail = lines.pop()  # what follows the last newline: nothing, unless a write was cut off
    loaded = Loaded(FORMAT, head.get("mode"), [])
    for number, text in enumerate(lines[1:], start=2):
        entry = _json(text)
        if not isinstance(entry, dict):
            loaded.problems.append(f"line {number} is not a JSON object")
            entry = None  # reported here, by its line number
        loaded.entries.append(entry)
    if tail:
        loaded.problems.append(f"line {len(lines) + 1} is incomplete ({len(tail)} bytes and no end of line): "
                               "it was cut off while it was written")
    return loaded
