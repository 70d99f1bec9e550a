"""Doctor: temporary key files a stopped write left in a software engine's key directory.

A key file is written as ``.<key_id>.<random>.tmp``, hard-linked to ``<key_id>``, then the temporary
name is unlinked. A process killed in between leaves the temporary name behind, and Lamassu's
filesystem engine, sharing the directory, lists every file as a key. Two cases:

- the key's own file exists and is the same file (same inode) or holds the same bytes: the leftover
  is a second name of a key that is safe under its own; ``--repair`` removes it, the audit row first;
- otherwise it holds a key that never got its own file (the write stopped before the link): the
  only copy of a key nobody recorded. It is named, never removed: the operator decides.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from .doctor_report import WARNING, Finding

_LEFTOVER = re.compile(r"^\.([0-9a-f]{64})\.[0-9a-f]{12}\.tmp$")


def _same_key_file(leftover: Path, final: Path) -> bool:
    try:
        a, b = leftover.lstat(), final.lstat()
        if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
            return True
        return a.st_size == b.st_size and leftover.read_bytes() == final.read_bytes()
    except OSError:
        return False


def leftover_findings(directory: Path, engine_id: str, repair: bool,
                      audit: Callable[[str, str], object]) -> list[Finding]:
    """One finding per leftover temporary key file; with ``repair``, second names of safe keys go.

    ``audit(key_id, file_name)`` writes the audit row of a removal before it happens.
    """
    findings = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    for name in names:
        match = _LEFTOVER.match(name)
        path = directory / name
        if match is None or path.is_symlink() or not path.is_file():
            continue
        key_id = match.group(1)
        if _same_key_file(path, directory / key_id):
            finding = Finding(
                "permissions", WARNING, str(path),
                f"A temporary file of key {key_id[:16]}… was left in the key directory of engine {engine_id!r} by "
                "a write that stopped; the key is safe in its own file, and this is a second name of it (a "
                "Lamassu engine sharing the directory would list it as a key).",
                "kms-tui doctor --repair removes it.", repairable=True)
            if repair:
                audit(key_id, name)
                path.unlink()
                finding.repaired = True
                finding.changed = f"removed {name} (the key stays in {key_id})"
        else:
            finding = Finding(
                "permissions", WARNING, str(path),
                f"A temporary file in the key directory of engine {engine_id!r} holds key {key_id[:16]}…, which "
                "has no file of its own: a key was being written when its process stopped. It may be the only "
                "copy of a key nobody recorded; it is never removed by the doctor.",
                f"To keep it: mv {path} {directory / key_id} and run kms-tui sync {engine_id}. "
                "Not wanted: delete it yourself.")
        findings.append(finding)
    return findings
