"""The headless command line: ``kms-tui <noun> <verb> … [--json]``.

No Textual import here: scripted use over SSH and in ceremonies starts fast.
Exit codes: 0 success; 1 a negative answer (invalid signature, broken audit
chain, unreachable engine); 2 usage; 3 a refused or failed operation (one line
on stderr); 4 an internal error (the traceback goes to the log file only).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from ..service import Kms
    from ..service.types import CredentialStore

EXIT_ERROR = 3
EXIT_INTERNAL = 4


@contextlib.contextmanager
def _log_file(data_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Warnings and tracebacks to <data dir>/kms-tui.log (0600) while a command runs; secrets are never logged.

    The handler goes again when the command ends, and the root logger's level is put back:
    ``main`` may run many times in one process.
    """
    import logging

    path = os.path.join(str(data_dir), "kms-tui.log")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)  # never through a link
    except OSError:
        yield
        return
    stream = os.fdopen(fd, "a", encoding="utf-8")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
        stream.close()  # a StreamHandler leaves its stream open


def main(argv: list[str] | None = None, *, credentials: CredentialStore | None = None) -> int:
    """Run one command; the exit code. ``credentials`` replaces the OS keyring (tests run commands in process)."""
    from .parser import build_parser

    parser = build_parser(lazy=True)
    args = parser.parse_args(argv)
    if args.version:
        from .. import __version__

        print(f"kms-tui {__version__}")
        return 0
    if not args.noun:
        return _start_tui(args, parser)
    from ..service import Kms
    from ..service.errors import KmsError
    from .io import terminal_prompt

    try:
        kms = Kms(args.data_dir, credentials=credentials, prompt=terminal_prompt)
    except KmsError as exc:
        return _fail(exc)
    with _log_file(kms.data_dir):
        try:
            return _run(kms, args)
        finally:
            kms.close()


def _run(kms: Kms, args: argparse.Namespace) -> int:
    """The command's handler, its errors turned into one line on stderr and an exit code."""
    from ..service.errors import KmsError

    try:
        code: int = args.handler(kms, args)
        return code
    except KmsError as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        import logging

        logging.getLogger("kms_tui").exception("internal error in %s %s", args.noun, getattr(args, "verb", ""))
        return _fail(exc, EXIT_INTERNAL)


def _fail(exc: BaseException, code: int = EXIT_ERROR) -> int:
    from ..service.errors import render
    from ..text import safe_text

    title, message = render(exc)
    sys.stderr.write(f"kms-tui: {title}: {safe_text(message)}\n")
    return code


def _start_tui(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import importlib.util

    if importlib.util.find_spec("kms_tui.app") is None:
        parser.print_help()
        return 0
    from ..app import run  # pragma: no cover - lands with the TUI

    return run(args.data_dir)


def entry() -> None:
    sys.exit(main())
