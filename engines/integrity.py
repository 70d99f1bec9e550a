"""Whether key material, its record and a signature belong together (DESIGN §7.2).

A signature must come only from the recorded key. Three questions answer that, and
each has a function here: does the recorded ``key_id`` name the recorded public key
(``key_id_matches``), does the material an engine holds have the recorded public key
(``require_same_key``, used by every driver's ``prove``), and was a signature made by
the recorded key (``made_by``).

Key ids: a 64-hex id is Lamassu's SHA-256 of the DER SubjectPublicKeyInfo and is
checked exactly. A 40-hex id is a legacy one, the hex of a certificate's Subject Key
Identifier; RFC 5280 leaves the SKI method to the issuer, so it is checked against the
160-bit methods the RFCs name (RFC 5280 §4.2.1.2 method 1; RFC 7093 §2 methods 1 to 4
truncated or sized to 160 bits). An SKI made any other way cannot be told from a
forged id, and is refused like one. Any other id is refused.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from . import algorithms as A
from . import keys as K
from .errors import KeyIntegrityError

_HEX = frozenset("0123456789abcdef")


def _bit_string(spki: bytes) -> bytes:
    """Walk the DER SEQUENCE { AlgorithmIdentifier, BIT STRING } and return the BIT STRING's key bytes."""

    def header(data: bytes, at: int) -> tuple[int, int]:  # (content start, content length)
        length = data[at + 1]
        if length < 0x80:
            return at + 2, length
        count = length & 0x7F
        return at + 2 + count, int.from_bytes(data[at + 2:at + 2 + count], "big")

    start, _ = header(spki, 0)  # the outer SEQUENCE
    algo_start, algo_len = header(spki, start)
    bits_at = algo_start + algo_len
    bits_start, bits_len = header(spki, bits_at)
    return spki[bits_start + 1:bits_start + bits_len]  # the first octet counts unused bits


def legacy_ids(public_key: PublicKeyTypes) -> set[str]:
    """The 40-hex SKI-style ids this public key may legitimately carry (see the module docstring)."""
    spki = K.spki_der(public_key)
    bits = _bit_string(spki)
    return {
        hashlib.sha1(bits).hexdigest(),  # noqa: S324 - RFC 5280 method 1 names SHA-1; an id, not a MAC
        hashlib.sha256(bits).hexdigest()[:40],
        hashlib.sha384(bits).hexdigest()[:40],
        hashlib.sha512(bits).hexdigest()[:40],
        hashlib.sha1(spki).hexdigest(),  # noqa: S324 - RFC 7093 method 4 with SHA-1
    }


def key_id_matches(key_id: object, public_key: PublicKeyTypes) -> bool:
    """Whether a recorded key id names this public key (64 hex exactly; 40 hex by the SKI methods)."""
    if not isinstance(key_id, str) or not set(key_id) <= _HEX:
        return False
    if len(key_id) == 64:
        return key_id == K.key_id_of(public_key)
    if len(key_id) == 40:
        return key_id in legacy_ids(public_key)
    return False


def require_same_key(engine_id: str, ref: object, held: PublicKeyTypes, expected: PublicKeyTypes) -> None:
    """``KeyIntegrityError`` unless the key an engine holds at ``ref`` is the expected one.

    The message names both keys by the start of their SHA-256 ids (public facts, never
    material) so that an operator can find which key took the other's place.
    """
    if K.spki_der(held) == K.spki_der(expected):
        return
    shown = repr(ref[:60] if isinstance(ref, str) else ref)
    raise KeyIntegrityError(
        f"Engine {engine_id!r} holds key {K.key_id_of(held)[:16]}… at {shown}, not the recorded key "
        f"{K.key_id_of(expected)[:16]}…: the record or the engine was changed, and the key is not used.",
        hint="Compare the record with a backup and with the engine; kms-tui doctor --deep lists every such key.",
    )


def made_by(public_key: K.PublicKey, sig_alg: A.SigningAlgorithm, data: bytes,
            message_type: A.MessageType | str, signature: bytes) -> bool:
    """Whether ``signature`` over ``data`` was made by the private half of ``public_key``.

    Unlike ``keys.verify_with`` this asks which key signed, not whether the signature
    follows the requested parameters: an RSA-PSS signature of any salt length counts
    (AWS KMS uses the hash length, its emulator the maximum).
    """
    if sig_alg.padding != "PSS" or not isinstance(public_key, rsa.RSAPublicKey):
        return K.verify_with(public_key, sig_alg, data, message_type, signature)
    digest = A.prepare_digest(sig_alg, data, message_type)
    scheme = padding.PSS(mgf=padding.MGF1(sig_alg.hasher()), salt_length=padding.PSS.AUTO)
    try:
        public_key.verify(signature, digest, scheme, Prehashed(sig_alg.hasher()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


__all__ = ["key_id_matches", "legacy_ids", "made_by", "require_same_key"]
