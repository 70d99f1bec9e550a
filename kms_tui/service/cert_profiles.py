"""Certificate profiles: data files (``profiles/NAME.toml``) that describe one kind of certificate.

``kms-tui keys certificate``, ``keys issue``, ``keys csr --profile`` and the ceremony's certificate
steps read the same files, so there is one way to describe a certificate. A profile gives the
basic constraints (``ca``, ``path_length``), ``key_usage``, ``extended_key_usage``, the hash
(``hash``; left out: the key's natural one; an ML-DSA key, which has none to choose, refuses a
profile that names one), ``default_days`` and ``max_days``, the SKI method
(``ski``), whether SANs are ``required``, ``allowed`` or ``forbidden`` (``sans``), the reason a
backdated ``not_before`` is allowed (``allow_backdating``), and which pkilint profile lints the
result (``lint``; ``cabf-serverauth`` becomes RFC 5280 for an ML-DSA certificate, see cert_lint). Unknown fields and wrong types are refused, naming the file and the field.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.errors import InvalidInput

PROFILE_DIR = Path(__file__).with_name("profiles")
KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
              "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
EXTENDED_KEY_USAGES = ("serverAuth", "clientAuth", "codeSigning", "emailProtection", "timeStamping",
                       "OCSPSigning")
HASHES = ("SHA256", "SHA384", "SHA512")
SKI_METHODS = ("rfc5280", "sha256")
SAN_RULES = ("required", "allowed", "forbidden")
LINTS = ("rfc5280", "cabf-serverauth")


@dataclass(frozen=True)
class Profile:
    """One certificate profile, as its file states it."""

    name: str
    description: str
    ca: bool
    key_usage: tuple[str, ...]
    default_days: int
    max_days: int
    path_length: int | None = None
    extended_key_usage: tuple[str, ...] | None = None
    hash: str | None = None
    ski: str = "rfc5280"
    sans: str = "allowed"
    allow_backdating: str | None = None
    lint: str = "rfc5280"

    def fields(self) -> dict[str, Any]:
        """The profile as a ceremony step's certificate parameters (only what the step knows)."""
        out: dict[str, Any] = {"ca": self.ca, "path_length": self.path_length, "key_usage": list(self.key_usage),
                               "ski": self.ski}
        if self.hash is not None:
            out["hash"] = self.hash
        if self.extended_key_usage is not None:
            out["extended_key_usage"] = list(self.extended_key_usage)
        if self.allow_backdating is not None:
            out["allow_backdating"] = self.allow_backdating
        return out


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _names(choices: tuple[str, ...]) -> Any:
    def check(value: object) -> bool:
        return (isinstance(value, list) and all(v in choices for v in value)
                and len(set(value)) == len(value))
    return check


# Each field: (its check, what the refusal says it must be, required).
_FIELDS: dict[str, tuple[Any, str, bool]] = {
    "description": (_text, "text", True),
    "ca": (lambda v: isinstance(v, bool), "true or false", True),
    "key_usage": (_names(KEY_USAGES), "a list of distinct " + ", ".join(KEY_USAGES), True),
    "default_days": (_count, "a positive whole number", True),
    "max_days": (_count, "a positive whole number", True),
    "path_length": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                    "a whole number, 0 or more", False),
    "extended_key_usage": (_names(EXTENDED_KEY_USAGES),
                           "a list of distinct " + ", ".join(EXTENDED_KEY_USAGES), False),
    "hash": (lambda v: v in HASHES, "one of " + ", ".join(HASHES), False),
    "ski": (lambda v: v in SKI_METHODS, "one of " + ", ".join(SKI_METHODS), False),
    "sans": (lambda v: v in SAN_RULES, "one of " + ", ".join(SAN_RULES), False),
    "allow_backdating": (_text, "the reason, as text", False),
    "lint": (lambda v: v in LINTS, "one of " + ", ".join(LINTS), False),
}


def names() -> list[str]:
    """Every profile's name, sorted."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


@functools.cache
def load(name: str) -> Profile:
    """The profile called ``name``, read and checked (``InvalidInput`` names an unknown profile or a bad field)."""
    known = names()
    if name not in known:
        raise InvalidInput(f"Unknown certificate profile {name[:40]!r}.", hint="Profiles: " + ", ".join(known) + ".")
    return parse(name, (PROFILE_DIR / f"{name}.toml").read_text(encoding="utf-8"))


def parse(name: str, source: str) -> Profile:
    """A profile from its TOML text; every refusal names the profile and the field."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"Profile {name!r} is not valid TOML: {exc}.") from None
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise InvalidInput(f"Profile {name!r}: unknown field {unknown[0]!r}; known fields: {', '.join(_FIELDS)}.")
    for field_name, (check, expected, required) in _FIELDS.items():
        if field_name not in data:
            if required:
                raise InvalidInput(f"Profile {name!r} needs the field {field_name!r}.")
        elif not check(data[field_name]):
            raise InvalidInput(f"Profile {name!r}: {field_name} must be {expected}.")
    profile = _profile(name, data)
    _check_consistent(profile)
    return profile


def _profile(name: str, data: dict[str, Any]) -> Profile:
    values = dict(data)
    values["key_usage"] = tuple(values["key_usage"])
    if "extended_key_usage" in values:
        values["extended_key_usage"] = tuple(values["extended_key_usage"])
    return Profile(name=name, **values)


def _check_consistent(p: Profile) -> None:
    where = f"Profile {p.name!r}"
    if p.default_days > p.max_days:
        raise InvalidInput(f"{where}: default_days ({p.default_days}) is over max_days ({p.max_days}).")
    if not p.key_usage:
        raise InvalidInput(f"{where}: key_usage is empty.")
    if p.ca != ("key_cert_sign" in p.key_usage):
        raise InvalidInput(f"{where}: key_cert_sign goes with ca = true, and only with it.")
    if p.path_length is not None and not p.ca:
        raise InvalidInput(f"{where}: path_length is only allowed with ca = true.")
    if p.extended_key_usage == ():
        raise InvalidInput(f"{where}: extended_key_usage is empty; leave it out for none.")
