"""The software engine (Lamassu ``GOLANG``): one PEM private key file per key in a directory.

``engine`` holds the driver, ``SoftwareEngine``; ``deletion`` its trash-backed delete,
restore and purge, ``trash`` the trash itself, and ``rekey`` the crash-safe change of the
at-rest passphrase under a directory lock. The driver is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .engine import SoftwareEngine

__all__ = ["SoftwareEngine"]
__getattr__ = lazy_exports(__name__, {"SoftwareEngine": "engine"})
