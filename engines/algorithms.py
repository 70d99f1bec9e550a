"""Algorithm tables and the pure logic around them.

Key algorithms and sizes, signing algorithm names (as Lamassu and AWS KMS spell
them), RAW/DIGEST message handling with digest-length checks, key strength
classification, and signing/verification with ``cryptography`` objects that
every software-backed driver and the offline verifier share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from .errors import AlgorithmMismatch, DigestLengthError, InvalidInput, UnsupportedKeyType

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.hashes import HashAlgorithm

RSA = "RSA"
ECDSA = "ECDSA"
ED25519 = "Ed25519"
DSA = "DSA"
ML_DSA = "ML-DSA"

KEY_ALGORITHMS = (RSA, ECDSA, ED25519, DSA, ML_DSA)

# Sizes an engine may offer to create. Import accepts RSA from 1024 bits.
RSA_CREATE_SIZES = (2048, 3072, 4096)
RSA_MIN_IMPORT_SIZE = 1024
ECDSA_SIZES = (224, 256, 384, 521)
ED25519_SIZES = (256,)
# FIPS 204 parameter sets; the "size" of an ML-DSA key is its parameter set.
ML_DSA_SIZES = (44, 65, 87)
# NIST security category of each parameter set (FIPS 204, Table 1).
ML_DSA_CATEGORY = {44: 2, 65: 3, 87: 5}

CURVE_BY_SIZE = {224: "secp224r1", 256: "secp256r1", 384: "secp384r1", 521: "secp521r1"}
SIZE_BY_CURVE = {name: size for size, name in CURVE_BY_SIZE.items()}
NIST_NAME = {224: "P-224", 256: "P-256", 384: "P-384", 521: "P-521"}


def normalise_algorithm(name: str) -> str:
    """Map user spellings (rsa, ec, ecdsa, ed25519, eddsa) to the canonical name."""
    table = {"rsa": RSA, "ecdsa": ECDSA, "ec": ECDSA, "ed25519": ED25519, "eddsa": ED25519, "dsa": DSA,
             "ml-dsa": ML_DSA, "mldsa": ML_DSA, "ml_dsa": ML_DSA}
    try:
        return table[str(name).strip().lower()]
    except KeyError:
        raise UnsupportedKeyType(
            f"Unknown key algorithm {name!r}.", hint="Use RSA, ECDSA, Ed25519 or ML-DSA."
        ) from None


def display_name(algorithm: str, size: int) -> str:
    """How a key's type is shown: "ML-DSA-65", "ECDSA P-256", "RSA 3072", "Ed25519"."""
    if algorithm == ML_DSA:
        return f"ML-DSA-{size}"
    if algorithm == ECDSA:
        return f"ECDSA {NIST_NAME.get(size, size)}"
    if algorithm == ED25519:
        return ED25519
    return f"{algorithm} {size}"


class MessageType(str, Enum):  # noqa: UP042 - StrEnum would change str() of members
    RAW = "RAW"
    DIGEST = "DIGEST"
    # FIPS 204 mu: the 64-byte SHAKE256 of the public key's hash and the message (AWS KMS "EXTERNAL_MU").
    EXTERNAL_MU = "EXTERNAL_MU"

    @classmethod
    def parse(cls, value: str | MessageType) -> MessageType:
        try:
            return cls(str(value.value if isinstance(value, cls) else value).upper().replace("-", "_"))
        except ValueError:
            raise InvalidInput(f"Unknown message type {value!r}: use raw, digest or external-mu.") from None


