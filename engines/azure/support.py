"""Azure Key Vault helpers: option checks, SDK clients and credentials, JWK and signature mapping.

The SDKs (azure-identity, azure-keyvault-keys) are imported inside the functions that
use them. Signature mapping: Key Vault signs digests with RS*/PS* (any RSA key) and with
ES256/ES384/ES512, each bound to one curve (P-256/P-384/P-521) and taking a value of
exactly that hash's length. ECDSA with another hash is the same computation on a digest
cut or widened to the curve's length (FIPS 186-4 §6.4: ECDSA uses the leftmost bits of
the hash, up to the bit length of the group order; leading zero bytes do not change the
integer), so every ECDSA_SHA_* works on every curve, and signatures verify as usual.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .. import algorithms as A
from .. import errors as E
from .. import keys as K

if TYPE_CHECKING:
    from azure.identity import CertificateCredential, ClientSecretCredential, DefaultAzureCredential
    from azure.keyvault.keys import JsonWebKey

    Credential = ClientSecretCredential | CertificateCredential | DefaultAzureCredential

LAMASSU_TAG = "x-lamassu-id"
KEY_OPS = ["sign", "verify"]
CURVE_TO_SIZE = {"P-256": 256, "P-384": 384, "P-521": 521}
ES_BY_SIZE = {256: ("ES256", 32), 384: ("ES384", 48), 521: ("ES512", 64)}  # alg, value length
# Entra ID hosts MSAL knows; any other authority host needs instance discovery off.
KNOWN_AUTHORITIES = ("login.microsoftonline.com", "login.chinacloudapi.cn", "login.microsoftonline.us")
# Key Vault's own DNS suffixes: for these the SDK also checks the challenge's resource.
VAULT_SUFFIXES = (".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net", ".managedhsm.azure.net")
CREDENTIALS = ("client-secret", "certificate", "default")
_CURVES: dict[int, Callable[[], ec.EllipticCurve]] = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}


class JwkMembers(Protocol):
    """The members of a Key Vault ``JsonWebKey`` a public key is read from.

    The SDK sets them from keyword arguments, so its class does not declare them.
    """

    crv: object
    n: bytes
    e: bytes
    x: bytes
    y: bytes


def _https_url(name: str, value: str, example: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise E.EngineConfigError(f"Option {name!r} must be an https:// address without a path, e.g. {example}.")
    return f"https://{parts.netloc}"


def check_options(options: dict[str, str]) -> dict[str, str]:
    """Normalise what check_options left as text; raise EngineConfigError for what cannot work."""
    options["vault_url"] = _https_url("vault_url", options["vault_url"], "https://my-vault.vault.azure.net")
    if options.get("authority_host"):
        options["authority_host"] = _https_url("authority_host", options["authority_host"],
                                               "https://login.microsoftonline.us")
    kind = options["credential"]
    needed = {"client-secret": ("tenant_id", "client_id"), "certificate": ("tenant_id", "client_id", "certificate_path")}
    for name in needed.get(kind, ()):
        if not options.get(name):
            raise E.EngineConfigError(f"Option {name!r} is required with credential={kind}.")
    tenant = options.get("tenant_id")
    if tenant and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,254}", tenant):
        raise E.EngineConfigError(f"Option 'tenant_id' must be a tenant GUID or domain name; got {tenant[:60]!r}.")
    for name, low, high in (("connection_timeout", 0.1, 600), ("read_timeout", 0.1, 3600), ("retry_total", 0, 10)):
        try:
            number = float(options[name]) if name != "retry_total" else int(options[name])
        except ValueError:
            raise E.EngineConfigError(f"Option {name!r} must be a number; got {options[name][:40]!r}.") from None
        if not low <= number <= high:
            raise E.EngineConfigError(f"Option {name!r} must be between {low} and {high}.")
    return options


def transport_options(options: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments for every SDK pipeline (the vault's and the credential's)."""
    ca_bundle = options.get("ca_bundle")
    if ca_bundle and not os.path.isfile(ca_bundle):
        raise E.EngineConfigError(f"The ca_bundle file {ca_bundle} does not exist.")
    return {
        "connection_verify": ca_bundle or True,
        "connection_timeout": float(options["connection_timeout"]),
        "read_timeout": float(options["read_timeout"]),
        "retry_total": int(options["retry_total"]),
    }


