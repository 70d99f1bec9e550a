"""Subjects and subject alternative names as an operator types them, read into X.509 values.

A subject comes in OpenSSL's slash form ``/C=ES/O=Example/CN=x``, encoded in the
order written (as ``openssl req -subj`` does; ``\\/`` escapes a slash), or as an
RFC 4514 string ``CN=x,O=Example,C=ES``, read in RFC 4514 order: the last part is
the first RDN, so both spellings give the same Name. A SAN is ``dns:NAME``,
``ip:ADDR``, ``email:ADDR`` or ``uri:URI``. Each refusal names the part it refuses.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable

from cryptography import x509
from cryptography.x509.oid import NameOID

from engines.errors import InvalidInput

ATTRIBUTES: dict[str, x509.ObjectIdentifier] = {
    "C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER, "emailAddress": NameOID.EMAIL_ADDRESS,
    "DC": NameOID.DOMAIN_COMPONENT, "UID": NameOID.USER_ID,
}
_BY_LOWER = {name.lower(): (name, oid) for name, oid in ATTRIBUTES.items()}
# RFC 5280 upper bounds (ub-*); DC and UID have none there, so a DNS label's and a sane one.
_MAX_LENGTH = {"C": 2, "ST": 128, "L": 128, "O": 64, "OU": 64, "CN": 64, "serialNumber": 64,
               "emailAddress": 255, "DC": 63, "UID": 256}
_MAX_OTHER = 256
MAX_SUBJECT = 4096
MAX_SANS = 100
MAX_SAN_LENGTH = 1024
_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")
_PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]+")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")


def _clip(text: str) -> str:
    return repr(text[:80] + ("…" if len(text) > 80 else ""))


# --- subjects -------------------------------------------------------------------------


def parse_subject(text: str) -> x509.Name:
    """The Name a ``--subject`` spells, one attribute per RDN (slash form in order, RFC 4514 reversed)."""
    if not isinstance(text, str) or not text.strip().strip("/"):
        raise InvalidInput("The subject is empty.", hint="Write it as /C=ES/O=Example/CN=name or CN=name,O=Example,C=ES.")
    if len(text) > MAX_SUBJECT:
        raise InvalidInput(f"The subject is {len(text)} characters long; the limit is {MAX_SUBJECT}.")
    if text.startswith("/"):
        parts = _split(text[1:], "/")
    else:
        parts = [_trim(p) for p in _split(text, ",")]
        parts.reverse()
    return x509.Name([_attribute(part) for part in parts])


def _split(text: str, separator: str) -> list[str]:
    """``text`` cut at each ``separator`` not escaped by a backslash; escapes are kept for ``_unescape``."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        raise InvalidInput(f"The subject ends in a lone backslash: {_clip(text)}.")
    parts.append("".join(current))
    return parts


def _trim(part: str) -> str:
    """An RFC 4514 part without the spaces around it (an escaped trailing space stays)."""
    part = part.lstrip(" ")
    while part.endswith(" ") and not part.endswith("\\ "):
        part = part[:-1]
    return part


def _unescape(raw: str) -> str:
    """Backslash escapes: ``\\XX`` (two hex digits, bytes of UTF-8) or ``\\c`` for the character c."""
    out, pending, at = [], bytearray(), 0
    while at < len(raw):
        char = raw[at]
        if char == "\\" and re.fullmatch(r"[0-9A-Fa-f]{2}", raw[at + 1: at + 3]):
            pending.append(int(raw[at + 1: at + 3], 16))
            at += 3
            continue
        if pending:
            out.append(pending.decode("utf-8", errors="strict"))
            pending = bytearray()
        if char == "\\":
            at += 1
            char = raw[at]
        out.append(char)
        at += 1
    if pending:
        out.append(pending.decode("utf-8", errors="strict"))
    return "".join(out)


def _attribute(part: str) -> x509.NameAttribute[str]:
    raw_name, equals, raw_value = part.partition("=")
    if not equals:
        raise InvalidInput(f"Subject part {_clip(part)} has no '=': write NAME=value.")
    name, oid = _attribute_type(raw_name.strip(), part)
    try:
        value = _unescape(raw_value)
    except UnicodeDecodeError:
        raise InvalidInput(f"Subject part {_clip(part)}: its \\XX escapes are not UTF-8.") from None
    _check_value(name, value, part)
    if name == "C":
        value = value.upper()
    return x509.NameAttribute(oid, value)


def _attribute_type(name: str, part: str) -> tuple[str, x509.ObjectIdentifier]:
    known = _BY_LOWER.get(name.lower())
    if known is not None:
        return known
    if _OID.fullmatch(name):
        return name, x509.ObjectIdentifier(name)
    raise InvalidInput(f"Subject part {_clip(part)}: {_clip(name)} is not an attribute name this tool writes.",
                       hint="Use " + ", ".join(ATTRIBUTES) + ", or an OID in dotted form (2.5.4.3).")


