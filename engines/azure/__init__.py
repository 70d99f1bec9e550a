"""The Azure Key Vault engine (Lamassu ``AZURE_KEY_VAULT``): keys that never leave the vault.

``engine`` holds the driver, ``AzureKeyVaultEngine``; ``session`` owns the SDK clients and
the error boundary, ``support`` the options, credentials and key shapes, ``errors`` the
translation of SDK exceptions. The Azure SDK is imported only inside functions; the driver
is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .engine import AzureKeyVaultEngine

__all__ = ["AzureKeyVaultEngine"]
__getattr__ = lazy_exports(__name__, {"AzureKeyVaultEngine": "engine"})
