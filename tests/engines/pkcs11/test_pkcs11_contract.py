"""The shared engine contract on a fresh SoftHSM2 token."""

from __future__ import annotations

import pytest

from engines.pkcs11.engine import Pkcs11Engine
from engines.testing import EngineContract
from tests.engines.pkcs11.softhsm import MODULE, USER_PIN


class TestPkcs11Contract(EngineContract):
    # What SoftHSM 2.6.1 (Debian, OpenSSL backend) offers: RSA 512-16384, EC 112-521 bits, EdDSA.
    # test_key_types_match_driver checks that the driver discovers exactly this from the mechanisms.
    KEY_TYPES = (
        ("ECDSA", 224), ("ECDSA", 256), ("ECDSA", 384), ("ECDSA", 521),
        ("Ed25519", 256),
        ("RSA", 2048), ("RSA", 3072), ("RSA", 4096),
    )
    SLOW_SIZES = frozenset({("RSA", 3072), ("RSA", 4096)})

    @pytest.fixture(scope="class")
    def driver(self, softhsm):
        with Pkcs11Engine("pkcs11-contract", {"module": MODULE, "token": "contract"}, USER_PIN) as engine:
            yield engine
