"""The argparse tree of ``kms-tui <noun> <verb>``; each noun's part is in ``kms_tui.cli.parsers``."""

from __future__ import annotations

import argparse
from typing import Any

from .parsers.ceremony import add_ceremony
from .parsers.doctor import add_doctor
from .parsers.engines import add_engines
from .parsers.keys import add_keys
from .parsers.records import add_audit, add_stats, add_sync

NOUNS = (add_engines, add_keys, add_sync, add_stats, add_audit, add_doctor, add_ceremony)  # in --help order


class Parser(argparse.ArgumentParser):
    """No abbreviated options: a script's `--secret` must not silently mean `--secret-stdin`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="kms-tui",
        description="Key-management workstation: engines, keys, signing, sync, stats and audit.",
    )
    parser.add_argument("--data-dir", metavar="DIR", help="data directory (default: $KMS_TUI_DATA_DIR or $XDG_DATA_HOME/kms-tui)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    nouns = parser.add_subparsers(dest="noun", metavar="NOUN")
    for add_noun in NOUNS:
        add_noun(nouns)
    return parser
