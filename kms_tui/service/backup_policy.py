"""Backup policy and backup state of a key: what ``kms.keys.create(..., backup=(m, n))`` records.

A key may be backed up under M-of-N custody only when it was made to be (its material made
wrappable, never exportable in clear): the policy ``M-of-N`` is kept in its metadata under
kms-tui's own ``kms-tui.io/backup/`` namespace, with the latest backup (date, custodians, file
hash) and, for a restored key, the file it came from. Plain functions, light to import.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from engines.errors import InvalidInput
from store import KeyRecord

from .errors import Refused

if TYPE_CHECKING:
    from engines.base import EngineDriver

NAMESPACE = "kms-tui.io/backup/"
POLICY_KEY = NAMESPACE + "policy"  # "3-of-5", set when the key is made
LAST_KEY = NAMESPACE + "last"  # the latest backup: date, custodians, threshold, file hash, share set
RESTORED_KEY = NAMESPACE + "restored-from"  # a restored key: the file hash, date, source engine
ESCROW_KEY = NAMESPACE + "escrow"  # a key imported with an escrow backup: date, custodians, threshold, file hash
MAX_CUSTODIANS = 16  # SLIP-39's bound
OWN_NAMESPACES = (NAMESPACE, "kms-tui.io/rotation/")  # this module's and rotation_links' records
_POLICY = re.compile(r"\s*([0-9]{1,2})\s*-?\s*of\s*-?\s*([0-9]{1,2})\s*", re.IGNORECASE)


def check_policy(threshold: int, custodians: int) -> tuple[int, int]:
    """(M, N) within SLIP-39's bounds: 1 ≤ M ≤ N ≤ 16, M = 1 only with N = 1."""
    if not 1 <= custodians <= MAX_CUSTODIANS:
        raise InvalidInput(f"A backup goes to 1 to {MAX_CUSTODIANS} custodians, not {custodians}.")
    if not 1 <= threshold <= custodians:
        raise InvalidInput(f"The threshold must be from 1 to the number of custodians ({custodians}), not {threshold}.")
    if threshold == 1 and custodians > 1:
        raise InvalidInput(
            f"A threshold of 1 with {custodians} custodians would give each of them the whole key.",
            hint="Use a threshold of 2 or more, or 1-of-1.")
    return threshold, custodians


def parse_policy(text: str) -> tuple[int, int]:
    """``"3-of-5"`` → (3, 5), checked (``check_policy``)."""
    match = _POLICY.fullmatch(text or "")
    if match is None:
        raise InvalidInput(f"A backup policy reads M-of-N, e.g. 3-of-5; not {str(text)[:40]!r}.")
    return check_policy(int(match.group(1)), int(match.group(2)))


def policy_text(threshold: int, custodians: int) -> str:
    return f"{threshold}-of-{custodians}"


def with_policy(metadata: dict[str, Any] | None, policy: tuple[int, int], driver: EngineDriver) -> dict[str, Any]:
    """The metadata of a new key made with a backup policy; refused where material never leaves."""
    threshold, custodians = check_policy(*policy)
    if not driver.BACKUP_WRAP:
        raise Refused(
            f"Engine {driver.engine_id!r} ({driver.DISPLAY}) never lets key material leave it, not even "
            "wrapped, so its keys cannot be backed up.",
            hint="Make the key in a software, PKCS#11, Vault KV or Secrets Manager engine; for AWS KMS, "
                 "import (BYOK) a key backed up first under M-of-N (escrow).")
    return {**(metadata or {}), POLICY_KEY: policy_text(threshold, custodians)}


def refuse_own_keys(metadata: dict[str, Any] | None) -> None:
    """Backup and rotation metadata are kms-tui's to set: never taken from an operator's metadata."""
    own = sorted(k for k in (metadata or {}) if k.startswith(OWN_NAMESPACES))
    if own:
        raise InvalidInput(f"Metadata keys under {' and '.join(OWN_NAMESPACES)} are kms-tui's own: "
                           f"{', '.join(own)[:120]}.",
                           hint="Ask for a backup policy with --backup M-of-N; rotation links come from keys rotate.")


def state(record: KeyRecord) -> str:
    """The key's backup state in one line (the key detail, ``keys show``)."""
    restored = record.metadata.get(RESTORED_KEY)
    policy = record.metadata.get(POLICY_KEY)
    last = record.metadata.get(LAST_KEY)
    parts = []
    if isinstance(policy, str):
        parts.append(f"policy {policy}")
        if isinstance(last, dict):
            parts.append(f"backed up to {last.get('custodians')} custodians on {str(last.get('date'))[:10]}, "
                         f"file SHA-256 {str(last.get('file_sha256'))[:16]}…")
        else:
            parts.append("not backed up yet")
    escrow = record.metadata.get(ESCROW_KEY)
    if isinstance(escrow, dict):
        parts.append(f"escrowed at import, {escrow.get('threshold')}-of-{escrow.get('custodians')}, on "
                     f"{str(escrow.get('date'))[:10]}, file SHA-256 {str(escrow.get('file_sha256'))[:16]}…")
    if isinstance(restored, dict):
        parts.append(f"restored on {str(restored.get('date'))[:10]} from backup file SHA-256 "
                     f"{str(restored.get('file_sha256'))[:16]}…")
    return "; ".join(parts) or "none (made without a backup policy)"


def policy_of(record: KeyRecord) -> tuple[int, int]:
    policy = record.metadata.get(POLICY_KEY)
    if not isinstance(policy, str):
        raise Refused(
            f"Key {record.name[:80]!r} was made without a backup policy: its material was never allowed to "
            "leave its engine, so it cannot be backed up.",
            hint="Only keys made with --backup M-of-N can be; make one (keys create … --backup 3-of-5) and "
                 "rotate to it.")
    return parse_policy(policy)
