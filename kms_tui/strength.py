"""Key-size guidance by PKI role, beside the spec's HIGH/MEDIUM/LOW classification.

The longer a key must be trusted, the stronger it must be: a root CA key lives
for decades, an issuing CA's for years, a device key for the life of one
certificate. The guidance follows the Lamassu KMS documentation's key-size
advice (itself NIST SP 800-57 and CA/Browser Forum practice). ML-DSA (FIPS 204)
fits every role; for roots CNSA 2.0 asks ML-DSA-87 (``service.quantum``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .service.algorithms import ECDSA, ED25519, RSA, strength
from .service.quantum import ML_DSA, ROOT, SUGGESTED_ML_DSA, display_name


@dataclass(frozen=True)
class RoleAdvice:
    role: str
    fits: bool
    advice: str


# What keeps a key, by the engine's security level: the level a role needs says where its key must live.
LEVEL_NAMES = {0: "software (SL0)", 1: "a managed KMS (SL1)", 2: "an HSM (SL2)"}

# role -> (minimum RSA bits, minimum ECDSA curve size, Ed25519 acceptable, minimum security level, recommendation)
ROLES = (
    ("Root CA", 4096, 384, True, 2, "RSA 4096 or ECDSA P-384/P-521, on an HSM (SL2)"),
    ("Intermediate CA", 3072, 384, True, 1, "RSA 3072/4096 or ECDSA P-384"),
    ("Issuing CA", 3072, 256, True, 1, "RSA 3072 or ECDSA P-384 (P-256 for short-lived hierarchies)"),
    ("Device", 2048, 256, True, 0, "ECDSA P-256 or Ed25519 (RSA 2048 where devices need it)"),
)


def _strong_enough(algorithm: str, size: int, min_rsa: int, min_ec: int, ed_ok: bool) -> bool:
    if algorithm == RSA:
        return size >= min_rsa
    if algorithm == ECDSA:
        return size >= min_ec
    if algorithm == ML_DSA:
        return True  # every parameter set is HIGH (categories 2, 3, 5); the root's choice is a note
    return ed_ok if algorithm == ED25519 else False


def _fit_note(role: str, algorithm: str, size: int) -> str:
    """"suitable", with CNSA 2.0's parameter set for a root when an ML-DSA key is not it."""
    root_set = SUGGESTED_ML_DSA[ROOT]
    if algorithm == ML_DSA and role == "Root CA" and size != root_set:
        return f"suitable; CNSA 2.0 asks {display_name(ML_DSA, root_set)} for roots"
    return "suitable"


def level_name(security_level: int) -> str:
    return LEVEL_NAMES.get(security_level, f"SL{security_level}")


def role_advice(algorithm: str, size: int, security_level: int | None = None) -> list[RoleAdvice]:
    """For each PKI role: whether this key is fit for it, and what to use instead.

    Fitness is the key's size and, when ``security_level`` (the engine's) is given, where
    the key lives: a root CA key held in software is not fit, however long it is.
    """
    out = []
    for role, min_rsa, min_ec, ed_ok, min_level, recommendation in ROLES:
        if not _strong_enough(algorithm, size, min_rsa, min_ec, ed_ok):
            out.append(RoleAdvice(role, False, f"use {recommendation}"))
        elif security_level is not None and security_level < min_level:
            # Strong enough (a short key's advice names a longer one), but kept where the role may not be:
            # one line in an 80-column strength panel.
            out.append(RoleAdvice(role, False, f"held in {level_name(security_level)}: "
                                               f"needs {level_name(min_level)}"))
        else:
            out.append(RoleAdvice(role, True, _fit_note(role, algorithm, size)))
    return out


def stronger_choice(algorithm: str, size: int) -> str | None:
    """A concrete stronger key when this one is not HIGH, else None."""
    if strength(algorithm, size) == "HIGH":
        return None
    if algorithm == RSA:
        return "RSA 3072 (or 4096 for a root CA), or ECDSA P-384"
    if algorithm == ECDSA:
        return "ECDSA P-384 (or P-521)"
    return "ECDSA P-384 or Ed25519"
