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


class Items:
    """Batch items from input lines, one by one (iteration) or in chunks of what was read at once.

    Batch signing takes the chunks (``chunks()``): it signs a chunk's items back to back and
    emits their results together, without waiting for input that has not arrived.
    """

    def __init__(self, line_chunks: Iterable[list[bytes]], encoding: str) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"batch input is hex or base64, not {encoding!r}")
        self._line_chunks, self._encoding = line_chunks, encoding

    def __iter__(self) -> Iterator[BatchItem]:
        for chunk in self.chunks():
            yield from chunk

    def chunks(self) -> Iterator[list[BatchItem]]:
        """Lists of items, numbered from 1 across chunks; blank and comment lines skipped."""
        number = 0
        for raws in self._line_chunks:
            first = number + 1
            number += len(raws)
            items = _hex_chunk(raws, first) if self._encoding == "hex" else None
            if items is None:
                items = [item for item in (parse_line(raw, n, self._encoding) for n, raw in enumerate(raws, first))
                         if item is not None]
            if items:
                yield items


def _hex_chunk(raws: list[bytes], first: int) -> list[BatchItem] | None:
    """A chunk of plain hex lines decoded at once; None when any line needs ``parse_line``
    (blank, comment, JSON, overlong or not hex): then the chunk is read line by line."""
    texts = [raw.strip() for raw in raws]
    if not all(texts) or max(map(len, raws)) > MAX_LINE_BYTES:
        return None
    unhexlify, make = binascii.unhexlify, tuple.__new__
    try:
        datas = [unhexlify(text) for text in texts]
    except (binascii.Error, ValueError):
        return None
    return [make(BatchItem, (n, n, data, None)) for n, data in enumerate(datas, first)]


def _fixed_chunks(lines: Iterable[bytes], size: int = 256) -> Iterator[list[bytes]]:
    """A list of lines in chunks of ``size``; any other iterable (a stream's lines, which may stall)
    one line at a time, so that nothing waits for a line that has not arrived."""
    if isinstance(lines, list):
        for start in range(0, len(lines), size):
            yield lines[start:start + size]
        return
    for line in lines:
        yield [line]


def read_items(lines: Iterable[bytes], encoding: str = "hex") -> Items:
    """Items from input lines, numbered from 1, as they are read (the input may be endless).

    A list is taken in chunks of 256 lines; an iterator (a stream's lines) one line at a time,
    so nothing waits for lines that have not arrived (``read_stream`` reads in chunks safely).
    """
    return Items(_fixed_chunks(lines), encoding)


def read_stream(stream, encoding: str = "hex", limit: int = MAX_LINE_BYTES) -> Items:
    """Items from a binary stream, in chunks of what each read returned: a read takes what the
    stream has (``read1``: it waits only when nothing has arrived), so a chunk never waits for more."""
    return Items(_stream_chunks(stream, limit), encoding)


READ_BYTES = 1 << 16


def _stream_chunks(stream, limit: int) -> Iterator[list[bytes]]:
    """Lines of a stream (without their newline), grouped as they arrived. A line longer than
    ``limit`` keeps only its first ``limit + 1`` bytes (``parse_line`` reports it), never held whole;
    a line arriving a byte at a time is joined once, when it ends."""
    read = getattr(stream, "read1", None) or stream.read
    pieces: list[bytes] = []  # the line not yet ended
    held = 0
    while True:
        block = read(READ_BYTES)
        if not block:
            if pieces:
                yield [b"".join(pieces)]
            return
        lines = block.split(b"\n")
        tail = lines.pop()
        if lines:
            if pieces:
                pieces.append(lines[0])
                lines[0] = b"".join(pieces)[:limit + 1]
            yield lines
            pieces, held = ([tail[:limit + 1]], min(len(tail), limit + 1)) if tail else ([], 0)
        elif held <= limit and tail:
            piece = tail[:limit + 1 - held]
            pieces.append(piece)
            held += len(piece)


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


def result_lines(items, signatures, errors) -> list[str]:
    """The output lines of many results at once (``emit_many``): errors is None when all were signed."""
    if errors is not None:
        return [result_line(item.id, item.line, sig, err) for item, sig, err in zip(items, signatures, errors, strict=True)]
    b64, dumps = _b64, json.dumps
    return [f'{{"id": {item.id if type(item.id) is int else dumps(item.id, ensure_ascii=False)}, "line": {item.line}, '
            f'"signature": "{b64(sig, newline=False).decode()}", "error": null}}' for item, sig in zip(items, signatures, strict=True)]
