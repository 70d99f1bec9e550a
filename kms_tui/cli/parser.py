"""The argparse tree of ``kms-tui <noun> <verb>``; each noun's part is in ``kms_tui.cli.parsers``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .parsers.ceremony import add_ceremony
from .parsers.certs import add_certs
from .parsers.doctor import add_doctor
from .parsers.engines import add_engines
from .parsers.keys import add_keys
from .parsers.options import Fill, resolve_handler
from .parsers.records import add_audit, add_stats, add_sync
from .parsers.report import add_report

NOUNS = (add_engines, add_keys, add_certs, add_sync, add_stats, add_report, add_audit, add_doctor,
         add_ceremony)  # in --help order


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` reads it ($COLUMNS, else the terminal, else 80),
    without importing shutil (and the compression modules it loads) for a one-shot command."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
        except (AttributeError, ValueError, OSError):
            columns = 80
    return columns


class Formatter(argparse.HelpFormatter):
    """argparse's help layout, the width taken as argparse takes it."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class Parser(argparse.ArgumentParser):
    """No abbreviated options: a script's `--secret` must not silently mean `--secret-stdin`.

    A verb names its handler (``"key_cmds:sign"``); the parsed namespace carries the function,
    its module imported then, so a command imports the handlers of its own verb only. A noun's
    parser may be filled (its verbs added) only when it is first used: ``fill``.
    """

    def __init__(self, *args: Any, fill: Fill | None = None, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)
        self._fill = fill

    def filled(self, verb: str | None = None) -> Parser:
        """This parser with its verbs or arguments added (once): ``verb``'s alone when it is being parsed."""
        fill, self._fill = self._fill, None
        if fill is not None:
            fill(self, verb)
        return self

    def format_usage(self) -> str:
        return super(Parser, self.filled()).format_usage()

    def format_help(self) -> str:
        return super(Parser, self.filled()).format_help()

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        verb = args[0] if args and not args[0].startswith("-") else None  # a noun has no option but -h
        parsed, extras = super(Parser, self.filled(verb)).parse_known_args(args, namespace)
        if isinstance(getattr(parsed, "handler", None), str):
            parsed.handler = resolve_handler(parsed.handler)
        return parsed, extras


def build_parser(*, lazy: bool = False) -> argparse.ArgumentParser:
    """The whole tree; ``lazy``: each noun's verbs are added when that noun is parsed (what a command needs)."""
    parser = Parser(
        prog="kms-tui",
        description="Key-management workstation: engines, keys, signing, sync, stats and audit.",
    )
    parser.add_argument("--data-dir", metavar="DIR", help="data directory (default: $KMS_TUI_DATA_DIR or $XDG_DATA_HOME/kms-tui)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    nouns = parser.add_subparsers(dest="noun", metavar="NOUN")
    for add_noun in NOUNS:
        add_noun(nouns)
    if not lazy:
        for noun in nouns.choices.values():
            noun.filled()
    return parser
