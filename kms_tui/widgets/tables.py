"""Small helpers for DataTables shared by the screens."""

from __future__ import annotations

from textual.widgets import DataTable


def cursor_row_key(table: DataTable) -> str | None:
    """The key of the row under the cursor, or None for an empty or shrinking table."""
    if not table.row_count:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:  # the cursor can point past the rows while the table is refilled
        return None
