"""Engines shared with a Lamassu deployment: the ``lamassu`` engine option every engine type takes.

On such an engine kms-tui only does what Lamassu can use (its Go code reads clear PEM, RSA and
ECDSA only, and its own names on every backend). The option is a string like every engine
option ("true" / "false"); ``shared`` reads it from an engine's options (its record's config).
"""

from __future__ import annotations

from collections.abc import Mapping

OPTION = "lamassu"
HELP = "shared with a Lamassu deployment: only what Lamassu can use (true/false)"


def shared(options: Mapping[str, object] | None) -> bool:
    """Whether an engine with these options is marked as shared with Lamassu."""
    return str((options or {}).get(OPTION, "false")).strip().lower() == "true"
