"""``kms-tui ceremony …``: validate, rehearse, run and verify scripted key ceremonies."""

from __future__ import annotations

import argparse

from .options import Verbs, add_json, add_noun, add_verb

SCRIPT = "the ceremony script (YAML)"


def add_ceremony(nouns: Verbs) -> None:
    add_noun(nouns, "ceremony", "scripted, rehearsed, witnessed key ceremonies", _ceremony)


def _ceremony(p: argparse.ArgumentParser, verb: str | None) -> None:
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(verbs, "validate", "ceremony_cmds:validate", "check a ceremony script and print its plan")
    p.add_argument("script", metavar="SCRIPT", help=SCRIPT)
    add_json(p)
    p = add_verb(verbs, "rehearse", "ceremony_cmds:rehearse", "run a script end to end on a scratch token or software engine")
    p.add_argument("script", metavar="SCRIPT", help=SCRIPT)
    p.add_argument("--output-dir", metavar="DIR",
                   help="where the rehearsal writes, a new directory (default: rehearsals/ID-TIME under the "
                        "data directory, never next to the script)")
    p = add_verb(verbs, "run", "ceremony_cmds:run", "run a ceremony for real, step by step, with witnesses")
    p.add_argument("script", metavar="SCRIPT", help=SCRIPT)
    p.add_argument("--answers", metavar="FILE|-", help="read the answers from a file (see the README)")
    p.add_argument("--pin-stdin", action="store_true", help="read the engine's PIN from the first line of stdin")
    p.add_argument("--so-pin-stdin", action="store_true",
                   help="read the security officer's PIN a backup-key step needs from the next line of stdin")
    p.add_argument("--output-dir", metavar="DIR",
                   help="where the run writes (default: the script's output_dir; when that is inside a Git working "
                        "tree or an installed package, ceremonies/ID-TIME under the data directory)")
    p = add_verb(verbs, "verify", "ceremony_cmds:verify_cmd",
                 "re-check a transcript's hash chain and output hashes (exit 1 when broken)")
    p.add_argument("transcript", metavar="TRANSCRIPT", help="the transcript file a run or rehearsal wrote")
    p.add_argument("output_dir", metavar="OUTPUT_DIR", help="the directory holding that run's outputs")
    add_json(p)
