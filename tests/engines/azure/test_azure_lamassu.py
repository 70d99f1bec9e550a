"""An Azure Key Vault engine shared with Lamassu: registered and shown as such.

Nothing to refuse: Lamassu finds a key by its ``x-lamassu-id`` tag (lamassuiot/lamassuiot
engines/crypto/azure/keyvault.go ``findKeyNameByLamassuID``), which kms-tui sets on every key it makes.
"""

from __future__ import annotations

from tests.engines.azure.helpers import SECRET, engine_options
from tests.engines.lamassu_shared import register_shared


def test_registers_shared(server, tmp_path):
    register_shared(tmp_path, "AZURE_KEY_VAULT", "azure", engine_options(server), SECRET)
