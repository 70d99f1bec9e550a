"""``ceremony verify``: re-check a transcript's hash chain and the SHA-256 of every output it names.

A finished transcript ends with its ``ceremony.end`` entry. One that stops earlier (the
process was killed, the machine lost power) is reported as interrupted, naming the entry
and the step where it stopped and the keys it had generated so far; every complete entry
is still checked, so an edited, removed, reordered or forged entry is caught either way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .transcript import FORMAT_V1, GENESIS, MAX_TRANSCRIPT_BYTES, TranscriptUnreadable, entry_hash, load


@dataclass
class VerifyReport:
    ok: bool
    entries: int = 0
    outputs: int = 0
    final_hash: str | None = None
    mode: str | None = None
    format: str | None = None
    complete: bool = False
    stopped_at: dict[str, Any] | None = None  # where an interrupted transcript stops: entry, kind, step, action
    keys: list[dict[str, Any]] = field(default_factory=list)  # generated keys: step, name, key_id
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(transcript_path: str | Path, output_dir: str | Path) -> VerifyReport:
    """Re-check the chain, the start and the end, and every output file; say where an interrupted one stops."""
    report = VerifyReport(ok=False)
    try:
        with open(transcript_path, "rb") as f:
            data = f.read(MAX_TRANSCRIPT_BYTES + 1)
        if len(data) > MAX_TRANSCRIPT_BYTES:
            raise TranscriptUnreadable(f"the transcript is larger than {MAX_TRANSCRIPT_BYTES} bytes")
        loaded = load(data)
    except OSError as exc:
        report.problems.append(f"cannot read the transcript: {exc.strerror}")
        return report
    except TranscriptUnreadable as exc:
        report.problems.append(str(exc))
        return report
    report.format, report.mode = loaded.format, loaded.mode
    report.problems += loaded.problems
    _check_chain(loaded.entries, Path(output_dir), report)
    if loaded.format == FORMAT_V1 and loaded.final_hash != report.final_hash:
        report.problems.append("the final hash is not the last entry's hash")
    _check_start(loaded.entries, loaded.mode, report)
    _check_end(loaded.entries, report)
    report.complete = report.complete and not loaded.problems
    report.ok = not report.problems
    return report


def _check_chain(entries: list[Any], out: Path, report: VerifyReport) -> None:
    prev: Any = GENESIS
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            if entry is not None:  # None: a line the loader could not parse, already reported
                report.problems.append(f"entry {i} is not an object")
            prev = None
            continue
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
        if entry.get("kind") == "key.generated":
            report.keys.append({k: entry.get(k) for k in ("step", "name", "key_id")})
        elif entry.get("kind") == "key.restored":  # a copy a restore-key step made in another engine
            report.keys.append({**{k: entry.get(k) for k in ("step", "name", "key_id")}, "restored_into": entry.get("engine")})
    report.entries = len(entries)
    report.final_hash = prev if isinstance(prev, str) else None


def _check_start(entries: list[Any], mode: Any, report: VerifyReport) -> None:
    first = entries[0] if entries else None
    if not isinstance(first, dict) or first.get("kind") != "ceremony.start":
        report.problems.append("the transcript does not begin with its ceremony.start entry")
    elif first.get("mode") != mode:
        report.problems.append(f"the header says mode {mode!r}; the start entry says {first.get('mode')!r}")


def _check_end(entries: list[Any], report: VerifyReport) -> None:
    ends = [i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("kind") == "ceremony.end"]
    if ends:
        report.complete = True
        if ends[0] != len(entries) - 1:
            report.problems.append(f"{len(entries) - 1 - ends[0]} entries follow the ceremony.end entry")
        return
    report.stopped_at = stop_point(entries)
    report.problems.append(f"the ceremony was interrupted: the transcript stops at {describe_stop(report.stopped_at)}"
                           " and has no ceremony.end entry")


def stop_point(entries: list[Any]) -> dict[str, Any]:
    """The last complete entry, and the step the ceremony was in (the latest entry naming one)."""
    records = [e for e in entries if isinstance(e, dict)]
    last = records[-1] if records else {}
    step = next((e["step"] for e in reversed(records) if e.get("step") is not None), None)
    action = next((e["action"] for e in reversed(records) if e.get("step") == step and e.get("action")), None)
    return {"entry": last.get("seq"), "kind": last.get("kind"), "step": step, "action": action}


def describe_stop(stop: dict[str, Any]) -> str:
    if stop["entry"] is None:
        return "its header, before the first entry"
    where = f"entry {stop['entry']} ({stop['kind']})"
    if stop["step"] is None:
        return where + ", before the first step"
    return where + f", step {stop['step']}" + (f" ({stop['action']})" if stop["action"] else "")


def _check_output(out: Path, output: Any) -> list[str]:
    if not isinstance(output, dict) or not isinstance(output.get("file"), str):
        return ["an output entry is malformed"]
    name = output["file"]
    if "/" in name or name.startswith("."):
        return [f"output {name!r} is not a plain file name"]
    target = out / name
    if target.is_symlink():
        return [f"output {name} in {out} is a symbolic link, not the file written"]
    if not target.is_file():
        return [f"output {name} is missing from {out}"]
    if sha256_file(target) != output.get("sha256"):
        return [f"output {name} was changed: its SHA-256 does not match the transcript"]
    return []
