"""Whether a key is retired by a rotation, and the refusal to sign with it unless allowed.

Kept apart from ``rotation_links`` (which reads whole rotations from the store) because every
signature asks it: a one-shot ``keys sign`` imports this and nothing of rotations.
"""

from __future__ import annotations

from store import KeyRecord

from .errors import Refused

NAMESPACE = "kms-tui.io/rotation/"
SUCCESSOR = NAMESPACE + "successor"
PREDECESSOR = NAMESPACE + "predecessor"
RETIRED_TS = NAMESPACE + "retired-ts"


def day_of(ts: str | None) -> str:
    return ts[:10] if isinstance(ts, str) and ts else "an unknown date"


def is_retired(record: KeyRecord) -> bool:
    """Retired once rotated: either mark is enough (an edit that drops one leaves the key retired)."""
    return record.metadata.get(RETIRED_TS) is not None or record.metadata.get(SUCCESSOR) is not None


def check_not_retired(record: KeyRecord, allow_retired: bool) -> None:
    """Refused: a retired key signs only when the caller says so (``allow_retired``)."""
    if allow_retired or not is_retired(record):
        return
    successor = record.metadata.get(SUCCESSOR)
    to = successor.get("name") if isinstance(successor, dict) else None
    raise Refused(
        f"Key {record.name[:80]!r} is retired (rotated{f' to {str(to)[:80]!r}' if to else ''} on "
        f"{day_of(str(record.metadata.get(RETIRED_TS) or ''))}): it still verifies, but signs only when allowed.",
        hint=(f"Sign with its successor {str(to)[:80]}, or " if to else "") + "pass --allow-retired (in the "
        "workstation: the sign wizard's 'allow retired key' switch).")