def _check_value(name: str, value: str, part: str) -> None:
    where = f"Subject part {_clip(part)}"
    if not value:
        raise InvalidInput(f"{where}: the value is empty.")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise InvalidInput(f"{where}: the value holds a control character (NUL, newline, …).")
    if name == "C" and not re.fullmatch(r"[A-Za-z]{2}", value):
        raise InvalidInput(f"{where}: a country is 2 letters (ISO 3166), e.g. ES.")
    limit = _MAX_LENGTH.get(name, _MAX_OTHER)
    if len(value) > limit:
        raise InvalidInput(f"{where}: the value is {len(value)} characters long; {name} takes at most {limit}.")
    if name == "serialNumber" and not _PRINTABLE.fullmatch(value):
        raise InvalidInput(f"{where}: serialNumber takes letters, digits, spaces and '()+,-./:=? only.")
    if name in ("emailAddress", "DC") and not value.isascii():
        raise InvalidInput(f"{where}: {name} takes ASCII only.")
    if name == "emailAddress" and "@" not in value:
        raise InvalidInput(f"{where}: an email address has an @.")


# --- subject alternative names ------------------------------------------------------------


def parse_sans(texts: Iterable[str]) -> list[x509.GeneralName]:
    """Each ``TYPE:VALUE`` as a GeneralName, in the order given; duplicates are refused."""
    names: list[x509.GeneralName] = []
    for text in texts:
        name = parse_san(text)
        if name in names:
            raise InvalidInput(f"SAN {_clip(text)} is given twice.")
        names.append(name)
        if len(names) > MAX_SANS:
            raise InvalidInput(f"More than {MAX_SANS} SANs: split them over several requests.")
    return names


def parse_san(text: str) -> x509.GeneralName:
    kind, colon, value = text.partition(":")
    reader = _SAN_READERS.get(kind.strip().lower())
    if not colon or reader is None:
        raise InvalidInput(f"SAN {_clip(text)}: write dns:NAME, ip:ADDRESS, email:ADDRESS or uri:URI.")
    if not value or not value.isprintable() or any(c.isspace() for c in value):
        raise InvalidInput(f"SAN {_clip(text)}: the value is empty or holds spaces or control characters.")
    if len(value) > MAX_SAN_LENGTH:
        raise InvalidInput(f"SAN {_clip(text)}: the value is {len(value)} characters long; the limit is {MAX_SAN_LENGTH}.")
    return reader(value, text)


def _dns(value: str, text: str) -> x509.GeneralName:
    labels = value.split(".")
    if labels[0] == "*":
        labels = labels[1:]
        if not labels:
            raise InvalidInput(f"SAN {_clip(text)}: a wildcard needs a domain after '*.'.")
    problem = _dns_problem(labels, value)
    if problem:
        raise InvalidInput(f"SAN {_clip(text)}: {problem}.")
    return x509.DNSName(value)


def _dns_problem(labels: list[str], value: str) -> str | None:
    if not value.isascii():
        return "write an internationalised name in its xn-- (A-label) form"
    if len(value) > 253:
        return "a DNS name has at most 253 characters"
    bad = next((label for label in labels if not _LABEL.fullmatch(label)), None)
    if bad is not None:
        return (f"label {bad!r} is not a DNS label (letters, digits and inner hyphens, 1 to 63 characters; "
                "only the first label may be '*')")
    return None


def _ip(value: str, text: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        raise InvalidInput(f"SAN {_clip(text)}: not an IPv4 or IPv6 address.") from None


def _email(value: str, text: str) -> x509.GeneralName:
    local, at, domain = value.rpartition("@")
    if not at or not local or not value.isascii():
        raise InvalidInput(f"SAN {_clip(text)}: an email address is ASCII local@domain.")
    problem = _dns_problem(domain.split("."), domain)
    if problem:
        raise InvalidInput(f"SAN {_clip(text)}: its domain: {problem}.")
    return x509.RFC822Name(value)


def _uri(value: str, text: str) -> x509.GeneralName:
    if not value.isascii() or not _SCHEME.fullmatch(value):
        raise InvalidInput(f"SAN {_clip(text)}: a URI is ASCII and starts with its scheme (https:, urn:, spiffe:, …).")
    return x509.UniformResourceIdentifier(value)


_SAN_READERS = {"dns": _dns, "ip": _ip, "email": _email, "uri": _uri}


def describe_san(name: x509.GeneralName) -> str:
    """A GeneralName as ``TYPE:VALUE``, the way it was typed."""
    kind = {x509.DNSName: "dns", x509.IPAddress: "ip", x509.RFC822Name: "email",
            x509.UniformResourceIdentifier: "uri"}[type(name)]
    return f"{kind}:{name.value}"
