"""Limits the engines apply to their inputs before parsing anything; importable without cryptography."""

from __future__ import annotations

MAX_KEY_FILE_BYTES = 1 << 20  # refuse larger inputs before parsing
