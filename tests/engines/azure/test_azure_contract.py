"""The shared engine contract, passed by the Azure Key Vault driver against the test vault."""

from __future__ import annotations

import pytest

from engines.azure_kv import AzureKeyVaultEngine
from tests.contract.suite import EngineContract
from tests.engines.azure.helpers import SECRET, engine_options, start_server


class TestAzureKeyVaultContract(EngineContract):
    KEY_TYPES = (("ECDSA", 256), ("ECDSA", 384), ("ECDSA", 521), ("RSA", 2048), ("RSA", 3072), ("RSA", 4096))
    SLOW_SIZES = frozenset({("RSA", 4096)})

    @pytest.fixture(scope="class")
    def driver(self, tmp_path_factory):
        # Small pages, so every inventory of the contract also follows nextLink.
        server = start_server(tmp_path_factory.mktemp("azure-contract"), page_size=3)
        driver = AzureKeyVaultEngine("azure-contract", engine_options(server), SECRET)
        yield driver
        driver.close()
        server.stop()
