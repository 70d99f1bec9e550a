"""SoftHSM2 for the PKCS#11 engine tests: a fresh token store per test run."""

from __future__ import annotations

import os

import pytest

from tests.engines.pkcs11.softhsm import MODULE, RESTRICTED_TOKEN, SoftHsm, make_softhsm


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory) -> SoftHsm:
    """Tokens 'contract', 'service', 'pin', 'spare', 'shared' (and a restricted store), made before
    this process loads the module: SoftHSM reads SOFTHSM2_CONF and its tokens at C_Initialize."""
    hsm = make_softhsm(tmp_path_factory.mktemp("softhsm"))
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
    yield hsm
    if before is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = before


@pytest.fixture(scope="session")
def restricted(softhsm) -> dict[str, str]:
    """Options of an engine on a token without EdDSA and RSA-PSS (its own copy of the module)."""
    from engines.pkcs11.module import load_module

    os.environ["SOFTHSM2_CONF"] = str(softhsm.restricted_conf)
    try:
        load_module(str(softhsm.restricted_module))
    finally:
        os.environ["SOFTHSM2_CONF"] = str(softhsm.conf)
    return {"module": str(softhsm.restricted_module), "token": RESTRICTED_TOKEN}


@pytest.fixture
def hsm_options(softhsm):
    """Options of an engine on one of the session's tokens."""
    return lambda token="service": {"module": MODULE, "token": token}


