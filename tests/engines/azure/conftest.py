"""Fixtures for the Azure Key Vault engine: one test vault server per session, emptied for each test, and drivers."""

from __future__ import annotations

import pytest

from engines.azure.engine import AzureKeyVaultEngine
from tests.engines.azure.helpers import SECRET, engine_options, fresh_vault, start_server


@pytest.fixture(scope="session")
def azure_vault(tmp_path_factory):
    """The test vault server of the session (per xdist worker): one TLS identity, one port."""
    server = start_server(tmp_path_factory.mktemp("azure-vault"))
    yield server
    server.stop()


@pytest.fixture
def server(azure_vault):
    """The session's test vault, empty and listening: a test sees only what it made."""
    return fresh_vault(azure_vault)


@pytest.fixture
def make_driver(server):
    """make_driver(secret=SECRET, **options) -> a driver on ``server``, closed after the test."""
    made = []

    def make(secret: str | None = SECRET, **options):
        driver = AzureKeyVaultEngine("azure-test", engine_options(server, **options), secret)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.close()
