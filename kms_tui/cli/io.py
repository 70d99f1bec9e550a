"""Terminal input and output for the CLI: secrets, confirmations, tables, JSON.

Secrets are read from a prompt (no echo), standard input or a file, never from
argv. Human output shows names literally: control characters are escaped so a
hostile name cannot move the cursor or retitle the terminal.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..service import SecretRequest
from ..service.errors import InvalidInput
from ..text import safe_text


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, widths: dict[int, int] | None = None) -> str:
    """A plain-text table; cells are made safe and optionally truncated."""
    widths = widths or {}
    cells = [[safe_text(c, widths.get(i)) for i, c in enumerate(row)] for row in rows]
    cols = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(cols[i]) for i, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in cols))
    for r in cells:
        lines.append("  ".join(c.ljust(cols[i]) for i, c in enumerate(r)).rstrip())
    return "\n".join(lines)


def emit_json(data: Any) -> None:
    """JSON on stdout: an object indented; a list one element per line.

    A list (``keys list`` over 100 000 keys) is written element by element with
    the C encoder — indenting uses the pure-Python one, several times slower.
    """
    if isinstance(data, list):
        write = sys.stdout.write
        write("[\n" if data else "[")
        last = len(data) - 1
        for i, item in enumerate(data):
            write(json.dumps(item, sort_keys=True, ensure_ascii=False, default=str) + (",\n" if i < last else "\n"))
        write("]\n")
        return
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


def emit_json_texts(items: list[str]) -> None:
    """A JSON list on stdout from elements already encoded, one per line."""
    if not items:
        sys.stdout.write("[]\n")
        return
    sys.stdout.write("[\n" + ",\n".join(items) + "\n]\n")


def read_secret_arg(args, label: str, *, confirm: bool = False) -> str | None:
    """A secret from --secret-stdin / --secret-file, or a no-echo prompt on a terminal."""
    if getattr(args, "secret_stdin", False):
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise InvalidInput(f"No {label} was given on standard input.")
        return value
    path = getattr(args, "secret_file", None)
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise InvalidInput(f"Cannot read the secret file: {exc.strerror}.") from None
        if not value:
            raise InvalidInput(f"The secret file holds no {label}.")
        return value
    return prompt_secret(label, confirm=confirm)


def prompt_secret(label: str, *, confirm: bool = False, reason: str | None = None) -> str | None:
    """Ask on the controlling terminal; None when there is none."""
    if not sys.stdin.isatty():
        return None
    if reason:
        sys.stderr.write(reason + "\n")
    value = getpass.getpass(f"{label[:1].upper()}{label[1:]}: ")
    if not value:
        return None
    if confirm and getpass.getpass(f"Repeat the {label}: ") != value:
        raise InvalidInput(f"The two {label}s differ; nothing was changed.")
    return value


def terminal_prompt(request: SecretRequest) -> str | None:
    """The service's secret prompt for the CLI: held in memory for this process only."""
    reason = f"{request.reason} The {request.label} of engine {request.engine_id!r} is kept in memory for this command only."
    return prompt_secret(request.label, confirm=request.confirm, reason=reason)


def confirm_typed(expected: str, what: str) -> bool:
    """Typed confirmation: the operator types the exact name."""
    if not sys.stdin.isatty():
        return False
    sys.stderr.write(f"{what}\nType the key name ({safe_text(expected, 80)}) to confirm: ")
    sys.stderr.flush()
    return sys.stdin.readline().rstrip("\r\n") == expected
