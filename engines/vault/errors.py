"""Typed errors of the Vault KV v2 engine, and the translation of hvac / ``requests`` failures.

Vault answers most refusals with a bare HTTP status; these classes give each cause its own
title so the CLI and the TUI can say which one it is. Messages name the engine, the
address and the path, never the token, the secret id or any secret data.
"""

from __future__ import annotations

import re

from .. import errors as E


class VaultMountMissing(E.EngineConfigError):
    title = "Vault mount not found"


class VaultPermissionDenied(E.EngineError):
    title = "Forbidden by Vault policy"


class VaultTokenRejected(E.EngineAuthError):
    title = "Vault token rejected"


class VaultLoginFailed(E.EngineAuthError):
    title = "Vault login failed"


class VaultSecretNotAKey(E.KeyParseError):
    title = "Vault secret is not a key"


def vault_says(exc: BaseException) -> str:
    """Vault's own error text as one short printable line (Vault never echoes the token)."""
    text = " ".join(str(e) for e in (getattr(exc, "errors", None) or []))
    text = re.sub(r"\d+ errors? occurred:", "", text).replace("*", " ")
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return (text[:157] + "...") if len(text) > 160 else text


def deleted_note(exc: BaseException) -> str:
    """Why a read found nothing, when Vault says the latest version is deleted (its 404 carries the metadata)."""
    body = getattr(exc, "json", None)
    data = body.get("data") if isinstance(body, dict) else None
    meta = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        return ""
    if meta.get("destroyed"):
        return " (its latest version was destroyed in Vault)"
    if meta.get("deletion_time"):
        return " (it is soft-deleted in Vault; the undelete action restores it)"
    return ""


def transport_error(exc: BaseException, engine_id: str, address: str, timeout: float, action: str,
                    path: str = "") -> E.KmsError:
    """A typed error for a failure that is not about one path: network, TLS, a sealed server."""
    import hvac.exceptions as HE
    import requests

    where = f"Vault at {address}"
    if isinstance(exc, requests.exceptions.SSLError):
        return E.EngineUnavailable(
            f"The TLS connection to {where} failed: its certificate is not trusted or does not match.",
            hint="Set the ca_bundle option to the CA that signed Vault's certificate.",
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return E.EngineUnavailable(f"{where} did not answer within {timeout:g} s.",
                                   hint="Check the address and the network, or raise the timeout option.")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return E.EngineUnavailable(f"{where} cannot be reached: the connection failed.",
                                   hint="Check the address option and that Vault is running.")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return E.EngineConfigError(f"The address {address!r} of engine {engine_id!r} is not a usable URL.")
    if isinstance(exc, requests.exceptions.RequestException):
        return E.EngineUnavailable(f"The request to {where} failed ({type(exc).__name__}).")
    if isinstance(exc, HE.VaultDown):
        return E.EngineUnavailable(f"{where} is sealed or unavailable (HTTP 503).",
                                   hint="Unseal it, or wait for it to become active, then try again.")
    if isinstance(exc, HE.VaultNotInitialized):
        return E.EngineUnavailable(f"{where} is not initialized.")
    if isinstance(exc, HE.RateLimitExceeded):
        return E.EngineUnavailable(f"{where} is rate-limiting requests (HTTP 429).", hint="Try again shortly.")
    target = f"{action} {path}".rstrip()
    if isinstance(exc, HE.Unauthorized):
        return E.EngineAuthError(f"{where} refused to {target} without further authentication (HTTP 401).")
    if isinstance(exc, HE.VaultError):
        said = vault_says(exc)
        return E.EngineError(f"{where} failed to {target}" + (f": {said}." if said else "."))
    if isinstance(exc, (ValueError, TypeError, KeyError, AttributeError)):
        # e.g. a web server that is not Vault answered with something other than Vault's JSON
        return E.EngineError(f"The server at {address} does not answer like Vault.")
    return E.EngineError(f"Unexpected {type(exc).__name__} while trying to {target} on {where}.")
