"""The backends of the Lamassu layout tests: one of each per session, each test on its own part of it.

Every server is this directory's own (fixtures are scoped to the directory that declares them);
each starts in well under a second. The PKCS#11 token store has its own copy of SoftHSM2's
library, loaded with its own configuration: a loaded module reads one configuration, once.
"""

from __future__ import annotations

import pytest

from tests.engines.aws.moto_server import AWS_ENV, MotoServer, hermetic_env
from tests.engines.azure.helpers import fresh_vault, start_server
from tests.engines.pkcs11.softhsm import make_softhsm, private_module
from tests.engines.vault.openbao import OpenBao

TOKEN = "lamassu"


@pytest.fixture(scope="session")
def lamassu_moto(tmp_path_factory):
    with MotoServer(tmp_path_factory.mktemp("lamassu-moto")) as server:
        yield server


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Neither the machine's AWS config files nor its AWS environment may reach a driver."""
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in hermetic_env({}, tmp_path).items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def lamassu_bao(tmp_path_factory):
    with OpenBao(tmp_path_factory.mktemp("lamassu-bao")) as server:
        yield server


@pytest.fixture(scope="session")
def lamassu_azure_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("lamassu-azure"))
    yield server
    server.stop()


@pytest.fixture
def lamassu_azure(lamassu_azure_server):
    """The session's test vault, emptied: a test sees only the keys it made."""
    return fresh_vault(lamassu_azure_server)


@pytest.fixture(scope="session")
def lamassu_hsm(tmp_path_factory):
    """A token store with one token, and the path of a library copy loaded with its configuration."""
    hsm = make_softhsm(tmp_path_factory.mktemp("lamassu-softhsm"), tokens=(TOKEN,))
    return {"module": private_module(hsm.conf, hsm.base / "libsofthsm2-lamassu.so"), "token": TOKEN}
