"""``kms-tui report quantum``: inventories written from the whole key store."""

from __future__ import annotations

import argparse

from .options import Verbs, add_noun, add_verb, add_verbs


def add_report(nouns: Verbs) -> None:
    add_noun(nouns, "report", "inventories of every key (quantum migration)", _report)


def _report(p: argparse.ArgumentParser, verb: str | None) -> None:
    add_verbs(p, {"quantum": _quantum}, verb)


def _quantum(verbs: Verbs) -> None:
    p = add_verb(verbs, "quantum", "report_cmds:quantum",
                 "every key's quantum exposure, replace-by date (NIST IR 8547 draft) and suggested ML-DSA set")
    p.add_argument("--engine", metavar="ENGINE", help="only this engine's keys")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="a JSON list, one key object per line, written as read")
    out.add_argument("--csv", action="store_true", help="CSV with a header row, written as read")
