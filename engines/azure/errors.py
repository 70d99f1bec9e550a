"""Azure Key Vault errors: the SDK's exceptions translated into typed, actionable errors.

Every exception from azure-identity or azure-keyvault-keys that reaches the driver
boundary goes through ``translate``; nothing of the SDK escapes. Messages name the URL,
the client id and the server's own explanation, never the client secret (the SDK never
puts it in an exception, and nothing here reads it).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

from .. import errors as E

_AADSTS = re.compile(r"AADSTS(\d+)")
_TENANT = re.compile(r"acquire tokens for tenant ([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)")
_TIMEOUT = re.compile(r"(?:read|connect) timeout=([0-9.]+)")
# Entra ID error codes an operator can act on, with what they mean.
AAD_CODES = {
    "7000215": "the client secret is wrong",
    "7000222": "the client secret has expired",
    "700016": "no application with this client id exists in the tenant",
    "90002": "the tenant does not exist",
    "700027": "the certificate's signature was refused (is this certificate registered for the app?)",
    "700024": "the client assertion is not within its valid time range (check the clock)",
    "7000218": "the request carried neither a client secret nor a certificate assertion",
}


class AzureAccessDenied(E.EngineAuthError):
    """403: the principal signed in, but the vault's access policy or RBAC forbids the operation."""

    title = "Access denied by Azure Key Vault"


class KeyNotDeleted(E.InvalidInput):
    title = "Key is not deleted"


@dataclass(frozen=True)
class Where:
    """What a translated message names: the engine, its vault, its sign-in authority and client."""

    engine_id: str
    vault_url: str
    authority: str
    client_id: str | None
    tenant_id: str | None
    read_timeout: str


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it was raised from, without looping."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__ or getattr(current, "inner_exception", None)


def _server_message(exc: BaseException) -> str:
    """The service's own explanation (first line, bounded, no control characters)."""
    error = getattr(exc, "error", None)
    text = getattr(error, "message", None) or getattr(exc, "message", None) or str(exc)
    text = str(text).strip().splitlines()[0] if str(text).strip() else ""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= 300 else text[:297] + "..."


def _network(exc: BaseException, where: str, w: Where) -> E.KmsError | None:
    """EngineUnavailable for TLS, timeout and connection failures anywhere in the chain."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    chain = list(_chain(exc))
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or "CERTIFICATE_VERIFY_FAILED" in text:
        return E.EngineUnavailable(
            f"The TLS certificate of {where} is not trusted by engine {w.engine_id!r}.",
            title="Untrusted TLS certificate",
            hint="For a private endpoint or a test vault, set ca_bundle to the CA certificate file that issued it.",
        )
    if "non-TLS protected" in text:
        return E.EngineConfigError(f"{where} is not an https:// address; Azure only sends tokens over TLS.")
    timed_out = any(isinstance(e, (TimeoutError, ServiceResponseError)) for e in chain) or "timed out" in text.lower()
    if timed_out and "Failed to establish a new connection" not in text:
        seconds = _TIMEOUT.search(text)  # the limit that ran out (TLS set-up counts as connecting)
        return E.EngineUnavailable(
            f"{where} did not answer within {seconds.group(1).removesuffix('.0') if seconds else w.read_timeout} s.",
            hint="Check the address and the network, or raise connection_timeout / read_timeout.",
        )
    if any(isinstance(e, (ServiceRequestError, ConnectionError)) for e in chain) or "Failed to establish" in text:
        reason = "the connection was refused" if "refused" in text.lower() else (
            "the host name does not resolve" if "resolve" in text.lower() or "Name or service" in text
            else "the connection timed out" if timed_out else "no connection could be made")
        return E.EngineUnavailable(f"{where} cannot be reached: {reason}.", hint="Check the address and the network.")
    return None


def _who(w: Where) -> str:
    return f"client {w.client_id!r}" if w.client_id else "the ambient credential"


def _from_vault(exc: BaseException, vault_url: str) -> bool:
    """True when the failed response came from the vault (not from the sign-in authority)."""
    request = getattr(getattr(exc, "response", None), "request", None)
    url = str(getattr(request, "url", "")).lower()
    return any(url.startswith(f"{vault_url.lower()}/{part}") for part in ("keys", "deletedkeys"))


def _sign_in(exc: BaseException, w: Where) -> E.KmsError:
    """A failed token request (ClientAuthenticationError raised by the credential)."""
    text, who = str(exc), _who(w)
    tenant = _TENANT.search(text)
    if tenant:
        return E.EngineAuthError(
            f"The vault {w.vault_url} belongs to tenant {tenant.group(1)}, but engine {w.engine_id!r} signs in "
            f"to tenant {w.tenant_id}.",
            hint=f"Set tenant_id={tenant.group(1)}.",
        )
    code = _AADSTS.search(text)
    if code:
        meaning = AAD_CODES.get(code.group(1), "Entra ID refused the sign-in")
        return E.EngineAuthError(
            f"Sign-in to Azure as {who} in tenant {w.tenant_id} failed: {meaning} (AADSTS{code.group(1)}).",
            hint="Check tenant_id, client_id and the credential, then: kms-tui engines secret " + w.engine_id,
        )
    return E.EngineAuthError(f"Sign-in to Azure as {who} failed: {_server_message(exc)}")


def translate(exc: BaseException, w: Where, doing: str) -> E.KmsError:
    """The typed error for an SDK exception raised while ``doing`` (e.g. "sign with key X")."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceExistsError,
        ResourceNotFoundError,
    )
    from azure.identity import CredentialUnavailableError

    if isinstance(exc, E.KmsError):
        return exc
    from_credential = isinstance(exc, ClientAuthenticationError) and not _from_vault(exc, w.vault_url)
    network = _network(exc, f"the sign-in authority {w.authority}" if from_credential else w.vault_url, w)
    if network is not None:
        return network
    if isinstance(exc, CredentialUnavailableError) or "failed to retrieve a token from the included" in str(exc):
        return E.EngineAuthError(
            f"No Azure credential is available to engine {w.engine_id!r} in this environment.",
            hint="credential=default needs AZURE_* variables, a managed identity or `az login`; "
                 "or use credential=client-secret or certificate.",
        )
    if from_credential:
        return _sign_in(exc, w)
    status = getattr(exc, "status_code", None)
    message = _server_message(exc)
    if isinstance(exc, ClientAuthenticationError) or status == 401:
        return E.EngineAuthError(f"{w.vault_url} rejected the access token while trying to {doing}: {message}")
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        return E.KeyNotFoundInEngine(f"Azure Key Vault {w.vault_url} could not {doing}: {message}")
    if status == 403:
        return AzureAccessDenied(
            f"Azure Key Vault {w.vault_url} does not allow {_who(w)} to {doing}: {message}",
            hint="Grant the permission in the vault's access policy or RBAC role assignment.",
        )
    if isinstance(exc, ResourceExistsError) or status == 409:
        return E.KeyExists(f"Azure Key Vault {w.vault_url} could not {doing}: {message}")
    if status == 429 or (isinstance(status, int) and status >= 500):
        return E.EngineUnavailable(f"Azure Key Vault {w.vault_url} could not {doing} now (HTTP {status}): {message}")
    if isinstance(exc, HttpResponseError):
        return E.EngineError(f"Azure Key Vault {w.vault_url} refused to {doing} (HTTP {status}): {message}")
    if isinstance(exc, (ValueError, OSError)):
        return E.EngineConfigError(f"Engine {w.engine_id!r} is misconfigured: {message}")
    return E.EngineError(f"Azure Key Vault {w.vault_url} failed to {doing}: {type(exc).__name__}.")

