"""ML-DSA (FIPS 204) key objects through ``cryptography``, and the one place its absence is said.

``cryptography`` has ML-DSA only when built against a library that has it (OpenSSL 3.5 or
later, AWS-LC, BoringSSL); elsewhere its ML-DSA calls raise ``UnsupportedAlgorithm`` and
``MLDSAMuHasher`` is not defined at all. Every ML-DSA call that can meet that goes through
``_backend`` here and becomes one ``UnsupportedKeyType`` naming what is needed, never a crash.
The key classes themselves are defined in every build (what is checked with ``isinstance``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import TypeGuard

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import mldsa as _mldsa

from .errors import UnsupportedKeyType

SIZES = (44, 65, 87)
MU_BYTES = 64
# The DER OIDs id-ml-dsa-44/65/87 (2.16.840.1.101.3.4.3.17-19) without their last byte.
_OID_HEAD = bytes.fromhex("06096086480165030403")
_OID_LAST = (0x11, 0x12, 0x13)

MLDSAPrivateKey = _mldsa.MLDSA44PrivateKey | _mldsa.MLDSA65PrivateKey | _mldsa.MLDSA87PrivateKey
MLDSAPublicKey = _mldsa.MLDSA44PublicKey | _mldsa.MLDSA65PublicKey | _mldsa.MLDSA87PublicKey
# For isinstance: narrows both ways, as a check of one class does.
ML_DSA_PRIVATE_TYPES = (_mldsa.MLDSA44PrivateKey, _mldsa.MLDSA65PrivateKey, _mldsa.MLDSA87PrivateKey)
ML_DSA_PUBLIC_TYPES = (_mldsa.MLDSA44PublicKey, _mldsa.MLDSA65PublicKey, _mldsa.MLDSA87PublicKey)
_PRIVATE_BY_SIZE: dict[int, type[MLDSAPrivateKey]] = dict(zip(SIZES, ML_DSA_PRIVATE_TYPES, strict=True))
_PUBLIC_BY_SIZE: dict[int, type[MLDSAPublicKey]] = dict(zip(SIZES, ML_DSA_PUBLIC_TYPES, strict=True))


def ml_dsa_unavailable() -> UnsupportedKeyType:
    """The error for ML-DSA on a ``cryptography`` that cannot do it: what it is and what is needed."""
    import cryptography

    return UnsupportedKeyType(
        f"ML-DSA keys need a cryptography built with ML-DSA support; this one ({cryptography.__version__}) "
        "has none.",
        hint="Install cryptography 50 or later from its wheels (built with OpenSSL 3.5), or build it against "
             "OpenSSL 3.5 or later, AWS-LC or BoringSSL.",
    )


def ml_dsa_unreadable() -> UnsupportedKeyType:
    """The error for key data that names ML-DSA but is not read: no ML-DSA here, or a form not read."""
    try:
        ml_dsa_private_from_seed(44, bytes(32))
    except UnsupportedKeyType as missing:
        return missing
    return UnsupportedKeyType(
        "This ML-DSA key is in a form that cannot be read: a private key is read as its 32-byte seed (the "
        "seed form of RFC 9881), not as an expanded private key; a public key as a whole SubjectPublicKeyInfo.",
        hint="Export the private key in its seed form (OpenSSL 3.5: the ml-dsa.output_formats parameter set to "
             "seed-only); a key kept without its seed cannot be imported.",
    )


@contextlib.contextmanager
def _backend() -> Iterator[ModuleType]:
    """The ``mldsa`` module, with ``UnsupportedAlgorithm`` inside the block turned into ``ml_dsa_unavailable``."""
    if not hasattr(_mldsa, "MLDSAMuHasher"):  # defined only where the library has ML-DSA
        raise ml_dsa_unavailable()
    try:
        yield _mldsa
    except UnsupportedAlgorithm:
        raise ml_dsa_unavailable() from None


def ml_dsa_size(key: object) -> int | None:
    """44, 65 or 87 for an ML-DSA public or private key; None for any other object."""
    for table in (_PUBLIC_BY_SIZE, _PRIVATE_BY_SIZE):
        for size, cls in table.items():
            if isinstance(key, cls):
                return size
    return None


def is_ml_dsa_public(key: object) -> TypeGuard[MLDSAPublicKey]:
    return isinstance(key, ML_DSA_PUBLIC_TYPES)


def is_ml_dsa_private(key: object) -> TypeGuard[MLDSAPrivateKey]:
    return isinstance(key, ML_DSA_PRIVATE_TYPES)


def _check_size(size: int) -> int:
    if size not in SIZES:
        raise UnsupportedKeyType(f"ML-DSA has the parameter sets 44, 65 and 87, not {size}.")
    return size


def ml_dsa_generate(size: int) -> MLDSAPrivateKey:
    """A new ML-DSA-``size`` private key."""
    with _backend():
        return _PRIVATE_BY_SIZE[_check_size(size)].generate()


def ml_dsa_private_from_seed(size: int, seed: bytes) -> MLDSAPrivateKey:
    """The ML-DSA-``size`` private key of a 32-byte FIPS 204 seed."""
    with _backend():
        try:
            return _PRIVATE_BY_SIZE[_check_size(size)].from_seed_bytes(seed)
        except ValueError:
            raise UnsupportedKeyType(f"This is not an ML-DSA-{size} seed (32 bytes).") from None


def ml_dsa_public_from_bytes(size: int, raw: bytes) -> MLDSAPublicKey:
    """The ML-DSA-``size`` public key of its raw FIPS 204 encoding."""
    with _backend():
        try:
            return _PUBLIC_BY_SIZE[_check_size(size)].from_public_bytes(raw)
        except ValueError:
            raise UnsupportedKeyType(f"This is not an ML-DSA-{size} public key ({len(raw)} bytes).") from None


def ml_dsa_mu(public_key: object, chunks: Iterable[bytes]) -> bytes:
    """FIPS 204 mu (64 bytes) of the message given as ``chunks``, for ``public_key``, empty context.

    What ``--message-type external-mu`` signs: a file of any size is hashed here, a chunk at
    a time, and only these 64 bytes go to the signer.
    """
    if not is_ml_dsa_public(public_key):
        raise UnsupportedKeyType("An external mu is made for an ML-DSA public key only.")
    with _backend() as module:
        hasher = module.MLDSAMuHasher(public_key)
        for chunk in chunks:
            hasher.update(chunk)
        mu: bytes = hasher.finalize()
    return mu


def ml_dsa_oid_in(data: bytes) -> bool:
    """Whether key data (DER, or PEM whose body is read here) names an ML-DSA algorithm."""
    import base64
    import binascii

    blobs = [data]
    if b"-----BEGIN" in data:
        body = b"".join(line for line in data.splitlines() if line and not line.startswith(b"-----"))
        with contextlib.suppress(binascii.Error, ValueError):  # not base64 after all: the raw bytes only
            blobs.append(base64.b64decode(body))
    return any(_OID_HEAD + bytes((last,)) in blob for blob in blobs for last in _OID_LAST)


__all__ = [
    "ML_DSA_PRIVATE_TYPES", "ML_DSA_PUBLIC_TYPES", "MU_BYTES", "MLDSAPrivateKey", "MLDSAPublicKey", "SIZES", "is_ml_dsa_private", "is_ml_dsa_public",
    "ml_dsa_generate", "ml_dsa_mu", "ml_dsa_oid_in", "ml_dsa_private_from_seed", "ml_dsa_public_from_bytes",
    "ml_dsa_size", "ml_dsa_unavailable", "ml_dsa_unreadable",
]
