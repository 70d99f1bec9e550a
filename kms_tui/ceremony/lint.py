"""The lint of certificate and CRL profiles, run on the whole script before anything starts.

A finding names the step and its line. Any finding stops the ceremony before a key
signs anything: the checks need only the script, the algorithms of the keys and the
time (``not_before: signing-time`` and the backdating limit are measured from it).
Each certificate step's certificate is drafted with stand-in keys of its keys' families and
linted by pkilint (RFC 5280, or its profile's pkilint profile), which covers the profile's own rules (key usage against
basic constraints, …); this module keeps what pkilint cannot see: the script's policy
(maximum validity, the profile's maximum days), backdating against the signing time, the
serial's entropy, SHA-1, a hash chosen for an ML-DSA key (which has none to choose), root key
strength, and what an issuer lets its certificates be.
The runner lints each real certificate and CRL again before it is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..service import algorithms as A
from ..service import cert_lint, cert_profiles
from . import x509build as X
from .plan import stamp
from .script import Script, Step

MIN_SERIAL_BITS = 64
MAX_SERIAL_BITS = 159  # a positive INTEGER of at most 20 octets (RFC 5280 4.1.2.2)
MAX_BACKDATING = timedelta(days=1)


@dataclass(frozen=True)
class KeyInfo:
    algorithm: str
    size: int


@dataclass(frozen=True)
class CaProfile:
    """What a certificate made earlier in the script lets its key issue."""

    ca: bool
    path_length: int | None
    not_before: object
    not_after: object
    key: str


def _where(step: Step, name: str | None = None) -> str:
    return f"step {step.number} ({step.action}), line {step.line_of(name) if name else step.line}"


def backdating(step: Step, signing_time: datetime) -> str | None:
    """The refusal of a not_before more than a day before the signing time, unless the step says why."""
    not_before = step.params["not_before"]
    if not_before is None or step.params.get("allow_backdating") or signing_time - not_before <= MAX_BACKDATING:
        return None
    days = (signing_time - not_before).total_seconds() / 86400
    return (f"{_where(step, 'not_before')}: not_before {stamp(not_before)} is {days:.1f} days before the signing "
            f"time ({stamp(signing_time)}); a certificate is backdated by at most 1 day unless the step says why "
            "(allow_backdating: \"<reason>\").")


def validity(step: Step, now: datetime) -> tuple[datetime, datetime]:
    """The step's not_before and not_after, with ``signing-time`` read as ``now``."""
    return step.params["not_before"] or now, step.params["not_after"]


def lint_script(script: Script, key_info: dict[str, KeyInfo], now: datetime | None = None) -> list[str]:
    """Every finding of every profile in the script, in step order; ``now`` stands for the signing time."""
    now = now or datetime.now(UTC)
    findings: list[str] = []
    issued: dict[str, CaProfile] = {}
    csr_keys: dict[str, str] = {}
    subjects: dict[str, dict[str, str]] = {}
    for step in script.steps:
        p = step.params
        if step.action in ("csr", "self-signed-certificate", "sign-certificate"):
            subjects[p["output"]] = p["subject"] if "subject" in p else subjects.get(p["csr"], {})
        if step.action == "csr":
            csr_keys[p["output"]] = p["key"]
            findings += _hash(step, p["hash"], key_info.get(p["key"]))
            if not p["subject"]:
                findings.append(f"{_where(step, 'subject')}: the subject is empty.")
        elif step.action in ("self-signed-certificate", "sign-certificate"):
            findings += _certificate(script, step, key_info, issued, now)
            key = p["key"] if step.action == "self-signed-certificate" else csr_keys.get(p["csr"], "")
            findings += _drafted(step, key_info, key, subjects, now)
            issued[p["output"]] = CaProfile(p["ca"], p["path_length"], *validity(step, now), key)
        elif step.action == "sign-crl":
            findings += _hash(step, p["hash"], key_info.get(p["issuer_key"]))
            if p["next_update"] <= p["this_update"]:
                findings.append(f"{_where(step, 'next_update')}: next_update must be after this_update.")
            issuer = issued.get(p["issuer_certificate"])
            if issuer is not None:
                findings += _issuer(step, issuer, key_info, usage_needed=None)
    from .backup_steps import lint as backup_lint

    return findings + backup_lint(script)


