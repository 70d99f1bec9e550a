"""The shared engine contract, passed by the Azure Key Vault driver against the test vault."""

from __future__ import annotations

import pytest

from engines.azure.engine import AzureKeyVaultEngine
from engines.testing import EngineContract
from tests.engines.azure.helpers import SECRET, engine_options, fresh_vault


class TestAzureKeyVaultContract(EngineContract):
    KEY_TYPES = (("ECDSA", 256), ("ECDSA", 384), ("ECDSA", 521), ("RSA", 2048), ("RSA", 3072), ("RSA", 4096))
    SLOW_SIZES = frozenset({("RSA", 4096)})

    @pytest.fixture(scope="class")
    def driver(self, azure_vault):
        # Small pages, so every inventory of the contract also follows nextLink.
        server = fresh_vault(azure_vault, page_size=3)
        driver = AzureKeyVaultEngine("azure-contract", engine_options(server), SECRET)
        yield driver
        driver.close()
        fresh_vault(azure_vault)
