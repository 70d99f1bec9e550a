"""The ceremony transcript: a JSON document whose entries form a hash chain.

Each entry carries the hash of the one before (``prev``) and its own ``hash``: the
SHA-256 of its canonical JSON (sorted keys, no spaces) without the ``hash`` field.
The document is written one entry a line, so a printed transcript reads line by line,
and its ``final_hash`` (the last entry's hash) goes on the paper record.
``verify`` re-checks the chain and the SHA-256 of every output file it names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "kms-tui-ceremony-transcript/1"
GENESIS = "0" * 64
MAX_TRANSCRIPT_BYTES = 16 * 1024 * 1024


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


class Transcript:
    """Entries appended in order; each one sealed with the hash of the one before."""

    def __init__(self, mode: str):
        self.mode = mode
        self.entries: list[dict[str, Any]] = []

    @property
    def last_hash(self) -> str:
        return self.entries[-1]["hash"] if self.entries else GENESIS

    def append(self, kind: str, ts: str, **data: Any) -> dict[str, Any]:
        entry = {"seq": len(self.entries), "kind": kind, "ts": ts, "prev": self.last_hash, **data}
        entry["hash"] = entry_hash(entry)
        self.entries.append(entry)
        return entry

    def render(self) -> bytes:
        lines = [json.dumps(e, sort_keys=True, ensure_ascii=False) for e in self.entries]
        body = ",\n".join(lines)
        head = json.dumps({"format": FORMAT, "mode": self.mode})[:-1]
        return (f'{head}, "entries": [\n{body}\n],\n"final_hash": {json.dumps(self.last_hash)}}}\n').encode()


@dataclass
class VerifyReport:
    ok: bool
    entries: int = 0
    outputs: int = 0
    final_hash: str | None = None
    mode: str | None = None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def verify(transcript_path: str | Path, output_dir: str | Path) -> VerifyReport:
    """Re-check the hash chain, the final hash, and the SHA-256 of every output file."""
    report = VerifyReport(ok=False)
    path, out = Path(transcript_path), Path(output_dir)
    try:
        raw = path.read_bytes()[: MAX_TRANSCRIPT_BYTES + 1]
        doc = json.loads(raw)
    except OSError as exc:
        report.problems.append(f"cannot read the transcript: {exc.strerror}")
        return report
    except (ValueError, UnicodeDecodeError) as exc:
        report.problems.append(f"the transcript is not valid JSON ({exc})")
        return report
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("entries"), list):
        report.problems.append(f"not a {FORMAT} document")
        return report
    report.mode = doc.get("mode")
    prev = GENESIS
    for i, entry in enumerate(doc["entries"]):
        if not isinstance(entry, dict):
            report.problems.append(f"entry {i} is not an object")
            return report
        if entry.get("seq") != i:
            report.problems.append(f"entry {i} has sequence number {entry.get('seq')!r}")
        if entry.get("prev") != prev:
            report.problems.append(f"entry {i} does not chain to entry {i - 1}")
        if entry.get("hash") != entry_hash(entry):
            report.problems.append(f"entry {i} ({entry.get('kind')}) was altered: its hash does not match")
        prev = entry.get("hash")
        for output in entry.get("outputs") or []:
            report.outputs += 1
            report.problems += _check_output(out, output)
    report.entries = len(doc["entries"])
    report.final_hash = prev
    if doc.get("final_hash") != prev:
        report.problems.append("the final hash is not the last entry's hash")
    last = doc["entries"][-1] if doc["entries"] else {}
    if last.get("kind") != "ceremony.end":
        report.problems.append("the transcript has no end entry: it is incomplete")
    report.ok = not report.problems
    return report


def _check_output(out: Path, output: Any) -> list[str]:
    if not isinstance(output, dict) or not isinstance(output.get("file"), str):
        return ["an output entry is malformed"]
    name = output["file"]
    if "/" in name or name.startswith("."):
        return [f"output {name!r} is not a plain file name"]
    target = out / name
    if not target.is_file():
        return [f"output {name} is missing from {out}"]
    if sha256_file(target) != output.get("sha256"):
        return [f"output {name} was changed: its SHA-256 does not match the transcript"]
    return []
