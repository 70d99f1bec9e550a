"""ML-DSA (FIPS 204) keys on a PKCS#11 3.2 token: the constants, and what differs from other key types.

Untested against a token: SoftHSM2, the module the tests run, has no ML-DSA mechanism. A
token is offered ML-DSA only when its mechanism list holds both ``CKM_ML_DSA_KEY_PAIR_GEN``
and ``CKM_ML_DSA``; elsewhere creating one is refused naming the missing mechanism. What
runs here: a pair is generated with ``CKA_PARAMETER_SET`` on the public template; the
public key is read from the public object's ``CKA_VALUE`` (the FIPS 204 encoding) and
``CKA_PARAMETER_SET``; signing is ``CKM_ML_DSA`` with no parameter (pure ML-DSA, empty
context) over the whole message. PKCS#11 3.2 has no external-mu input, so external mu
is refused. Import is not offered (``objects.import_templates``).

The values below are those of the OASIS PKCS#11 Specification Version 3.2 (pkcs11t.h:
CKK_ML_DSA, CKM_ML_DSA_KEY_PAIR_GEN, CKM_ML_DSA, CKA_PARAMETER_SET, CK_ML_DSA_PARAMETER_SET_TYPE),
the same in p11-kit's pkcs11.h for Cryptoki 3.2 and in python-pkcs11 0.10's enums.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import algorithms as A
from .. import keys as K
from ..errors import KeyParseError, OperationNotSupported

if TYPE_CHECKING:
    from pkcs11 import Mechanism, Object

CKK_ML_DSA = 0x4A
CKM_ML_DSA_KEY_PAIR_GEN = 0x1C
CKM_ML_DSA = 0x1D
CKA_PARAMETER_SET = 0x61D
CKP_BY_SIZE = {44: 0x1, 65: 0x2, 87: 0x3}  # CKP_ML_DSA_44, CKP_ML_DSA_65, CKP_ML_DSA_87
SIZE_BY_CKP = {ckp: size for size, ckp in CKP_BY_SIZE.items()}
KEY_TYPE_NAME = "ML_DSA"  # python-pkcs11's KeyType name for CKK_ML_DSA


def public_attrs(obj: Object) -> dict[str, Any]:
    """``CKA_PARAMETER_SET`` and ``CKA_VALUE`` of an ML-DSA public key object (None: not there)."""
    from pkcs11 import Attribute

    got = obj.get_attributes([Attribute(CKA_PARAMETER_SET), Attribute.VALUE])
    return {"parameter_set": got.get(Attribute(CKA_PARAMETER_SET)), "value": got.get(Attribute.VALUE)}


def public_key(attrs: Mapping[str, Any]) -> K.PublicKey:
    """The ``cryptography`` public key; ``KeyParseError`` for an unknown parameter set or a bad length."""
    from cryptography.hazmat.primitives.asymmetric import mldsa

    size = SIZE_BY_CKP.get(attrs.get("parameter_set") or 0)
    value = attrs.get("value")
    if size is None or not value:
        raise KeyParseError("The token's ML-DSA public key has no known parameter set or no value.")
    try:
        if size == 44:
            return mldsa.MLDSA44PublicKey.from_public_bytes(bytes(value))
        if size == 65:
            return mldsa.MLDSA65PublicKey.from_public_bytes(bytes(value))
        return mldsa.MLDSA87PublicKey.from_public_bytes(bytes(value))
    except ValueError:
        raise KeyParseError(f"The token's ML-DSA-{size} public key has the wrong length.") from None


def generation(size: int) -> dict[Any, Any]:
    """What the public template adds for a new pair of this parameter set."""
    from pkcs11 import Attribute

    return {Attribute(CKA_PARAMETER_SET): CKP_BY_SIZE[size]}


def sign_mechanism(message_type: A.MessageType, available: frozenset[int]) -> Mechanism:
    """``CKM_ML_DSA`` for a whole message; ``LookupError`` naming it when the token lacks it."""
    from pkcs11 import Mechanism

    if A.MessageType.parse(message_type) is A.MessageType.EXTERNAL_MU:
        raise OperationNotSupported("A PKCS#11 token signs ML-DSA messages whole (CKM_ML_DSA, PKCS#11 3.2 has "
                                    "no external-mu input): sign the message itself.")
    if CKM_ML_DSA not in available:
        raise LookupError("CKM_ML_DSA")
    return Mechanism(CKM_ML_DSA)