_SIGNED = {"csr": "request", "sign-crl": "CRL"}


def _hash_source(step: Step) -> str | None:
    """Where the step's hash comes from when it is chosen ("hash", or the profile's), None when left out."""
    if "hash" in step.lines:
        return "hash"
    profile = step.params.get("profile")
    if profile and cert_profiles.load(profile).hash is not None:
        return f"profile {profile!r}'s hash"
    return None


def _hash(step: Step, hash_name: str | None, key: KeyInfo | None) -> list[str]:
    source = _hash_source(step) if key is not None and key.algorithm == A.ML_DSA else None
    if source and key is not None:
        what = _SIGNED.get(step.action, "certificate")
        return [f"{_where(step, 'hash')}: {source} {hash_name} does not apply: ML-DSA-{key.size} has no hash to "
                f"choose, it signs the {what} itself (SHAKE256 inside; signature algorithm id-ml-dsa-{key.size}). "
                "Leave hash out for an ML-DSA key."]
    if hash_name == "SHA1":
        return [f"{_where(step, 'hash')}: SHA-1 is refused; use SHA256, SHA384 or SHA512."]
    return []


def _issuer(step: Step, issuer: CaProfile, key_info: dict[str, KeyInfo], usage_needed) -> list[str]:
    found = []
    p = step.params
    if issuer.key != p["issuer_key"]:
        found.append(f"{_where(step, 'issuer_key')}: key {p['issuer_key']!r} is not the key of "
                     f"{p['issuer_certificate']!r} ({issuer.key!r}).")
    if not issuer.ca:
        found.append(f"{_where(step, 'issuer_certificate')}: {p['issuer_certificate']!r} is not a CA certificate.")
    info = key_info.get(p["issuer_key"])
    if info is not None and A.strength(info.algorithm, info.size) != A.HIGH:
        found.append(f"{_where(step, 'issuer_key')}: issuing key {p['issuer_key']!r} ({info.algorithm} {info.size}) "
                     f"is {A.strength(info.algorithm, info.size)}; a root key must be HIGH "
                     "(RSA >= 3072, ECDSA P-384/P-521, Ed25519 or ML-DSA).")
    return found


def _certificate(script: Script, step: Step, key_info: dict[str, KeyInfo], issued: dict[str, CaProfile],
                 now: datetime) -> list[str]:
    p = step.params
    found: list[str] = []
    signer = p["key"] if step.action == "self-signed-certificate" else p["issuer_key"]
    found += _hash(step, p["hash"], key_info.get(signer))
    not_before, not_after = validity(step, now)
    if not_after <= not_before:
        found.append(f"{_where(step, 'not_after')}: not_after must be after not_before.")
    backdated = backdating(step, now)
    if backdated:
        found.append(backdated)
    days = (not_after - not_before).total_seconds() / 86400
    if days > script.max_validity_days:
        found.append(f"{_where(step, 'not_after')}: the validity is {days:.0f} days; the script's maximum is "
                     f"{script.max_validity_days} (policy.max_validity_days).")
    if p.get("profile"):
        found += _profile_rules(step, cert_profiles.load(p["profile"]), days)
    if not (MIN_SERIAL_BITS <= p["serial_bits"] <= MAX_SERIAL_BITS):
        found.append(f"{_where(step, 'serial_bits')}: serial_bits is {p['serial_bits']}; a serial needs "
                     f"{MIN_SERIAL_BITS} to {MAX_SERIAL_BITS} bits from the CSPRNG.")
    if step.action == "self-signed-certificate":
        if not p["subject"]:
            found.append(f"{_where(step, 'subject')}: the subject is empty.")
        info = key_info.get(p["key"])
        if info is not None and A.strength(info.algorithm, info.size) != A.HIGH:
            found.append(f"{_where(step, 'key')}: root key {p['key']!r} ({info.algorithm} {info.size}) is "
                         f"{A.strength(info.algorithm, info.size)}; a root key must be HIGH "
                         "(RSA >= 3072, ECDSA P-384/P-521, Ed25519 or ML-DSA).")
    found += _extended_usage(step)
    if p["path_length"] is not None:
        if not p["ca"]:
            found.append(f"{_where(step, 'path_length')}: path_length is only allowed with ca: true.")
        elif p["path_length"] < 0:
            found.append(f"{_where(step, 'path_length')}: path_length cannot be negative.")
    if step.action == "sign-certificate":
        issuer = issued.get(p["issuer_certificate"])
        if issuer is not None:
            found += _issuer(step, issuer, key_info, usage_needed="key_cert_sign")
            if issuer.path_length is not None and p["ca"]:
                if issuer.path_length == 0:
                    found.append(f"{_where(step, 'ca')}: the issuer's path_length is 0: it cannot issue a CA.")
                elif p["path_length"] is None or p["path_length"] >= issuer.path_length:
                    found.append(f"{_where(step, 'path_length')}: path_length must be below the issuer's "
                                 f"({issuer.path_length}).")
            if not_before < issuer.not_before or not_after > issuer.not_after:
                found.append(f"{_where(step, 'not_after')}: the validity must lie within the issuer's "
                             f"({issuer.not_before:%Y-%m-%dT%H:%M:%SZ} to {issuer.not_after:%Y-%m-%dT%H:%M:%SZ}).")
    return found