@dataclass(frozen=True)
class SigningAlgorithm:
    name: str
    key_algorithm: str
    hash_name: str | None  # None for Ed25519 and ML-DSA (the message itself is signed)
    padding: str | None = None  # "PKCS1v15" | "PSS" for RSA

    @property
    def digest_size(self) -> int | None:
        return hashlib.new(self.hash_name).digest_size if self.hash_name else None

    def digest_hash(self) -> str:
        """The hashlib name of the hash a digest is made with; ``InvalidInput`` for pure EdDSA."""
        if self.hash_name is None:
            raise InvalidInput(f"{self.name} signs the message itself, not a digest.")
        return self.hash_name

    def digest_length(self) -> int:
        """Bytes in a digest of this algorithm's hash; ``InvalidInput`` for pure EdDSA."""
        return hashlib.new(self.digest_hash()).digest_size

    def hasher(self) -> HashAlgorithm:
        from cryptography.hazmat.primitives import hashes

        made: dict[str, Callable[[], HashAlgorithm]] = {
            "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
        }
        return made[self.digest_hash()]()


SIGNING_ALGORITHMS: dict[str, SigningAlgorithm] = {}
for _bits in (256, 384, 512):
    for _alg in (
        SigningAlgorithm(f"RSASSA_PKCS1_V1_5_SHA_{_bits}", RSA, f"sha{_bits}", "PKCS1v15"),
        SigningAlgorithm(f"RSASSA_PSS_SHA_{_bits}", RSA, f"sha{_bits}", "PSS"),
        SigningAlgorithm(f"ECDSA_SHA_{_bits}", ECDSA, f"sha{_bits}"),
    ):
        SIGNING_ALGORITHMS[_alg.name] = _alg
SIGNING_ALGORITHMS["ED25519"] = SigningAlgorithm("ED25519", ED25519, None)
# Pure ML-DSA (FIPS 204), named as AWS KMS names it: the message is signed, SHAKE256 inside.
SIGNING_ALGORITHMS["ML_DSA_SHAKE_256"] = SigningAlgorithm("ML_DSA_SHAKE_256", ML_DSA, None)
MU_LENGTH = 64


def signing_algorithm(name: str) -> SigningAlgorithm:
    try:
        return SIGNING_ALGORITHMS[str(name).strip().upper()]
    except KeyError:
        raise InvalidInput(
            f"Unknown signing algorithm {name!r}.",
            hint="Known: " + ", ".join(SIGNING_ALGORITHMS) + ".",
        ) from None


def algorithms_for_key(algorithm: str) -> list[str]:
    """Signing algorithms that fit a key of this algorithm."""
    return [a.name for a in SIGNING_ALGORITHMS.values() if a.key_algorithm == algorithm]


def check_fits(sig_alg: SigningAlgorithm, key_algorithm: str, key_size: int | None = None) -> None:
    if sig_alg.key_algorithm != key_algorithm:
        raise AlgorithmMismatch(
            f"{sig_alg.name} cannot be used with a {key_algorithm} key.",
            hint="Fitting algorithms: " + ", ".join(algorithms_for_key(key_algorithm)) + "." if key_algorithm in (RSA, ECDSA, ED25519, ML_DSA) else None,
        )
    if sig_alg.padding == "PSS" and key_size is not None:
        # EMSA-PSS needs emLen >= hLen + sLen + 2 with salt = hash length.
        needed = 2 * sig_alg.digest_length() + 2
        if (key_size + 7) // 8 < needed:
            raise AlgorithmMismatch(f"A {key_size}-bit RSA key is too small for {sig_alg.name}.")


def prepare_digest(sig_alg: SigningAlgorithm, data: bytes, message_type: MessageType | str) -> bytes:
    """The digest to sign: hash RAW data, check a DIGEST's length. Not for Ed25519."""
    hash_name = sig_alg.digest_hash()
    if MessageType.parse(message_type) is MessageType.RAW:
        return hashlib.new(hash_name, data).digest()
    if len(data) != sig_alg.digest_size:
        raise DigestLengthError(
            f"{sig_alg.name} needs a {sig_alg.digest_size}-byte {hash_name.upper()} digest; "
            f"got {len(data)} bytes."
        )
    return data


