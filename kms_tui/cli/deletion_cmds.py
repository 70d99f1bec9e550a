"""``kms-tui keys action REF purge|destroy`` confirmations and ``kms-tui keys purge-expired``.

Destroying key material needs the key named: ``--confirm`` with its name or a prefix of its
key id (8 characters or more), or the name typed at a prompt when stdin is a terminal.
"""

from __future__ import annotations

import datetime
import sys

from ..service.errors import Refused
from .io import emit_json, safe_text, table

DESTRUCTIVE_ACTIONS = ("purge", "destroy")
MIN_KEY_ID_PREFIX = 8


def names_key(text: str | None, record) -> bool:
    """True when ``text`` is the key's name, or a key id prefix long enough to mean this key."""
    if not text:
        return False
    if text == record.name:
        return True
    low = text.lower()
    return len(low) >= MIN_KEY_ID_PREFIX and record.key_id.startswith(low)


def confirm_destruction(record, action: str, args) -> None:
    """Refuse unless the operator named the key (``--confirm``, or typed at a prompt)."""
    if getattr(args, "confirm", None) is not None:
        if names_key(args.confirm, record):
            return
        raise Refused(f"--confirm does not name key {safe_text(record.name, 80)}; nothing was changed.",
                      hint=f"Pass its name or the first {MIN_KEY_ID_PREFIX}+ characters of its key id.")
    from .io import confirm_typed

    what = (f"{action} key {safe_text(record.name, 80)} ({record.key_id[:16]}…) of engine "
            f"{safe_text(record.engine_id)}? This destroys the key material and cannot be undone.")
    if confirm_typed(record.name, what):
        return
    yes = " (--yes does not confirm a destruction)" if getattr(args, "yes", False) else ""
    raise Refused(f"{action} not confirmed{yes}; nothing was changed.",
                  hint=f"Name the key: --confirm {safe_text(record.name, 80)} (or a key id prefix).")


def _when(ts: int | None) -> str:
    if ts is None:
        return "-"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def purge_expired(kms, args) -> int:
    """Destroy (or, with --dry-run, list) the keys whose pending window has ended."""
    found = kms.keys.purge_expired(args.engine, dry_run=args.dry_run)
    if args.json:
        emit_json({"dry_run": args.dry_run, "keys": [item.to_json() for item in found]})
        return 0
    if not found:
        print("No key pending deletion is past its window.")
        return 0
    rows = []
    for item in found:
        done = item.skipped or ("purged" if item.purged else "would be purged")
        rows.append((item.name or "-", item.key_id[:12], item.engine_id, _when(item.purge_after), done))
    print(table(("NAME", "KEY ID", "ENGINE", "WINDOW ENDED", "RESULT"), rows, widths={0: 40, 2: 24, 4: 60}))
    if args.dry_run:
        sys.stderr.write("Dry run: nothing was purged.\n")
    return 0