def _profile_rules(step: Step, profile: cert_profiles.Profile, days: float) -> list[str]:
    """What the step's profile asks that pkilint cannot see: its maximum days; SANs, which ceremony
    certificates do not carry."""
    found = []
    if days > profile.max_days:
        found.append(f"{_where(step, 'not_after')}: the validity is {days:.0f} days; profile {profile.name!r} "
                     f"allows at most {profile.max_days}.")
    if profile.sans == "required":
        found.append(f"{_where(step, 'profile')}: profile {profile.name!r} needs SANs, which a ceremony certificate "
                     "does not carry; issue it with kms-tui keys issue.")
    return found


def _extended_usage(step: Step) -> list[str]:
    names = step.params.get("extended_key_usage")
    if names is None:
        return []
    if not names:
        return [f"{_where(step, 'extended_key_usage')}: extended_key_usage is empty; leave it out for none."]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        return [f"{_where(step, 'extended_key_usage')}: {', '.join(twice)} appears twice in extended_key_usage."]
    return []


# Which step parameter a pkilint finding is about, by a word of its code (else the step's first line).
_FINDING_PARAMS = (("keyusage", "key_usage"), ("ku_", "key_usage"), ("basic_constraints", "ca"),
                   ("path", "path_length"), ("eku", "extended_key_usage"), ("extended_key_usage", "extended_key_usage"),
                   ("validity", "not_after"), ("subject", "subject"), ("policy", "policies"), ("policies", "policies"),
                   ("attribute", "subject"), ("name_", "subject"))


def _param_of(code: str) -> str | None:
    return next((param for word, param in _FINDING_PARAMS if word in code), None)


def _drafted(step: Step, key_info: dict[str, KeyInfo], subject_key: str, subjects: dict[str, dict[str, str]],
             now: datetime) -> list[str]:
    """pkilint's errors on the step's certificate drafted with stand-in keys (nothing signs for real)."""
    p = step.params
    signer = key_info.get(p["key"] if step.action == "self-signed-certificate" else p["issuer_key"])
    subject_info = key_info.get(subject_key)
    if signer is None or subject_info is None or p["hash"] == "SHA1" or p["path_length"] is not None and not p["ca"]:
        return []
    issuer = p["subject"] if step.action == "self-signed-certificate" else subjects.get(p["issuer_certificate"], {})
    if not issuer or not subjects.get(p["output"]):
        return []  # an empty subject is its own step's finding
    not_before, not_after = validity(step, now)
    der = X.draft_certificate(
        key_algorithm=signer.algorithm, subject_algorithm=subject_info.algorithm,
        subject=X.name(subjects.get(p["output"], {})), issuer=X.name(issuer), profile=p,
        not_before=not_before, not_after=max(not_after, not_before + timedelta(seconds=1)),
        key_size=signer.size, subject_size=subject_info.size)
    lint = cert_profiles.load(p["profile"]).lint if p.get("profile") else "rfc5280"
    return [f"{_where(step, _param_of(code))}: pkilint: {code}" for code in cert_lint.certificate(der, lint).errors]
