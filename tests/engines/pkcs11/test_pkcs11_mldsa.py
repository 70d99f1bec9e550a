"""ML-DSA on PKCS#11 (3.2: CKM_ML_DSA_KEY_PAIR_GEN, CKM_ML_DSA): offered only by a token listing both.

SoftHSM2 has no ML-DSA, so on a real token only the refusal runs: ML-DSA is not offered and
``keys create --algorithm ML-DSA`` is refused naming the missing mechanism. The token-side
code of ``engines.pkcs11.mldsa`` (generation, public key read back, signing) is untested
here; its pure parts are checked against ``cryptography``'s ML-DSA keys.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric import mldsa

from engines import algorithms as A
from engines import keys as K
from engines.errors import KeyParseError, OperationNotSupported, UnsupportedKeyType
from engines.pkcs11 import mldsa as M
from engines.pkcs11 import objects as O
from engines.pkcs11.errors import KeyTypeNotOnToken
from engines.testing import raises_kms
from tests.cli.runner import InProcessCli, home_env
from tests.engines.pkcs11.softhsm import MODULE, USER_PIN


def test_a_token_without_the_mechanisms_is_not_offered_ml_dsa_and_refuses_it(softhsm, kms, tmp_path):
    kms.engines.register("PKCS11", "hsm", options={"module": MODULE, "token": "service"}, secret=USER_PIN)
    driver = kms.context.driver("hsm")
    assert "ML-DSA" not in driver.supported_key_types() and "Ed25519" in driver.supported_key_types()
    with raises_kms(KeyTypeNotOnToken) as info:
        driver.create("ML-DSA", 65)
    assert "has no CKM_ML_DSA_KEY_PAIR_GEN mechanism: it cannot create ML-DSA keys" in info.value.message
    with raises_kms(UnsupportedKeyType) as info:
        kms.keys.create("ML-DSA", 65, "pq-root", engine_id="hsm")
    assert info.value.message == "This engine cannot create ML-DSA keys: the token has no CKM_ML_DSA_KEY_PAIR_GEN " \
                                 "mechanism."
    cli = InProcessCli(tmp_path / "cli", env=home_env(tmp_path / "home"))
    cli("engines", "add", "PKCS11", "--id", "hsm", "--option", f"module={MODULE}", "--option", "token=service",
        "--secret-stdin", input=(USER_PIN + "\n").encode())
    refused = cli("keys", "create", "--engine", "hsm", "--algorithm", "ML-DSA", "--size", "87", "--name", "pq",
                  code=3)
    assert refused.stderr == (b"kms-tui: Unsupported key type: This engine cannot create ML-DSA keys: the token has "
                              b"no CKM_ML_DSA_KEY_PAIR_GEN mechanism. It supports: RSA, ECDSA, Ed25519.\n")
    assert [k.name for k in kms.keys.list()] == []


def test_a_token_listing_both_mechanisms_is_offered_every_parameter_set():
    """The offer comes from the mechanism list alone (values of PKCS#11 3.2)."""
    assert (M.CKM_ML_DSA_KEY_PAIR_GEN, M.CKM_ML_DSA, M.CKK_ML_DSA, M.CKA_PARAMETER_SET) == (0x1C, 0x1D, 0x4A, 0x61D)
    both = frozenset({M.CKM_ML_DSA_KEY_PAIR_GEN, M.CKM_ML_DSA})
    token = SimpleNamespace(mechanisms=both, mechanism_info={M.CKM_ML_DSA_KEY_PAIR_GEN: (None, None)})
    offered = O.supported_key_types(token)
    assert offered == {"ML-DSA": (44, 65, 87)} and "RSA" in offered.refused
    half = SimpleNamespace(mechanisms=frozenset({M.CKM_ML_DSA_KEY_PAIR_GEN}), mechanism_info={})
    assert O.supported_key_types(half).refused["ML-DSA"] == "the token has no CKM_ML_DSA mechanism"
    sig_alg = A.signing_algorithm("ML_DSA_SHAKE_256")
    plan = O.sign_plan(sig_alg, A.MessageType.RAW, both)
    assert (int(plan.mechanism), plan.param, plan.prehash) == (0x1D, None, False)
    with pytest.raises(LookupError, match="CKM_ML_DSA"):
        O.sign_plan(sig_alg, A.MessageType.RAW, frozenset())
    with raises_kms(OperationNotSupported):
        O.sign_plan(sig_alg, A.MessageType.EXTERNAL_MU, both)


@pytest.mark.parametrize(("size", "private"), [(44, mldsa.MLDSA44PrivateKey), (87, mldsa.MLDSA87PrivateKey)])
def test_the_public_key_is_read_from_its_parameter_set_and_value(size, private):
    public = private.generate().public_key()
    raw = public.public_bytes_raw()
    read = O.public_key_of("ML_DSA", {"parameter_set": M.CKP_BY_SIZE[size], "value": raw})
    assert K.describe(read) == ("ML-DSA", size) and K.spki_der(read) == K.spki_der(public)
    for wrong in ({"parameter_set": M.CKP_BY_SIZE[65], "value": raw}, {"parameter_set": 9, "value": raw},
                  {"parameter_set": M.CKP_BY_SIZE[size], "value": None}):
        with raises_kms(KeyParseError):
            O.public_key_of("ML_DSA", wrong)
