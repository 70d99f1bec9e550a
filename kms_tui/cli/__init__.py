"""The headless command line: ``kms-tui <noun> <verb> … [--json]``.

No Textual import here: scripted use over SSH and in ceremonies starts fast.
Exit codes: 0 success; 1 a negative answer (invalid signature, broken audit
chain, unreachable engine); 2 usage; 3 a refused or failed operation (one line
on stderr); 4 an internal error (the traceback goes to the log file only).
"""

from __future__ import annotations

import logging
import os
import sys

from ..errors import USER_ERRORS, render
from .io import safe_text

EXIT_ERROR = 3
EXIT_INTERNAL = 4

log = logging.getLogger("kms_tui")


def _setup_logging(data_dir) -> None:
    """Warnings and tracebacks to <data dir>/kms-tui.log (0600); secrets are never logged."""
    path = os.path.join(str(data_dir), "kms-tui.log")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)  # never through a link
    except OSError:
        return
    handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    from .parser import build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from .. import __version__

        print(f"kms-tui {__version__}")
        return 0
    if not args.noun:
        return _start_tui(args, parser)
    from ..service import Kms
    from .io import terminal_prompt

    try:
        kms = Kms(args.data_dir, prompt=terminal_prompt)
    except USER_ERRORS as exc:
        return _fail(exc)
    _setup_logging(kms.data_dir)
    try:
        return args.handler(kms, args)
    except USER_ERRORS as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        log.exception("internal error in %s %s", args.noun, getattr(args, "verb", ""))
        return _fail(exc, EXIT_INTERNAL)
    finally:
        kms.close()


def _fail(exc: BaseException, code: int = EXIT_ERROR) -> int:
    title, message = render(exc)
    sys.stderr.write(f"kms-tui: {title}: {safe_text(message)}\n")
    return code


def _start_tui(args, parser) -> int:
    import importlib.util

    if importlib.util.find_spec("kms_tui.app") is None:
        parser.print_help()
        return 0
    from ..app import run  # pragma: no cover - lands with the TUI

    return run(args.data_dir)


def entry() -> None:
    sys.exit(main())