def make_credential(options: dict[str, str], secret: str | None) -> Credential:
    """The azure-identity credential the options describe; ValueError/OSError for a bad setup."""
    kwargs = transport_options(options)
    authority = options.get("authority_host")
    if authority:
        kwargs["authority"] = authority
        if urlsplit(authority).hostname not in KNOWN_AUTHORITIES:
            kwargs["disable_instance_discovery"] = True  # a sovereign or private authority MSAL cannot look up
    kind = options["credential"]
    if kind == "client-secret":
        from azure.identity import ClientSecretCredential

        if not secret:  # the engine refuses to open without it; said here for any other caller
            raise E.EngineConfigError("credential=client-secret needs the client secret.")
        return ClientSecretCredential(options["tenant_id"], options["client_id"], secret, **kwargs)
    if kind == "certificate":
        from azure.identity import CertificateCredential

        path = options["certificate_path"]
        if not os.path.isfile(path):
            raise E.EngineConfigError(f"The certificate_path file {path} does not exist.")
        return CertificateCredential(options["tenant_id"], options["client_id"], certificate_path=path, **kwargs)
    from azure.identity import DefaultAzureCredential

    if options.get("client_id"):
        kwargs["managed_identity_client_id"] = options["client_id"]
    return DefaultAzureCredential(**kwargs)


def client_options(options: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments for KeyClient and CryptographyClient."""
    host = (urlsplit(options["vault_url"]).hostname or "").lower()
    # Off only for hosts that are not Key Vault's own (private endpoints, the test vault): their
    # challenge names vault.azure.net, and TLS (ca_bundle) is what vouches for them.
    return {"verify_challenge_resource": host.endswith(VAULT_SUFFIXES), **transport_options(options)}


# ---------------------------------------------------------------- keys and signatures


def enum_text(value: object) -> str:
    """The wire text of an SDK enum member (or of a plain string)."""
    return str(getattr(value, "value", value) or "")


def public_key_from_jwk(jwk: JsonWebKey) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The cryptography public key of a Key Vault JsonWebKey; UnsupportedKeyType for others."""
    kty = enum_text(getattr(jwk, "kty", None))
    members = cast(JwkMembers, jwk)
    if kty.startswith("RSA"):
        n, e = int.from_bytes(members.n, "big"), int.from_bytes(members.e, "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if kty.startswith("EC"):
        crv = enum_text(members.crv)
        size = CURVE_TO_SIZE.get(crv)
        if size is None:
            raise E.UnsupportedKeyType(f"Curve {crv[:20]} is not supported; use P-256, P-384 or P-521.")
        x, y = int.from_bytes(members.x, "big"), int.from_bytes(members.y, "big")
        return ec.EllipticCurvePublicNumbers(x, y, _CURVES[size]()).public_key()
    raise E.UnsupportedKeyType(f"Key type {kty[:20]} is not supported; Azure signing keys are RSA or EC.")


def private_jwk(private_key: K.PrivateKey) -> JsonWebKey:
    """A JsonWebKey with the private members, for import. Lives only for the request."""
    from azure.keyvault.keys import JsonWebKey

    def octets(value: int, width: int | None = None) -> bytes:
        return value.to_bytes(width or max(1, (value.bit_length() + 7) // 8), "big")

    if isinstance(private_key, rsa.RSAPrivateKey):
        n = private_key.private_numbers()
        p = n.public_numbers
        return JsonWebKey(kty="RSA", key_ops=KEY_OPS, n=octets(p.n), e=octets(p.e), d=octets(n.d), p=octets(n.p),
                          q=octets(n.q), dp=octets(n.dmp1), dq=octets(n.dmq1), qi=octets(n.iqmp))
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise E.UnsupportedKeyType("Azure Key Vault imports RSA and EC keys only.")
    size = A.SIZE_BY_CURVE[private_key.curve.name]
    width = (size + 7) // 8
    numbers = private_key.private_numbers()
    return JsonWebKey(kty="EC", key_ops=KEY_OPS, crv=A.NIST_NAME[size], x=octets(numbers.public_numbers.x, width),
                      y=octets(numbers.public_numbers.y, width), d=octets(numbers.private_value, width))


def sign_parameters(sig_alg: A.SigningAlgorithm, size: int, digest: bytes) -> tuple[str, bytes]:
    """(Key Vault algorithm, value to sign) for a validated digest; see the module docstring."""
    bits = sig_alg.digest_hash()[3:]
    if sig_alg.key_algorithm == A.RSA:
        return ("PS" if sig_alg.padding == "PSS" else "RS") + bits, digest
    alg, length = ES_BY_SIZE[size]
    if len(digest) >= length:
        return alg, digest[:length]
    return alg, bytes(length - len(digest)) + digest


def is_lamassu_name(name: str) -> bool:
    """Lamassu names its Key Vault keys with a random UUID; such names make poor labels."""
    import uuid

    try:
        return str(uuid.UUID(name)) == name.lower()
    except ValueError:
        return False
