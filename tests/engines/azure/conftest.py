"""Fixtures for the Azure Key Vault engine: a fresh test vault per test, and drivers on it."""

from __future__ import annotations

import pytest

from engines.azure_kv import AzureKeyVaultEngine
from tests.engines.azure.helpers import SECRET, engine_options, start_server


@pytest.fixture
def server(tmp_path):
    server = start_server(tmp_path / "vault")
    yield server
    server.stop()


@pytest.fixture
def make_driver(server):
    """make_driver(secret=SECRET, **options) -> a driver on ``server``, closed after the test."""
    made = []

    def make(secret: str | None = SECRET, *, target=None, **options):
        driver = AzureKeyVaultEngine("azure-test", engine_options(target or server, **options), secret)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.close()
