"""Terminal input and output for the CLI: secrets, confirmations, tables, JSON.

Secrets are read from a prompt (no echo), standard input or a file, never from
argv. Human output shows names literally: control characters are escaped so a
hostile name cannot move the cursor or retitle the terminal.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..service import SecretRequest
from ..service.errors import InvalidInput
from ..text import safe_text


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, widths: dict[int, int] | None = None) -> str:
    """A plain-text table; cells are made safe and optionally truncated."""
    return "\n".join(_table_lines(headers, rows, widths or {}))


def write_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, widths: dict[int, int] | None = None) -> None:
    """``table`` written line by line: only the cells' text is kept, not the records they came from."""
    write = sys.stdout.write
    for line in _table_lines(headers, rows, widths or {}):
        write(line + "\n")


def _table_lines(headers: Sequence[str], rows: Iterable[Sequence[Any]], widths: dict[int, int]) -> Iterator[str]:
    cells = [[safe_text(c, widths.get(i)) for i, c in enumerate(row)] for row in rows]
    cols = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    yield "  ".join(h.ljust(cols[i]) for i, h in enumerate(headers)).rstrip()
    yield "  ".join("-" * w for w in cols)
    for r in cells:
        yield "  ".join(c.ljust(cols[i]) for i, c in enumerate(r)).rstrip()


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


def emit_json_texts(items: Iterable[str]) -> None:
    """A JSON list on stdout from elements already encoded, one per line, written as they come.

    The same text as joining them all at once: ``[]`` when there are none, otherwise
    ``[``, the elements separated by ``,`` and a line break, and ``]``.
    """
    write = sys.stdout.write
    separator = "[\n"
    for item in items:
        write(separator)
        write(item)
        separator = ",\n"
    write("[]\n" if separator == "[\n" else "\n]\n")


def emit_json_lines(items: Iterable[str]) -> None:
    """JSON lines on stdout: each element, already encoded on one line, written as it comes."""
    write = sys.stdout.write
    for item in items:
        write(item)
        write("\n")


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
