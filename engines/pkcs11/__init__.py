"""The PKCS#11 engine (Lamassu ``PKCS11``): key pairs on an HSM token through python-pkcs11.

``engine`` holds the driver, ``Pkcs11Engine``; ``module`` loads a vendor's library once per
process, ``session`` keeps one shared logged-in session per token, ``lookup`` finds key
objects, ``objects`` reads and makes key material, ``uri`` speaks RFC 7512 URIs and
``errors`` turns the library's exceptions into typed errors. python-pkcs11 is imported
only inside functions; the driver is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .engine import Pkcs11Engine

__all__ = ["Pkcs11Engine"]
__getattr__ = lazy_exports(__name__, {"Pkcs11Engine": "engine"})
