"""What the hostile-input, leak, outage and concurrency tests share.

Real key material in every format the parser reads (from tests/fixtures/keys),
hostile names, and a way to print the figures the tests measure even when pytest
captures output.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from engines.keys import to_jwk

KEYS = Path(__file__).resolve().parents[1] / "fixtures" / "keys"
FIXTURE_KEYS = ("p256.pem", "p384.pem", "ed25519.pem", "rsa2048.pem")
PASSPHRASE = b"correct horse battery staple"

# Markup, OSC (retitle), CSI (clear screen, colour), C0/C1 controls, bidi overrides.
HOSTILE_NAMES = (
    "[red]alarm[/red] [link=http://evil]click[/link]",
    "\x1b]0;pwned\x07\x1b[2J\x1b[31mred",
    "tab\there\rcarriage\x08back\x7fdel\x9bc1",
    "\u202eevil-rtl\u202c \u2067isolate\u2069 \u200fmark",
    "quote' \"double\" %percent _under -- comment; semi \\ back",
    "[bold]" + "x" * 10_000,
)


def report(request, line: str) -> None:
    """A figure for the end of the test run (tests/conftest.py prints them, from every xdist worker)."""
    request.node.user_properties.append(("figure", line))


def count(request, label: str, n: int) -> None:
    """A count that the end of the run sums over every test that adds to ``label``."""
    request.node.user_properties.append(("figure-count", (label, n)))


def _b64u(value: int) -> str:
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def private_jwk(private) -> dict:
    """A private JWK (RFC 7518) of a cryptography key."""
    jwk = to_jwk(private.public_key())
    if isinstance(private, rsa.RSAPrivateKey):
        n = private.private_numbers()
        jwk.update(d=_b64u(n.d), p=_b64u(n.p), q=_b64u(n.q), dp=_b64u(n.dmp1), dq=_b64u(n.dmq1), qi=_b64u(n.iqmp))
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        jwk["d"] = _b64u(private.private_numbers().private_value)
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
        jwk["d"] = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return jwk


def _encodings(private) -> dict[str, bytes]:
    enc, fmt, pub = serialization.Encoding, serialization.PrivateFormat, serialization.PublicFormat
    none = serialization.NoEncryption()
    public = private.public_key()
    out = {
        "pem-pkcs8": private.private_bytes(enc.PEM, fmt.PKCS8, none),
        "der-pkcs8": private.private_bytes(enc.DER, fmt.PKCS8, none),
        "pem-spki": public.public_bytes(enc.PEM, pub.SubjectPublicKeyInfo),
        "der-spki": public.public_bytes(enc.DER, pub.SubjectPublicKeyInfo),
        "openssh": private.private_bytes(enc.PEM, fmt.OpenSSH, none),
        "openssh-public": public.public_bytes(enc.OpenSSH, pub.OpenSSH),
        "jwk": json.dumps(private_jwk(private)).encode(),
        "jwk-public": json.dumps(to_jwk(public)).encode(),
    }
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        out["pem-traditional"] = private.private_bytes(enc.PEM, fmt.TraditionalOpenSSL, none)
        out["der-traditional"] = private.private_bytes(enc.DER, fmt.TraditionalOpenSSL, none)
        # Legacy PEM encryption (DEK-Info): cheap to try passphrases against.
        out["pem-traditional-encrypted"] = private.private_bytes(
            enc.PEM, fmt.TraditionalOpenSSL, serialization.BestAvailableEncryption(PASSPHRASE))
    out["pem-pkcs8-encrypted"] = private.private_bytes(
        enc.PEM, fmt.PKCS8, serialization.BestAvailableEncryption(PASSPHRASE))
    return out


@cache
def key_material() -> dict[str, bytes]:
    """``{"<fixture>/<format>": bytes}`` for every fixture key in every format the parser reads."""
    found: dict[str, bytes] = {}
    for name in FIXTURE_KEYS:
        private = serialization.load_pem_private_key((KEYS / name).read_bytes(), None)
        for fmt, data in _encodings(private).items():
            found[f"{name}/{fmt}"] = data
    return found


def private_key(name: str = "p256.pem"):
    return serialization.load_pem_private_key((KEYS / name).read_bytes(), None)
