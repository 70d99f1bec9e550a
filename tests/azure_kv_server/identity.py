"""The Microsoft Entra ID (Azure AD) side of the test server: principals and access tokens.

Serves what MSAL (inside azure-identity) asks of an authority with instance discovery
off: ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and the client-credentials
grant at ``POST /{tenant}/oauth2/v2.0/token``, with a client secret or a certificate
assertion (a JWT signed RS256 or PS256 with the principal's certificate key). Errors are
AAD-shaped: ``{"error", "error_description": "AADSTSnnnn: ...", "error_codes"}``.
Tokens are opaque random strings the vault side looks up here.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .jwk import b64u_decode

ALL_PERMISSIONS = frozenset(
    {"get", "list", "create", "import", "update", "delete", "recover", "purge", "sign", "verify"}
)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 3599


@dataclass
class Principal:
    """A service principal (app registration) and the key permissions its tokens carry."""

    client_id: str
    secret: str | None = None
    certificate: x509.Certificate | None = None
    permissions: frozenset[str] = ALL_PERMISSIONS


@dataclass
class TokenGrant:
    principal: Principal
    expires: float


@dataclass
class Directory:
    """One tenant's principals and the tokens issued to them."""

    tenant_id: str
    principals: dict[str, Principal] = field(default_factory=dict)
    tokens: dict[str, TokenGrant] = field(default_factory=dict)
    token_requests: int = 0  # how many times a client asked for a token (tests read it)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, principal: Principal) -> Principal:
        self.principals[principal.client_id] = principal
        return principal

    def issue(self, client_id: str, lifetime: float = TOKEN_LIFETIME) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = TokenGrant(self.principals[client_id], time.time() + lifetime)
        return token

    def principal_for(self, token: str) -> Principal | None:
        with self._lock:
            grant = self.tokens.get(token)
        if grant is None or grant.expires < time.time():
            return None
        return grant.principal

    def revoke_all(self) -> None:
        with self._lock:
            self.tokens.clear()

    def reset(self) -> None:
        """No principal, no token, no request counted."""
        with self._lock:
            self.principals.clear()
            self.tokens.clear()
            self.token_requests = 0

    # --- the authority's endpoints ----------------------------------------

    def openid_configuration(self, base_url: str, tenant: str) -> tuple[int, dict]:
        if tenant != self.tenant_id:
            return _aad_error(400, "invalid_tenant", 90002, f"Tenant '{tenant[:80]}' not found.")
        root = f"{base_url}/{tenant}"
        return 200, {
            "issuer": f"{root}/v2.0",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "EU",
        }

    def token(self, token_endpoint: str, tenant: str, form: dict[str, str]) -> tuple[int, dict]:
        with self._lock:
            self.token_requests += 1
        if tenant != self.tenant_id:
            return _aad_error(400, "invalid_tenant", 90002, f"Tenant '{tenant[:80]}' not found.")
        if form.get("grant_type") != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", 70003, "The grant type is not supported here.")
        principal = self.principals.get(form.get("client_id", ""))
        if principal is None:
            return _aad_error(400, "unauthorized_client", 700016,
                              f"Application with identifier '{form.get('client_id', '')[:80]}' was not found "
                              f"in the directory '{tenant}'.")
        if "client_secret" in form:
            if principal.secret is None or not hmac.compare_digest(form["client_secret"], principal.secret):
                return _aad_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        elif form.get("client_assertion_type") == ASSERTION_TYPE:
            problem = _check_assertion(form.get("client_assertion", ""), principal, token_endpoint)
            if problem:
                return _aad_error(401, "invalid_client", 700027, problem)
        else:
            return _aad_error(401, "invalid_client", 7000218,
                              "The request body must contain 'client_assertion' or 'client_secret'.")
        return 200, {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "ext_expires_in": TOKEN_LIFETIME,
                     "access_token": self.issue(principal.client_id)}


def _aad_error(status: int, error: str, code: int, description: str) -> tuple[int, dict]:
    return status, {"error": error, "error_description": f"AADSTS{code}: {description}", "error_codes": [code]}


def _check_assertion(assertion: str, principal: Principal, audience: str) -> str | None:
    """None when the JWT is a valid assertion for this principal, else why not."""
    if principal.certificate is None:
        return "The application has no certificate registered."
    try:
        header_b64, claims_b64, signature_b64 = assertion.split(".")
        header = json.loads(b64u_decode(header_b64, "header"))
        claims = json.loads(b64u_decode(claims_b64, "claims"))
        signature = b64u_decode(signature_b64, "signature")
    except Exception:
        return "The client assertion is not a well-formed JWT."
    signed = f"{header_b64}.{claims_b64}".encode()
    chosen = {"RS256": padding.PKCS1v15(),
              "PS256": padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)}
    if header.get("alg") not in chosen:
        return "The client assertion must be signed with RS256 or PS256."
    try:
        principal.certificate.public_key().verify(signature, signed, chosen[header["alg"]], hashes.SHA256())
    except InvalidSignature:
        return "Client assertion contains an invalid signature."
    if claims.get("aud") != audience:
        return "The audience of the client assertion is not this token endpoint."
    if claims.get("iss") != principal.client_id or claims.get("sub") != principal.client_id:
        return "The issuer and subject of the client assertion must be the client id."
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < time.time():
        return "The client assertion has expired."
    return None
