"""``kms-tui doctor``: check the workstation, and repair what is safe to repair."""

from __future__ import annotations

import argparse

from .options import Verbs, add_json, add_noun, leaf


def add_doctor(nouns: Verbs) -> None:
    add_noun(nouns, "doctor", "check permissions, database, audit chain, keyring, engines (exit 1 on findings)",
             _doctor)


def _doctor(p: argparse.ArgumentParser, verb: str | None) -> None:
    leaf(p, "doctor_cmds:doctor")
    p.add_argument("--repair", action="store_true", help="fix what can be fixed without deleting key material")
    p.add_argument("--deep", action="store_true",
                   help="also have every reachable engine prove that each key's material is the recorded key")
    add_json(p)
