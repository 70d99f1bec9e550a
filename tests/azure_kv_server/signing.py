"""Key Vault's sign and verify on a digest, with real crypto and the service's own checks.

RS*/PS* take any RSA key (PSS with salt = hash length); ES256/ES384/ES512 take only a
P-256/P-384/P-521 key; the value must be exactly the hash's length; ES* signatures are
raw r||s.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from . import jwk as J
from .errors import bad

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
ES_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


def _scheme(alg, private_key, kty: str, digest: bytes):
    """(hash, RSA padding or None for ECDSA) for ``alg`` on this key, after Key Vault's checks."""
    if not isinstance(alg, str) or alg[:2] not in ("RS", "PS", "ES") or alg[2:] not in HASHES:
        raise bad(f"The algorithm {str(alg)[:20]!r} is not supported for signing.")
    chosen = HASHES[alg[2:]]()
    is_rsa = isinstance(private_key, rsa.RSAPrivateKey)
    if is_rsa != (alg[:2] in ("RS", "PS")):
        raise bad(f"Key and algorithm are not compatible: {alg} cannot be used with a {kty} key.")
    if not is_rsa and J.curve_name(private_key) != ES_CURVES[alg]:
        raise bad(f"{alg} requires a {ES_CURVES[alg]} key; this key uses {J.curve_name(private_key)}.")
    if len(digest) != chosen.digest_size:
        raise bad(f"Invalid digest length {len(digest)} for {alg}: expected {chosen.digest_size} bytes.")
    if alg.startswith("PS"):
        return chosen, padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
    return chosen, padding.PKCS1v15() if is_rsa else None


def sign(alg, private_key, kty: str, digest: bytes) -> bytes:
    chosen, pad = _scheme(alg, private_key, kty, digest)
    if pad is not None:
        return private_key.sign(digest, pad, Prehashed(chosen))
    return J.der_to_raw(private_key.sign(digest, ec.ECDSA(Prehashed(chosen))), private_key)


def verify(alg, private_key, kty: str, digest: bytes, signature: bytes) -> bool:
    chosen, pad = _scheme(alg, private_key, kty, digest)
    public = private_key.public_key()
    try:
        if pad is not None:
            public.verify(signature, digest, pad, Prehashed(chosen))
        else:
            public.verify(J.raw_to_der(signature, private_key), digest, ec.ECDSA(Prehashed(chosen)))
    except (InvalidSignature, ValueError):
        return False
    return True
