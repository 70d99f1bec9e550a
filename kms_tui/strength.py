"""Key-size guidance by PKI role, beside the spec's HIGH/MEDIUM/LOW classification.

The longer a key must be trusted, the stronger it must be: a root CA key lives
for decades, an issuing CA's for years, a device key for the life of one
certificate. The guidance follows the Lamassu KMS documentation's key-size
advice (itself NIST SP 800-57 and CA/Browser Forum practice).
"""

from __future__ import annotations

from dataclasses import dataclass

from .service.algorithms import ECDSA, ED25519, RSA, strength


@dataclass(frozen=True)
class RoleAdvice:
    role: str
    fits: bool
    advice: str


# role -> (minimum RSA bits, minimum ECDSA curve size, Ed25519 acceptable, recommendation)
ROLES = (
    ("Root CA", 4096, 384, True, "RSA 4096 or ECDSA P-384/P-521, on an HSM (SL2)"),
    ("Intermediate CA", 3072, 384, True, "RSA 3072/4096 or ECDSA P-384"),
    ("Issuing CA", 3072, 256, True, "RSA 3072 or ECDSA P-384 (P-256 for short-lived hierarchies)"),
    ("Device", 2048, 256, True, "ECDSA P-256 or Ed25519 (RSA 2048 where devices need it)"),
)


def role_advice(algorithm: str, size: int) -> list[RoleAdvice]:
    """For each PKI role: whether this key is strong enough, and what to use instead."""
    out = []
    for role, min_rsa, min_ec, ed_ok, recommendation in ROLES:
        if algorithm == RSA:
            fits = size >= min_rsa
        elif algorithm == ECDSA:
            fits = size >= min_ec
        elif algorithm == ED25519:
            fits = ed_ok
        else:
            fits = False
        out.append(RoleAdvice(role, fits, "suitable" if fits else f"use {recommendation}"))
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
