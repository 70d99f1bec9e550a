"""``kms-tui sync``, ``stats`` and ``audit …``: reconcile with the engines, count, read the audit log."""

from __future__ import annotations

import argparse

from .. import arg_types as T
from .keys import add_lamassu_output
from .options import Verbs, add_json, add_noun, add_verb, leaf


def add_sync(nouns: Verbs) -> None:
    add_noun(nouns, "sync", "reconcile metadata with what engines hold", _sync)


def _sync(p: argparse.ArgumentParser, verb: str | None) -> None:
    leaf(p, "misc_cmds:sync")
    p.add_argument("engine", nargs="?", metavar="ENGINE", help="only this engine (default: every engine)")
    p.add_argument("--full", action="store_true",
                   help="read every key again, not only new ones (states changed outside kms-tui)")
    add_json(p)


def add_stats(nouns: Verbs) -> None:
    add_noun(nouns, "stats", "key counts", _stats)


def _stats(p: argparse.ArgumentParser, verb: str | None) -> None:
    add_json(leaf(p, "misc_cmds:stats"))
    add_lamassu_output(p, "GET /api/kms/v1/stats")


def add_audit(nouns: Verbs) -> None:
    add_noun(nouns, "audit", "the hash-chained audit log", _audit)


def _audit(p: argparse.ArgumentParser, verb: str | None) -> None:
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(verbs, "list", "misc_cmds:audit_list", "recent audit rows")
    p.add_argument("--limit", type=T.count, default=50, help="at most this many rows, newest first (default: 50)")
    p.add_argument("--key", metavar="REF",
                   help="rows of the key with this id, name or alias, now or at the time (deleted keys too); "
                        "a key id on several engines shows each, grouped by engine")
    p.add_argument("--action", help="only rows of this action, e.g. key.sign or engine.register")
    add_json(p)
    add_json(add_verb(verbs, "verify", "misc_cmds:audit_verify", "check the hash chain (exit 1 when broken)"))
