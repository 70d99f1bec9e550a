"""``kms-tui report quantum`` handler: the quantum migration inventory as a table, JSON or CSV.

Rows come from ``kms.quantum.rows`` one at a time, soonest replace-by date first, and are
written as they come: the table has fixed column widths, so 100 000 keys need no more memory
than one.
"""

from __future__ import annotations

import json
import sys

from ..text import safe_text
from .io import emit_json_texts

# (header, width) of the human table; a longer cell is cut short (safe_text marks the cut).
COLUMNS = (("NAME", 28), ("KEY", 11), ("ENGINE", 16), ("SL", 3), ("BITS", 10), ("ROLE", 13), ("REPLACE BY", 10),
           ("CERT >2030", 10), ("MOVE TO", 9), ("BINDINGS", 40))
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula
TEXT_FIELDS = ("name", "engine_id", "bindings", "certificates")  # values from outside, guarded in CSV


def quantum(kms, args) -> int:
    rows = kms.quantum.rows(args.engine)
    if args.json:
        emit_json_texts(json.dumps(row.to_json(), sort_keys=True, ensure_ascii=False) for row in rows)
    elif args.csv:
        _write_csv(rows)
    else:
        _write_table(rows)
    return 0


def _write_csv(rows) -> None:
    import csv

    from ..service.quantum_report import FIELDS

    guarded = [FIELDS.index(name) for name in TEXT_FIELDS]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(FIELDS)
    for row in rows:
        cells = row.to_csv()
        for index in guarded:
            if cells[index].startswith(FORMULA_START):
                cells[index] = "'" + cells[index]
        writer.writerow(cells)


def _write_table(rows) -> None:
    write = sys.stdout.write
    write(_line(header for header, _ in COLUMNS))
    write(_line("-" * width for _, width in COLUMNS))
    for row in rows:
        days = row.outlives_2030_days
        write(_line((
            row.name, row.display, row.engine_id, "" if row.security_level is None else f"SL{row.security_level}",
            row.strength_bits, row.role, row.replace_by.isoformat() if row.replace_by else "-",
            "" if days is None else f"{days:+} d", row.suggested or "-", ", ".join(row.bindings) or "-",
        )))


def _line(cells) -> str:
    out = []
    for (_, width), cell in zip(COLUMNS, cells, strict=True):
        out.append(safe_text(cell, width).ljust(width))
    return "  ".join(out).rstrip() + "\n"