def check_message(sig_alg: SigningAlgorithm, data: bytes, message_type: MessageType | str) -> None:
    """Validate a message before it reaches any engine."""
    mt = MessageType.parse(message_type)
    if mt is MessageType.EXTERNAL_MU:
        if sig_alg.key_algorithm != ML_DSA:
            raise InvalidInput(f"{sig_alg.name} has no external mu: it is an ML-DSA message type.")
        if len(data) != MU_LENGTH:
            raise DigestLengthError(f"An ML-DSA external mu is {MU_LENGTH} bytes; got {len(data)} bytes.")
        return
    if sig_alg.hash_name is None:
        if mt is MessageType.DIGEST:
            raise InvalidInput(
                f"{sig_alg.name} signs the whole message, not a digest: use message type raw"
                + (" (or external-mu, hashed here with the public key)." if sig_alg.key_algorithm == ML_DSA else ".")
            )
        return
    prepare_digest(sig_alg, data, mt)


# ---------------------------------------------------------------- strength

HIGH, MEDIUM, LOW = "HIGH", "MEDIUM", "LOW"


def strength(algorithm: str, size: int) -> str:
    """Key strength exactly as the Lamassu KMS spec classifies it."""
    if algorithm == RSA:
        return HIGH if size >= 3072 else MEDIUM if size >= 2048 else LOW
    if algorithm == ECDSA:
        return HIGH if size >= 384 else MEDIUM if size >= 256 else LOW
    if algorithm in (ED25519, ML_DSA):
        return HIGH
    return LOW


def strength_reason(algorithm: str, size: int) -> str:
    """One sentence saying why a key has its strength, and what would raise it."""
    level = strength(algorithm, size)
    if algorithm == DSA:
        return "DSA is a legacy algorithm and is always LOW; move to ECDSA P-384 or Ed25519."
    if algorithm == ED25519:
        return "Ed25519 gives about 128-bit security and is rated HIGH."
    if algorithm == ML_DSA:
        return (f"ML-DSA-{size} (FIPS 204, NIST security category {ML_DSA_CATEGORY.get(size, '?')}) "
                "is rated HIGH and resists quantum attacks.")
    if algorithm == RSA:
        if level == HIGH:
            return f"RSA {size} is at or above 3072 bits and is rated HIGH."
        if level == MEDIUM:
            return f"RSA {size} is rated MEDIUM; RSA 3072 or 4096 would be HIGH."
        return f"RSA {size} is below 2048 bits and is rated LOW; use RSA 3072 or more."
    if level == HIGH:
        return f"ECDSA {NIST_NAME.get(size, size)} is rated HIGH."
    if level == MEDIUM:
        return "ECDSA P-256 is rated MEDIUM; P-384 or P-521 would be HIGH."
    return f"ECDSA {NIST_NAME.get(size, size)} is below 256 bits and is rated LOW; use P-384."


class KeyTypes(dict[str, tuple[int, ...]]):
    """What an engine can create (algorithm -> sizes), with why it cannot create some others
    (``refused``: algorithm -> reason, e.g. the mechanism a token lacks)."""

    def __init__(self, offered: dict[str, tuple[int, ...]], refused: dict[str, str] | None = None):
        super().__init__(offered)
        self.refused = dict(refused or {})


def validate_spec(algorithm: str, size: int, supported: dict[str, tuple[int, ...]]) -> tuple[str, int]:
    """Check an (algorithm, size) request against what an engine can create."""
    algorithm = normalise_algorithm(algorithm)
    try:
        size = int(size)
    except (TypeError, ValueError):
        raise InvalidInput(f"Key size {size!r} is not a number.") from None
    if algorithm not in supported:
        reason = supported.refused.get(algorithm) if isinstance(supported, KeyTypes) else None
        raise UnsupportedKeyType(
            f"This engine cannot create {algorithm} keys" + (f": {reason}." if reason else "."),
            hint="It supports: " + ", ".join(supported) + ".",
        )
    if size not in supported[algorithm]:
        raise UnsupportedKeyType(
            f"This engine cannot create {algorithm} keys of size {size}.",
            hint="Sizes: " + ", ".join(str(s) for s in supported[algorithm]) + ".",
        )
    return algorithm, size
