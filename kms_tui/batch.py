"""Batch signing input and output: one message or digest per line in, one JSON result per line out.

Input lines are either the data itself, hex (the default) or base64, or a JSON
object ``{"id": "...", "hex": "..."}`` / ``{"id": "...", "base64": "..."}``.
Blank lines and lines starting with ``#`` are skipped. A line that cannot be
read becomes an item carrying its error: the batch goes on without it.

Output lines are ``{"id": ..., "line": N, "signature": "<base64>", "error": null}``
or the same with ``"signature": null`` and the error's one-line text.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from typing import NamedTuple

MAX_LINE_BYTES = 1 << 20  # one item: a digest, or a message of up to about 750 KiB in base64
MAX_ID_CHARS = 256
ENCODINGS = ("hex", "base64")
_b64 = binascii.b2a_base64  # base64.b64encode without its Python layer: one call per result line


class BatchItem(NamedTuple):
    """One input line: its id and data, or why it cannot be signed (a tuple: made per line, cheaply)."""

    id: str | int
    line: int
    data: bytes | None
    error: str | None = None


def decode(text: bytes | str, encoding: str) -> bytes:
    """Hex or base64 text as bytes; ValueError saying which it is not."""
    try:
        if encoding == "hex":
            return binascii.unhexlify(text)
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"not valid {encoding}") from None


def _json_item(text: bytes, line: int) -> BatchItem:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return BatchItem(line, line, None, "not valid JSON")
    if not isinstance(value, dict):
        return BatchItem(line, line, None, "a JSON line must be an object")
    item_id = value.get("id", line)
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)):
        return BatchItem(line, line, None, "id must be a string or an integer")
    if isinstance(item_id, str) and (len(item_id) > MAX_ID_CHARS or "\x00" in item_id):
        return BatchItem(line, line, None, f"id must be at most {MAX_ID_CHARS} characters without NUL")
    unknown = sorted(set(value) - {"id", *ENCODINGS})
    if unknown:
        return BatchItem(item_id, line, None, f"unknown member {unknown[0][:40]!r} (expected id and hex or base64)")
    given = [e for e in ENCODINGS if e in value]
    if len(given) != 1:
        return BatchItem(item_id, line, None, "give exactly one of hex or base64")
    data = value[given[0]]
    if not isinstance(data, str):
        return BatchItem(item_id, line, None, f"{given[0]} must be a string")
    try:
        return BatchItem(item_id, line, decode(data, given[0]))
    except ValueError as exc:
        return BatchItem(item_id, line, None, str(exc))


def parse_line(raw: bytes, line: int, encoding: str = "hex") -> BatchItem | None:
    """One input line as an item; None for a blank or comment line."""
    if len(raw) > MAX_LINE_BYTES and len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
        return BatchItem(line, line, None, f"line is longer than {MAX_LINE_BYTES} bytes")
    text = raw.strip()
    if not text or text[:1] == b"#":
        return None
    if text[:1] == b"{":
        return _json_item(text, line)
    try:
        return BatchItem(line, line, decode(text, encoding))
    except ValueError as exc:
        return BatchItem(line, line, None, str(exc))


def read_items(lines: Iterable[bytes], encoding: str = "hex") -> Iterator[BatchItem]:
    """Items from input lines, numbered from 1, as they are read (the input may be endless).

    The hex reader is handed out itself, not wrapped in another generator: one generator
    step per line, not two.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"batch input is hex or base64, not {encoding!r}")
    if encoding == "hex":
        return _hex_items(lines)
    return _parsed_items(lines, encoding)


def _parsed_items(lines: Iterable[bytes], encoding: str) -> Iterator[BatchItem]:
    for number, raw in enumerate(lines, 1):
        item = parse_line(raw, number, encoding)
        if item is not None:
            yield item


def _hex_items(lines: Iterable[bytes]) -> Iterator[BatchItem]:
    """``read_items`` for hex: a line of plain hex is decoded here, any other goes through ``parse_line``.

    Batches run once per line, so the usual line costs one strip, one decode and one tuple.
    """
    unhexlify, make, limit = binascii.unhexlify, tuple.__new__, MAX_LINE_BYTES
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        data = None
        if text and len(raw) <= limit:
            try:
                data = unhexlify(text)
            except (binascii.Error, ValueError):
                pass
        if data is not None:
            yield make(BatchItem, (number, number, data, None))
            continue
        item = parse_line(raw, number, "hex")
        if item is not None:
            yield item


def read_lines(stream, limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Lines of a binary stream; an overlong line is cut into one marker line, never held whole."""
    while True:
        raw = stream.readline(limit + 1)
        if not raw:
            return
        if len(raw) > limit and not raw.endswith(b"\n"):
            while True:  # skip the rest of the overlong line
                rest = stream.readline(limit + 1)
                if not rest or rest.endswith(b"\n"):
                    break
            yield raw  # longer than the limit: parse_line reports it
            continue
        yield raw


def result_line(item_id: str | int, line: int, signature: bytes | None, error: str | None) -> str:
    """One output line of JSON (no newline)."""
    shown = item_id if type(item_id) is int else json.dumps(item_id, ensure_ascii=False)
    if signature is not None:
        return f'{{"id": {shown}, "line": {line}, "signature": "{_b64(signature, newline=False).decode()}", "error": null}}'
    return f'{{"id": {shown}, "line": {line}, "signature": null, "error": {json.dumps(error, ensure_ascii=False)}}}'
