"""The shared engine contract against a real OpenBao server: token auth, then AppRole auth."""

from __future__ import annotations

import pytest

from engines.testing import EngineContract
from engines.vault.engine import VaultKvEngine

ALL_TYPES = (
    ("ECDSA", 224), ("ECDSA", 256), ("ECDSA", 384), ("ECDSA", 521),
    ("Ed25519", 256),
    ("RSA", 2048), ("RSA", 3072), ("RSA", 4096),
    ("ML-DSA", 44), ("ML-DSA", 65), ("ML-DSA", 87),
)
# Left out of the import tests only: another size of the same algorithm is imported instead.
SLOW_SIZES = frozenset({("RSA", 3072), ("RSA", 4096), ("ML-DSA", 44), ("ML-DSA", 87)})


class TestVaultTokenContract(EngineContract):
    """Lamassu's own layout: keys at the top of a KV v2 mount, a token with a policy (not root)."""

    KEY_TYPES = ALL_TYPES
    SLOW_SIZES = SLOW_SIZES

    @pytest.fixture(scope="class")
    def driver(self, openbao, lab):
        options = {"address": openbao.address, "mount": openbao.new_mount(), "timeout": "5"}
        with VaultKvEngine("vault-contract", options, lab.full_token) as engine:
            yield engine


class TestVaultAppRoleContract(EngineContract):
    """The same contract logged in through AppRole, with keys under a folder prefix."""

    KEY_TYPES = ALL_TYPES
    SLOW_SIZES = SLOW_SIZES

    @pytest.fixture(scope="class")
    def driver(self, openbao, lab):
        options = {"address": openbao.address, "mount": openbao.new_mount(), "prefix": "kms/",
                   "auth": "approle", "role_id": lab.role_id, "timeout": "5"}
        with VaultKvEngine("vault-approle", options, lab.secret_id()) as engine:
            yield engine
