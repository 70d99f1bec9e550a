"""X.509 objects signed by a key that never leaves its engine: drafted with a throwaway key, re-signed.

cryptography's builders sign only with their own key objects. So an object is built once with
a throwaway key of the same family (which gives the to-be-signed bytes and the right
signatureAlgorithm; for ML-DSA the same parameter set, as id-ml-dsa-44/65/87 name it, RFC 9881),
the engine signs those bytes, and the DER is re-assembled as
SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }. A CSR's request info carries the
throwaway's SubjectPublicKeyInfo, so it is rebuilt around the real key first. The CSR service
and the ceremony's certificate, CSR and CRL builders use these pieces; each checks the result
against the signing key before anyone writes it.
"""

from __future__ import annotations

import functools
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from engines import algorithms as A
from engines import keys as K
from engines.mldsa import MLDSAPrivateKey, ml_dsa_size

Throwaway = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | MLDSAPrivateKey
# Algorithms that sign the message itself: no hash is chosen, the signatureAlgorithm names none.
PURE = (A.ED25519, A.ML_DSA)


def throwaway(key_algorithm: str, size: int | None = None) -> Throwaway:
    """A key of the family, only to learn the encoding; it never signs anything handed out (so its
    size, which shows nowhere in what is kept, is the quickest to make). ML-DSA's parameter set
    (``size``) is in the signatureAlgorithm, so it is the key's own; other families ignore ``size``."""
    return _throwaway(key_algorithm, size if key_algorithm == A.ML_DSA else None)


@functools.cache
def _throwaway(key_algorithm: str, size: int | None) -> Throwaway:
    if key_algorithm == A.RSA:
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if key_algorithm == A.ECDSA:
        return ec.generate_private_key(ec.SECP256R1())
    if key_algorithm == A.ML_DSA:
        return K.generate(A.ML_DSA, size or 0)  # an unknown parameter set, or no ML-DSA here, is named
    return ed25519.Ed25519PrivateKey.generate()


def parameter_set(public_key: Any) -> int | None:
    """The ML-DSA parameter set (44, 65, 87) of ``public_key``; None for any other kind of key."""
    return ml_dsa_size(public_key)


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def elements(der: bytes) -> list[bytes]:
    """The encoded elements of the outer SEQUENCE (definite lengths, as DER has them)."""
    def head(at: int) -> tuple[int, int]:
        first = der[at + 1]
        if first < 0x80:
            return at + 2, first
        count = first & 0x7F
        return at + 2 + count, int.from_bytes(der[at + 2: at + 2 + count], "big")

    if der[0] != 0x30:
        raise ValueError("not a SEQUENCE")
    start, size = head(0)
    out, at = [], start
    while at < start + size:
        body, length = head(at)
        out.append(der[at: body + length])
        at = body + length
    return out


def signed(tbs: bytes, alg_el: bytes, signature: bytes) -> bytes:
    """SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }."""
    return tlv(0x30, tbs + alg_el + tlv(0x03, b"\x00" + signature))


def resign(draft: bytes, tbs: bytes, signature: bytes) -> bytes:
    """The drafted object (whose TBS is ``tbs``) with the engine's ``signature`` in place of the throwaway's."""
    tbs_el, alg_el, _ = elements(draft)
    if tbs_el != tbs:
        raise ValueError("the builder's TBS bytes are not where they were expected")
    return signed(tbs, alg_el, signature)


def request_info(draft: bytes, public_key: K.PublicKey) -> tuple[bytes, bytes]:
    """A drafted CSR's CertificationRequestInfo rebuilt around ``public_key``, and its signatureAlgorithm."""
    info_el, alg_el, _ = elements(draft)
    version, subject_el, _spki, attributes = elements(info_el)
    return tlv(0x30, version + subject_el + K.spki_der(public_key) + attributes), alg_el
