"""JSON Web Keys and signature encodings as Key Vault speaks them (RFC 7517/7518).

Base64url without padding everywhere; EC coordinates and ``d`` at the curve's fixed
width; ES* signatures as raw r||s of that width.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from .errors import bad

CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_WIDTH = {"P-256": 32, "P-384": 48, "P-521": 66}
_RSA_PRIVATE = ("d", "p", "q")


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(value: Any, member: str) -> bytes:
    if not isinstance(value, str):
        raise bad(f"The '{member}' member must be a base64url string.")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise bad(f"The '{member}' member is not valid base64url.") from None


def _int(jwk: dict[str, Any], member: str) -> int:
    if member not in jwk:
        raise bad(f"The JSON Web Key is missing '{member}'.")
    return int.from_bytes(b64u_decode(jwk[member], member), "big")


def _int_bytes(value: int, width: int | None = None) -> bytes:
    return value.to_bytes(width or max(1, (value.bit_length() + 7) // 8), "big")


def curve_name(key) -> str:
    return _CURVE_NAMES.get(key.curve.name, key.curve.name)


def default_ops(kty: str) -> list[str]:
    if kty.startswith("RSA"):
        return ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]
    return ["sign", "verify"]


def public_jwk(private_key, kty: str) -> dict[str, Any]:
    """The public members Key Vault returns for a key (never a private member)."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        numbers = private_key.public_key().public_numbers()
        return {"kty": kty, "n": b64u(_int_bytes(numbers.n)), "e": b64u(_int_bytes(numbers.e))}
    crv = curve_name(private_key)
    numbers = private_key.public_key().public_numbers()
    width = _WIDTH[crv]
    return {"kty": kty, "crv": crv, "x": b64u(_int_bytes(numbers.x, width)), "y": b64u(_int_bytes(numbers.y, width))}


def private_key_from_jwk(jwk: dict[str, Any]):
    """A cryptography private key from an import request's JWK; 400 BadParameter when unusable."""
    kty = jwk.get("kty")
    try:
        if kty in ("RSA", "RSA-HSM"):
            if not all(m in jwk for m in _RSA_PRIVATE):
                raise bad("The key to import must contain its private members (d, p, q).")
            public = rsa.RSAPublicNumbers(_int(jwk, "e"), _int(jwk, "n"))
            p, q, d = _int(jwk, "p"), _int(jwk, "q"), _int(jwk, "d")
            numbers = rsa.RSAPrivateNumbers(
                p, q, d,
                _int(jwk, "dp") if "dp" in jwk else rsa.rsa_crt_dmp1(d, p),
                _int(jwk, "dq") if "dq" in jwk else rsa.rsa_crt_dmq1(d, q),
                _int(jwk, "qi") if "qi" in jwk else rsa.rsa_crt_iqmp(p, q),
                public,
            )
            return numbers.private_key()
        if kty in ("EC", "EC-HSM"):
            crv = jwk.get("crv")
            if crv not in CURVES:
                raise bad(f"The curve {str(crv)[:20]!r} is not supported.")
            if "d" not in jwk:
                raise bad("The key to import must contain its private member d.")
            public = ec.EllipticCurvePublicNumbers(_int(jwk, "x"), _int(jwk, "y"), CURVES[crv]())
            return ec.EllipticCurvePrivateNumbers(_int(jwk, "d"), public).private_key()
    except ValueError:
        raise bad("The key to import is not a valid key: its members do not fit together.") from None
    raise bad(f"The key type {str(kty)[:20]!r} cannot be imported.")


def der_to_raw(signature: bytes, key) -> bytes:
    width = _WIDTH[curve_name(key)]
    r, s = decode_dss_signature(signature)
    return _int_bytes(r, width) + _int_bytes(s, width)


def raw_to_der(signature: bytes, key) -> bytes:
    width = _WIDTH[curve_name(key)]
    if len(signature) != 2 * width:
        raise ValueError("wrong signature length")
    return encode_dss_signature(int.from_bytes(signature[:width], "big"), int.from_bytes(signature[width:], "big"))
