"""The algorithm and strength vocabulary the front ends use, as the service hands it out.

Pure facts and checks (names, sizes, signing algorithms, strength): no engine, no I/O.
Screens, wizards, the CLI and ceremonies import these from here, never from ``engines``.
"""

from __future__ import annotations

from engines.algorithms import (
    DSA,
    ECDSA,
    ECDSA_SIZES,
    ED25519,
    ED25519_SIZES,
    HIGH,
    KEY_ALGORITHMS,
    LOW,
    MEDIUM,
    ML_DSA,
    ML_DSA_SIZES,
    NIST_NAME,
    RSA,
    RSA_CREATE_SIZES,
    SIGNING_ALGORITHMS,
    MessageType,
    SigningAlgorithm,
    algorithms_for_key,
    check_fits,
    check_message,
    display_name,
    normalise_algorithm,
    signing_algorithm,
    strength,
    strength_reason,
    validate_spec,
)

__all__ = [
    "DSA", "ECDSA", "ECDSA_SIZES", "ED25519", "ED25519_SIZES", "HIGH", "KEY_ALGORITHMS", "LOW", "MEDIUM", "ML_DSA",
    "ML_DSA_SIZES", "NIST_NAME", "RSA",
    "RSA_CREATE_SIZES", "SIGNING_ALGORITHMS", "MessageType", "SigningAlgorithm", "algorithms_for_key", "check_fits",
    "check_message", "display_name", "normalise_algorithm", "signing_algorithm", "strength", "strength_reason", "validate_spec",
]
