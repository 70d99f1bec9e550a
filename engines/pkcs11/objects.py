"""Key material as PKCS#11 objects: curve parameters, public keys, templates, signing mechanisms.

The pure half of the PKCS#11 engine. python-pkcs11 constants are imported inside
the functions that need them (start-up never loads the SDK); the rest works on
``cryptography`` objects and bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .. import algorithms as A
from .. import keys as K
from ..errors import KeyParseError, UnsupportedKeyType
from . import mldsa as M

if TYPE_CHECKING:
    from pkcs11 import MGF, Attribute, Mechanism

    from .session import Shared

    Template = dict[Attribute, Any]  # attribute -> value, for creating or finding objects

# DER-encoded OIDs, the form of CKA_EC_PARAMS every token accepts for named curves.
EC_PARAMS_BY_SIZE = {
    224: bytes.fromhex("06052b81040021"),
    256: bytes.fromhex("06082a8648ce3d030107"),
    384: bytes.fromhex("06052b81040022"),
    521: bytes.fromhex("06052b81040023"),
}
SIZE_BY_EC_PARAMS = {v: k for k, v in EC_PARAMS_BY_SIZE.items()}
ED25519_PARAMS = bytes.fromhex("06032b6570")  # id-Ed25519, 1.3.101.112
# PKCS#11 3.0 also allows the curve name as a PrintableString; other tools write that.
ED25519_PARAM_FORMS = frozenset({ED25519_PARAMS, b"\x13\x0cedwards25519"})

# DER DigestInfo prefixes (RFC 8017 §9.2 note 1): CKM_RSA_PKCS signs DigestInfo, not a bare hash.
DIGEST_INFO = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


def mechanism_name(mechanism: int) -> str:
    """``CKM_…`` name of a mechanism (python-pkcs11 enum or int)."""
    name = getattr(mechanism, "name", None)
    return f"CKM_{name}" if name else f"CKM_0x{int(mechanism):08X}"


# ---------------------------------------------------------------- mechanisms

# (key-pair generation, signing) mechanism names per algorithm; a token needs both.
MECHANISMS = {
    A.RSA: ("RSA_PKCS_KEY_PAIR_GEN", ("RSA_PKCS", "SHA256_RSA_PKCS", "SHA384_RSA_PKCS", "SHA512_RSA_PKCS")),
    A.ECDSA: ("EC_KEY_PAIR_GEN", ("ECDSA", "ECDSA_SHA256", "ECDSA_SHA384", "ECDSA_SHA512")),
    A.ED25519: ("EC_EDWARDS_KEY_PAIR_GEN", ("EDDSA",)),
    A.ML_DSA: ("ML_DSA_KEY_PAIR_GEN", ("ML_DSA",)),  # PKCS#11 3.2 (``mldsa``)
}
CREATE_SIZES = {A.RSA: A.RSA_CREATE_SIZES, A.ECDSA: A.ECDSA_SIZES, A.ED25519: A.ED25519_SIZES,
                A.ML_DSA: A.ML_DSA_SIZES}


def missing_mechanism(shared: Shared, algorithm: str, *, create: bool = True) -> str | None:
    """The ``CKM_…`` name a token lacks to create (or only sign with) keys of this algorithm, or None."""
    from pkcs11 import Mechanism

    generate, signing = MECHANISMS[algorithm]
    if create and getattr(Mechanism, generate) not in shared.mechanisms:
        return f"CKM_{generate}"
    if not any(getattr(Mechanism, m) in shared.mechanisms for m in signing):
        return f"CKM_{signing[0]}"
    return None


def _key_range(shared: Shared, name: str) -> tuple[int | None, int | None]:
    from pkcs11 import Mechanism

    mechanism = getattr(Mechanism, name)
    if mechanism not in shared.mechanism_info:
        try:
            info = shared.info.token.slot.get_mechanism_info(mechanism)
            shared.mechanism_info[mechanism] = (info.min_key_length or None, info.max_key_length or None)
        except Exception:  # no info: the token may still create the usual sizes
            shared.mechanism_info[mechanism] = (None, None)
    return shared.mechanism_info[mechanism]


def supported_key_types(shared: Shared) -> A.KeyTypes:
    """Algorithm -> sizes, from the token's mechanisms and their key size ranges; an
    algorithm left out for a missing mechanism is ``refused`` with its name."""
    result: dict[str, tuple[int, ...]] = {}
    refused: dict[str, str] = {}
    for algorithm, (generate, _) in MECHANISMS.items():
        missing = missing_mechanism(shared, algorithm)
        if missing:
            refused[algorithm] = f"the token has no {missing} mechanism"
            continue
        low, high = _key_range(shared, generate)
        if algorithm == A.ECDSA and high is not None and high <= 66:
            low, high = (low or 0) * 8, high * 8 + 7  # some tokens give EC sizes in bytes
        # Ed25519 has one size; tokens report 255, 256 or the Ed448 range: not worth checking.
        # ML-DSA sizes are parameter sets, which no key size range describes.
        sizes = tuple(s for s in CREATE_SIZES[algorithm]
                      if algorithm in (A.ED25519, A.ML_DSA) or low is None or high is None or low <= s <= high)
        if sizes:
            result[algorithm] = sizes
    return A.KeyTypes(result, refused)


# ---------------------------------------------------------------- DER bits


def der_octet_string(data: bytes) -> bytes:
    n = len(data)
    if n < 0x80:
        return bytes([0x04, n]) + data
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(length)]) + length + data


def unwrap_point(data: bytes, raw_length: int) -> bytes:
    """CKA_EC_POINT as the raw point: tokens give a DER OCTET STRING, some the bare point."""
    if len(data) == raw_length:
        return data
    if len(data) > 2 and data[0] == 0x04:
        first = data[1]
        if first < 0x80:
            start, length = 2, first
        else:
            count = first & 0x7F
            start, length = 2 + count, int.from_bytes(data[2 : 2 + count], "big")
        if start + length == len(data) and length == raw_length:
            return data[start:]
    raise KeyParseError("The token holds an EC point of an unexpected length.")


# ---------------------------------------------------------------- public keys


_CURVES: dict[int, Callable[[], ec.EllipticCurve]] = {
    224: ec.SECP224R1, 256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1,
}


def _present(attrs: Mapping[str, Any], name: str) -> bytes:
    """An attribute the token must have given; ``KeyError`` when it did not."""
    value = attrs[name]
    if value is None:
        raise KeyError(name)
    return bytes(value)


def public_key_of(key_type: str, attrs: Mapping[str, Any]) -> K.PublicKey:
    """The ``cryptography`` public key from attributes read off the token.

    ``key_type`` is the python-pkcs11 KeyType name (RSA, EC, EC_EDWARDS, ML_DSA); ``attrs``
    holds ``modulus``/``public_exponent``, ``ec_params``/``ec_point`` or ``parameter_set``/``value``
    (None: not on the token).
    """
    try:
        if key_type == "RSA":
            n = int.from_bytes(_present(attrs, "modulus"), "big")
            e = int.from_bytes(_present(attrs, "public_exponent"), "big")
            return rsa.RSAPublicNumbers(e, n).public_key()
        if key_type == "EC":
            params = attrs["ec_params"]
            size = None if params is None else SIZE_BY_EC_PARAMS.get(params)
            if size is None:
                raise UnsupportedKeyType("The key is on an elliptic curve other than P-224, P-256, P-384 or P-521.")
            point = unwrap_point(_present(attrs, "ec_point"), 1 + 2 * ((size + 7) // 8))
            return ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[size](), point)
        if key_type == M.KEY_TYPE_NAME:
            return M.public_key(attrs)
        if key_type == "EC_EDWARDS":
            if attrs["ec_params"] not in ED25519_PARAM_FORMS:
                raise UnsupportedKeyType("Only Ed25519 Edwards-curve keys are supported (not Ed448).")
            return ed25519.Ed25519PublicKey.from_public_bytes(unwrap_point(_present(attrs, "ec_point"), 32))
    except (KeyError, ValueError, TypeError):
        raise KeyParseError(f"The token's {key_type} public key attributes are missing or unreadable.") from None
    raise UnsupportedKeyType(f"Keys of PKCS#11 type {key_type} are not supported.")


# ---------------------------------------------------------------- templates


def private_flags(label: str, object_id: bytes) -> Template:
    """A sign-only, sensitive, non-extractable private key on the token."""
    from pkcs11 import Attribute

    return {
        Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True, Attribute.SIGN_RECOVER: False, Attribute.DECRYPT: False,
        Attribute.UNWRAP: False, Attribute.DERIVE: False, Attribute.LABEL: label, Attribute.ID: object_id,
    }


def public_flags(label: str, object_id: bytes) -> Template:
    from pkcs11 import Attribute

    return {
        Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.VERIFY: True, Attribute.VERIFY_RECOVER: False,
        Attribute.ENCRYPT: False, Attribute.WRAP: False, Attribute.DERIVE: False,
        Attribute.LABEL: label, Attribute.ID: object_id,
    }


def _width(value: int, size_bits: int) -> bytes:
    return value.to_bytes((size_bits + 7) // 8, "big")


def _big(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def import_templates(private_key: K.PrivateKey, label: str, object_id: bytes) -> tuple[Template, Template]:
    """(private, public) object templates holding a ``cryptography`` private key."""
    from pkcs11 import Attribute, KeyType, ObjectClass

    priv: Template = {Attribute.CLASS: ObjectClass.PRIVATE_KEY, **private_flags(label, object_id)}
    pub: Template = {Attribute.CLASS: ObjectClass.PUBLIC_KEY, **public_flags(label, object_id)}
    if isinstance(private_key, rsa.RSAPrivateKey):
        nums = private_key.private_numbers()
        public = {Attribute.MODULUS: _big(nums.public_numbers.n), Attribute.PUBLIC_EXPONENT: _big(nums.public_numbers.e)}
        priv.update(public)
        priv.update({
            Attribute.KEY_TYPE: KeyType.RSA, Attribute.PRIVATE_EXPONENT: _big(nums.d),
            Attribute.PRIME_1: _big(nums.p), Attribute.PRIME_2: _big(nums.q), Attribute.EXPONENT_1: _big(nums.dmp1),
            Attribute.EXPONENT_2: _big(nums.dmq1), Attribute.COEFFICIENT: _big(nums.iqmp),
        })
        pub.update(public)
        pub[Attribute.KEY_TYPE] = KeyType.RSA
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        size = A.SIZE_BY_CURVE.get(private_key.curve.name)
        if size is None:
            raise UnsupportedKeyType(f"Elliptic curve {private_key.curve.name} cannot be imported into a token.")
        params = EC_PARAMS_BY_SIZE[size]
        point = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        d = _width(private_key.private_numbers().private_value, size)
        priv.update({Attribute.KEY_TYPE: KeyType.EC, Attribute.EC_PARAMS: params, Attribute.VALUE: d})
        pub.update({Attribute.KEY_TYPE: KeyType.EC, Attribute.EC_PARAMS: params,
                    Attribute.EC_POINT: der_octet_string(point)})
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        raw = private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        point = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        priv.update({Attribute.KEY_TYPE: KeyType.EC_EDWARDS, Attribute.EC_PARAMS: ED25519_PARAMS, Attribute.VALUE: raw})
        pub.update({Attribute.KEY_TYPE: KeyType.EC_EDWARDS, Attribute.EC_PARAMS: ED25519_PARAMS,
                    Attribute.EC_POINT: der_octet_string(point)})
    else:
        raise UnsupportedKeyType("Only RSA, ECDSA and Ed25519 private keys can be imported into a token.")
    return priv, pub


# ---------------------------------------------------------------- signing


@dataclass(frozen=True)
class SignPlan:
    """How to sign on the token: the mechanism, its parameter, and what to do here first."""

    mechanism: Mechanism
    param: tuple[Mechanism, MGF, int] | None = None  # CK_RSA_PKCS_PSS_PARAMS: hash, MGF, salt length
    prehash: bool = False  # hash (or check the digest) here, the token signs the digest
    digest_info: bool = False  # wrap the digest in DigestInfo (CKM_RSA_PKCS)
    raw_ecdsa: bool = False  # the token returns r||s: convert to DER


def sign_plan(sig_alg: A.SigningAlgorithm, message_type: A.MessageType, available: frozenset[int]) -> SignPlan:
    """The mechanism for a signature: the token's combined hash-and-sign one for RAW
    messages when it has it, else the bare one on a digest made here.

    Raises ``LookupError`` with the missing ``CKM_…`` name when the token has neither.
    """
    from pkcs11 import MGF, Mechanism

    if sig_alg.key_algorithm == A.ML_DSA:
        return SignPlan(M.sign_mechanism(message_type, available))
    if sig_alg.key_algorithm == A.ED25519:
        if Mechanism.EDDSA not in available:
            raise LookupError(mechanism_name(Mechanism.EDDSA))
        return SignPlan(Mechanism.EDDSA)
    bits = sig_alg.digest_hash()[3:]
    hash_mech = getattr(Mechanism, f"SHA{bits}")
    raw = A.MessageType.parse(message_type) is A.MessageType.RAW
    param: tuple[Mechanism, MGF, int] | None = None
    plan: dict[str, bool] = {}
    if sig_alg.key_algorithm == A.ECDSA:
        combined, bare, plan = getattr(Mechanism, f"ECDSA_SHA{bits}"), Mechanism.ECDSA, {"raw_ecdsa": True}
    elif sig_alg.padding == "PSS":
        combined, bare = getattr(Mechanism, f"SHA{bits}_RSA_PKCS_PSS"), Mechanism.RSA_PKCS_PSS
        param = (hash_mech, getattr(MGF, f"SHA{bits}"), sig_alg.digest_length())
    else:
        combined, bare = getattr(Mechanism, f"SHA{bits}_RSA_PKCS"), Mechanism.RSA_PKCS
    if raw and combined in available:
        return SignPlan(combined, param, **plan)
    if bare not in available:
        raise LookupError(mechanism_name(bare))
    return SignPlan(bare, param, prehash=True, digest_info=bare == Mechanism.RSA_PKCS, **plan)
