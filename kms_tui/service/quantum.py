"""The quantum dimension of key strength: exposure, security strength, replace-by dates, ML-DSA suggestions.

Pure tables and functions (no store, no Textual), so every boundary has a plain unit test.

Sources:

- NIST IR 8547 ipd, *Transition to Post-Quantum Cryptography Standards* (initial public draft,
  November 2024), Table 2 (digital signatures): quantum-vulnerable RSA, ECDSA and EdDSA at 112
  bits of security are deprecated after 2030 and disallowed after 2035; at 128 bits or more they
  are disallowed after 2035.
- NIST SP 800-131A Rev. 2: signature generation below 112 bits (RSA-1024) is disallowed (since
  2014); FIPS 186-5 (2023) no longer approves DSA for signature generation.
- NIST SP 800-57 Part 1 Rev. 5, Table 2: security strength by RSA modulus and ECC curve size.
- FIPS 204: ML-DSA-44/65/87 are NIST security categories 2, 3 and 5.
- NSA CNSA 2.0 (Commercial National Security Algorithm Suite 2.0, September 2022, and its FAQ):
  ML-DSA-87 for national-security signatures, roots of trust included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from engines.algorithms import DSA, ECDSA, ED25519, ML_DSA, ML_DSA_CATEGORY, RSA, display_name, strength

QUANTUM_RESISTANT = (ML_DSA,)  # every other key algorithm here is broken by Shor's algorithm

DEPRECATED_112 = date(2030, 12, 31)  # IR 8547 ipd: 112-bit signatures deprecated after 2030
DISALLOWED_ALL = date(2035, 12, 31)  # IR 8547 ipd: every quantum-vulnerable signature disallowed after 2035
DISALLOWED_BELOW_112 = date(2013, 12, 31)  # SP 800-131A: below 112 bits disallowed after 2013
DISALLOWED_DSA = date(2023, 2, 3)  # FIPS 186-5 published: DSA no longer approved for signing
HORIZON = DEPRECATED_112  # how far a key's certificates outlive 2030 is counted from here

# RSA modulus (at least) -> security strength in bits (SP 800-57 Part 1 Rev. 5, Table 2), largest first.
# A modulus between two rows has at least the lower row's strength: RSA-4096 (about 152 bits) shows "≥128".
RSA_STRENGTH = ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80))
# ECC curve size -> bits: half the order's size (SP 800-57); P-521 counts as 256.
ECC_STRENGTH = {224: 112, 256: 128, 384: 192, 521: 256}
ML_DSA_STRENGTH = {2: 128, 3: 192, 5: 256}  # category -> comparable classical strength (FIPS 204 §3.5)

# Roles, as the report and the stats name them, most long-lived first.
ROOT, CA, END_ENTITY, OTHER, UNBOUND = "Root CA", "CA", "End entity", "Other binding", "Unbound"
ROLES = (ROOT, CA, END_ENTITY, OTHER, UNBOUND)
LONG_LIVED = (ROOT, CA)

# The ML-DSA parameter set suggested for a key of each role.
#   Root CA: ML-DSA-87 — CNSA 2.0 (the only ML-DSA set it approves; a root outlives what it signs).
#   CA: ML-DSA-65 — NIST category 3, the level of ECDSA P-384 that kms_tui.strength asks of
#       intermediate and issuing CAs (SP 800-57 comparable strengths); ML-DSA-87 under CNSA 2.0.
#   End entity: ML-DSA-44 — category 2, the level of P-256/Ed25519 advised for devices; short-lived.
#   Other binding / unbound: ML-DSA-65 — the role is unknown: the middle category.
# Under CNSA 2.0 (national-security systems) every role takes ML-DSA-87.
SUGGESTED_ML_DSA = {ROOT: 87, CA: 65, END_ENTITY: 44, OTHER: 65, UNBOUND: 65}


@dataclass(frozen=True)
class Exposure:
    """What quantum computers mean for one (algorithm, size), by NIST IR 8547 ipd."""

    algorithm: str
    size: int
    vulnerable: bool
    bits: int | None  # classical security strength; None when unknown
    label: str  # "112", "≥128", "category 3"
    category: int | None = None  # NIST PQC security category (ML-DSA only)
    deprecated_after: date | None = None
    disallowed_after: date | None = None
    already_disallowed: bool = False  # signing with it is disallowed today, quantum or not
    rule: str = ""  # the rule and source behind the dates

    @property
    def replace_by(self) -> date | None:
        """The first of the deprecation and disallowance dates: the key must be replaced by then."""
        dates = [d for d in (self.deprecated_after, self.disallowed_after) if d is not None]
        return min(dates) if dates else None

    @property
    def display(self) -> str:
        return display_name(self.algorithm, self.size)


def security_bits(algorithm: str, size: int) -> int | None:
    """Classical security strength in bits (SP 800-57), or the category's comparable strength for ML-DSA."""
    if algorithm in (RSA, DSA):  # DSA's L (the modulus) follows RSA's table
        return next((bits for modulus, bits in RSA_STRENGTH if size >= modulus), 0 if size else None)
    if algorithm == ECDSA:
        return ECC_STRENGTH.get(size, size // 2 if size else None)
    if algorithm == ED25519:
        return 128
    if algorithm == ML_DSA:
        return ML_DSA_STRENGTH.get(ML_DSA_CATEGORY.get(size, 0))
    return None


def strength_label(algorithm: str, size: int) -> str:
    """The strength as the report shows it: RSA between the table's rows shows "≥" (RSA-4096 is "≥128")."""
    if algorithm == ML_DSA:
        category = ML_DSA_CATEGORY.get(size)
        return f"category {category}" if category else "?"
    bits = security_bits(algorithm, size)
    if bits is None:
        return "?"
    if bits == 0:
        return "<80"
    exact = algorithm != RSA or any(size == modulus for modulus, _ in RSA_STRENGTH)
    return str(bits) if exact else f"≥{bits}"


def assess(algorithm: str, size: int) -> Exposure:
    """The exposure of a key of this algorithm and size."""
    bits = security_bits(algorithm, size)
    label = strength_label(algorithm, size)
    if algorithm in QUANTUM_RESISTANT:
        return Exposure(algorithm, size, False, bits, label, ML_DSA_CATEGORY.get(size),
                        rule="quantum-resistant (FIPS 204)")
    if algorithm == DSA:
        return Exposure(algorithm, size, True, bits, label, disallowed_after=DISALLOWED_DSA, already_disallowed=True,
                        rule="DSA signing withdrawn (FIPS 186-5)")
    if bits is None or bits < 112:
        return Exposure(algorithm, size, True, bits, label, disallowed_after=DISALLOWED_BELOW_112,
                        already_disallowed=True, rule="below 112 bits (SP 800-131A)")
    if bits < 128:
        return Exposure(algorithm, size, True, bits, label, deprecated_after=DEPRECATED_112,
                        disallowed_after=DISALLOWED_ALL,
                        rule="deprecated after 2030, disallowed after 2035 (NIST IR 8547 draft)")
    return Exposure(algorithm, size, True, bits, label, disallowed_after=DISALLOWED_ALL,
                    rule="disallowed after 2035 (NIST IR 8547 draft)")


def is_vulnerable(algorithm: str) -> bool:
    return algorithm not in QUANTUM_RESISTANT


def role_of(binding_types: set[str] | frozenset[str], has_certificate: bool, self_signed: bool) -> str:
    """A key's role from what the store knows of it (the stats count by the same rule, in SQL).

    A recorded self-signed certificate makes a root; a Lamassu ``ca`` binding a CA; any other
    recorded or bound certificate an end entity; any other binding "other".
    """
    if self_signed:
        return ROOT
    if "ca" in binding_types:
        return CA
    if has_certificate or "certificate" in binding_types:
        return END_ENTITY
    return OTHER if binding_types else UNBOUND


def suggested_ml_dsa(role: str) -> str:
    """The ML-DSA parameter set suggested for a key of this role ("ML-DSA-87")."""
    return display_name(ML_DSA, SUGGESTED_ML_DSA.get(role, SUGGESTED_ML_DSA[UNBOUND]))


def outlives_horizon(not_after: str | None) -> int | None:
    """Days a certificate ending at ``not_after`` (ISO UTC) outlives 2030-12-31; negative when it ends before."""
    if not not_after:
        return None
    try:
        ends = datetime.fromisoformat(not_after.replace("Z", "+00:00")).date()
    except ValueError:
        return None
    return (ends - HORIZON).days


def certificate_line(not_after: str | None) -> str | None:
    """How the key's latest certificate stands against 2030 ("outlives 2030 by 1826 days (ends …)"), or None."""
    days = outlives_horizon(not_after)
    if days is None or not_after is None:
        return None
    if days > 0:
        return f"outlives 2030 by {days} days (ends {not_after[:10]})"
    return f"ends by 2030 ({not_after[:10]})"


def quantum_cells(algorithm: str, size: int) -> tuple[str, str]:
    """The strength panel's row: a label ("Quantum" or "Quantum-vulnerable") and the rest of ``quantum_line``.

    The label carries "quantum-vulnerable", so the common case fits one line of an 80-column panel.
    """
    line = quantum_line(algorithm, size)
    if not assess(algorithm, size).vulnerable:
        return "Quantum", line
    return "Quantum-vulnerable", line.removeprefix("quantum-vulnerable").lstrip(":, ").removeprefix("and ")


def quantum_line(algorithm: str, size: int) -> str:
    """One sentence for the strength panel: resistant with its category, or vulnerable with its dates."""
    exposure = assess(algorithm, size)
    if not exposure.vulnerable:
        return f"{strength(algorithm, size)}, NIST category {exposure.category}, quantum-resistant"
    if exposure.already_disallowed:
        return f"quantum-vulnerable, and already disallowed: {exposure.rule}"
    if exposure.deprecated_after is not None:
        return "quantum-vulnerable: deprecated after 2030 / disallowed after 2035 (NIST IR 8547 draft)"
    return "quantum-vulnerable: disallowed after 2035 (NIST IR 8547 draft)"
