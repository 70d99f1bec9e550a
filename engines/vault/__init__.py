"""The HashiCorp Vault KV v2 engine (Lamassu ``HASHICORP_VAULT_KV_V2``): private keys as KV v2 secrets.

``engine`` holds the driver, ``VaultKvEngine``; ``client`` owns the hvac client (login, the
mount check, every call), ``options`` the engine options and ``errors`` the translation of
hvac exceptions. hvac is imported only inside functions; the driver is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .engine import VaultKvEngine

__all__ = ["VaultKvEngine"]
__getattr__ = lazy_exports(__name__, {"VaultKvEngine": "engine"})
