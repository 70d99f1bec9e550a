"""Fixtures of the Vault KV v2 tests: one OpenBao dev server per session, and engines on it."""

from __future__ import annotations

import itertools

import pytest

from engines.vault.engine import VaultKvEngine
from tests.engines.vault.openbao import Lab, OpenBao

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def openbao(tmp_path_factory):
    with OpenBao(tmp_path_factory.mktemp("openbao")) as server:
        yield server


@pytest.fixture(scope="session")
def lab(openbao):
    made = Lab(openbao)
    yield made
    made.close()


@pytest.fixture
def mount(openbao):
    """A fresh KV v2 mount, so a test sees only the secrets it wrote."""
    return openbao.new_mount()


@pytest.fixture
def make_engine(openbao, lab):
    """``make_engine(secret=<full token>, **options)``: a driver on the session server, closed after the test."""
    made = []

    def make(secret: str | None = "full", **options) -> VaultKvEngine:
        secret = lab.full_token if secret == "full" else secret
        engine = VaultKvEngine(f"vault-{next(_ids)}", {"address": openbao.address, "timeout": "5", **options}, secret)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()
