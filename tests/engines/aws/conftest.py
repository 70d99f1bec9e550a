"""Fixtures of the AWS engine tests: one real moto server per session, hermetic AWS settings."""

from __future__ import annotations

import pytest

from tests.engines.aws.moto_server import AWS_ENV, MotoServer, hermetic_env


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    """``moto_server`` on 127.0.0.1 for the whole session; tests isolate themselves by region or reset."""
    with MotoServer(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_machine_aws_settings(monkeypatch, tmp_path):
    """Neither the machine's AWS config files nor its AWS environment may reach a driver."""
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in hermetic_env({}, tmp_path).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def fresh(moto):
    """A moto with nothing in it, for tests that count what an engine lists."""
    moto.reset()
    return moto


@pytest.fixture(scope="session")
def wrapping_key():
    """The private half of an RSA-4096 import wrapping key, as AWS KMS would hold it."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=4096)
