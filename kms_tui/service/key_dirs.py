"""One software engine per key directory, and never the data directory itself.

Two engines over one directory (the same one, or one inside the other) would
each take the other's key files for its own: a sync would adopt them twice, a
delete in one would empty a key of the other, and each would try to open the
other's files with its own passphrase. The data directory holds ``kms.db`` and
its journal, which are not keys. Paths are compared after resolving symbolic
links, so two spellings of one directory are one directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from engines.errors import EngineConfigError
from store import EngineRecord

DIRECTORY_TYPES = ("GOLANG",)  # engines that keep one file per key in a directory of the operator's choice


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(os.path.expanduser(str(path))))


def _overlap(a: Path, b: Path) -> str | None:
    if a == b:
        return "is"
    if b in a.parents:
        return "is inside"
    if a in b.parents:
        return "holds"
    return None


def refuse_shared_directory(engine_type: str, engine_id: str, options: dict[str, str],
                            data_dir: str | os.PathLike[str], existing: Iterable[EngineRecord]) -> None:
    """Raise EngineConfigError when the new engine's directory overlaps another's or the data directory."""
    if engine_type not in DIRECTORY_TYPES or not options.get("directory"):
        return
    wanted = _real(options["directory"])
    data = _real(data_dir)
    if wanted == data or wanted in data.parents:
        raise EngineConfigError(
            f"The key directory {wanted} of engine {engine_id!r} "
            f"{'is' if wanted == data else 'holds'} the data directory {data}, whose database files are not keys.",
            hint=f"Choose a directory of its own, e.g. directory={data / 'keys' / engine_id}",
        )
    for record in existing:
        if record.type not in DIRECTORY_TYPES or not record.config.get("directory"):
            continue
        theirs = _real(record.config["directory"])
        how = _overlap(wanted, theirs)
        if how is not None:
            raise EngineConfigError(
                f"The key directory {wanted} of engine {engine_id!r} {how} {theirs}, the key directory of "
                f"engine {record.id!r}: two engines never share key files.",
                hint="Choose a directory that is neither inside another engine's nor holds one.",
            )
