"""A PKCS#11 engine shared with Lamassu: registered and shown as such.

Nothing to refuse: Lamassu finds a key by ``CKA_ID`` = the ASCII key id (lamassuiot/lamassuiot
engines/crypto/pkcs11/pkcs11.go: ``FindKeyPair([]byte(keyID), nil)``), which is how kms-tui
writes its objects (engines/pkcs11).
"""

from __future__ import annotations

from tests.engines.lamassu_shared import register_shared
from tests.engines.pkcs11.softhsm import MODULE, USER_PIN


def test_registers_shared(softhsm, tmp_path):
    register_shared(tmp_path, "PKCS11", "hsm", {"module": MODULE, "token": "spare"}, USER_PIN)
