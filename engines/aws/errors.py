"""Typed errors of the AWS engines, and the translation of every botocore exception into one.

Used by ``common.AwsConnection`` at the driver boundary: no SDK exception or
traceback reaches an operator, and no message quotes a request parameter (a secret
string or key material could be among them) — only AWS's own one-line message, cleaned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import errors as E

if TYPE_CHECKING:
    from .common import AwsConnection

# AWS error code -> the caller's own error, made from AWS's (cleaned) message.
ErrorCodes = dict[str, Callable[[str], E.KmsError]]

_AUTH_CODES = frozenset({
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
    "IncompleteSignature", "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "InvalidToken",
    "MissingAuthenticationToken", "MissingAuthenticationTokenException", "AuthFailure", "RequestExpired",
})
_ACCESS_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "UnauthorizedException",
})
_THROTTLE_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown",
    "RequestThrottled", "RequestThrottledException",
})
_UNAVAILABLE_CODES = frozenset({
    "InternalFailure", "InternalError", "ServiceUnavailable", "ServiceUnavailableException", "KMSInternalException",
    "InternalServiceError", "InternalServiceErrorException", "DependencyTimeoutException", "KeyUnavailableException",
})


class AwsAccessDenied(E.EngineError):
    """The credentials are valid, but an IAM or key policy does not allow the call."""

    title = "Access denied by AWS"


class AwsThrottled(E.EngineUnavailable):
    title = "AWS is throttling requests"


class KeyPendingDeletion(E.KeyPendingDeletion):
    """Deleted but still recoverable: gone for every use except the recovery action."""

    title = "Key pending deletion"


class KeyStateConflict(E.EngineError):
    """The key exists, but its state does not allow the operation (e.g. signing with a disabled key)."""

    title = "Key state does not allow this"


class KeyNotEnabled(KeyStateConflict):
    title = "Key not enabled"


def clean(text: object, limit: int = 240) -> str:
    """One printable line of at most ``limit`` characters (AWS messages may hold anything)."""
    line = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def error_parts(exc: BaseException) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a ClientError.

    moto (and some proxies) answer JSON-protocol calls with an XML error body; botocore then
    reports the HTTP status as the code and the XML as the message, so the code is read from it.
    """
    response = getattr(exc, "response", {}) or {}
    error = response.get("Error", {}) or {}
    code, message = str(error.get("Code", "") or ""), str(error.get("Message", "") or "")
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if (not code or code.isdigit()) and "<Code>" in message:
        found = re.search(r"<Code>([^<]{1,100})</Code>", message)
        text = re.search(r"<Message>([^<]{0,1000})</Message>", message)
        code, message = (found.group(1) if found else code), (text.group(1) if text else "")
    if message.lstrip().startswith("<"):  # an HTML error page says nothing useful
        message = ""
    return code or str(status), clean(message), status


def translate(conn: AwsConnection, exc: BaseException, doing: str, codes: ErrorCodes | None = None
              ) -> E.KmsError | None:
    """The typed error for a botocore exception raised on ``conn``; None for anything else (a bug)."""
    from botocore import exceptions as bx

    if isinstance(exc, E.KmsError):
        return exc
    if isinstance(exc, bx.ClientError):
        code, message, status = error_parts(exc)
        if codes and code in codes:
            return codes[code](message)
        return _client_error(conn, code, message, status, doing)
    tries = f"{conn.attempts} attempt{'s' if conn.attempts > 1 else ''}"
    if isinstance(exc, bx.ReadTimeoutError):
        return E.EngineUnavailable(
            f"{conn.where} did not answer within {conn.read_timeout:g} s while {doing} ({tries}).",
            hint="Check the endpoint and the network; read_timeout sets how long to wait.")
    if isinstance(exc, bx.ConnectTimeoutError):
        return E.EngineUnavailable(
            f"{conn.where} accepted no connection within {conn.connect_timeout:g} s while {doing} ({tries}).",
            hint="Check the endpoint_url, proxy and firewall.")
    if isinstance(exc, bx.SSLError):
        return E.EngineUnavailable(f"The TLS connection to {conn.where} failed while {doing}.",
                                   hint="Check the endpoint's certificate (AWS_CA_BUNDLE for a private CA).")
    if isinstance(exc, (bx.ConnectionError, bx.HTTPClientError)):
        cause = f"{exc} {getattr(exc, 'kwargs', {}).get('error', '')}".lower()  # botocore keeps the OS error aside
        reason = "the connection was refused" if "refused" in cause else "no connection could be made"
        if isinstance(exc, bx.ConnectionClosedError):
            reason = "the connection was closed"
        return E.EngineUnavailable(
            f"{conn.where} cannot be reached while {doing}: {reason} ({tries}, connect timeout "
            f"{conn.connect_timeout:g} s).", hint="Check that the endpoint is up and reachable.")
    if isinstance(exc, bx.NoCredentialsError):
        return E.EngineAuthError(f"No AWS credentials were found for engine {conn.engine_id!r}.",
                                 hint="Set the option profile, or access_key_id with its secret access key.")
    if isinstance(exc, (bx.ProfileNotFound, bx.PartialCredentialsError, bx.InvalidConfigError, bx.NoRegionError)):
        return E.EngineConfigError(f"The AWS configuration of engine {conn.engine_id!r} is not usable: {clean(exc)}.")
    if isinstance(exc, (bx.CredentialRetrievalError, bx.TokenRetrievalError, bx.SSOError)):
        return E.EngineAuthError(f"AWS credentials for engine {conn.engine_id!r} could not be obtained "
                                 f"({type(exc).__name__}).", hint="Refresh the profile's login (aws sso login).")
    if isinstance(exc, bx.ParamValidationError):  # its text may quote parameter values: not repeated
        return E.InvalidInput(f"The request was refused by botocore's checks while {doing}.")
    if isinstance(exc, bx.BotoCoreError):
        return E.EngineError(f"{conn.where} failed while {doing} ({type(exc).__name__}).")
    return None


def _client_error(conn: AwsConnection, code: str, message: str, status: int, doing: str) -> E.KmsError:
    said = f": {message}" if message else ""
    if code in _AUTH_CODES:
        hint = "Check the system clock." if code == "RequestExpired" else (
            f"Check the access key id and its secret (kms-tui engines secret {conn.engine_id}), or the profile; "
            "temporary credentials may have expired.")
        return E.EngineAuthError(
            f"AWS rejected the credentials of engine {conn.engine_id!r} while {doing} ({code}){said}.", hint=hint)
    if code in _ACCESS_CODES:
        return AwsAccessDenied(f"AWS denied {doing} ({code}){said}.",
                               hint="The IAM policy of these credentials, or the key's policy, must allow it.")
    if code in _THROTTLE_CODES:
        return AwsThrottled(f"AWS throttled {doing} after {conn.attempts} attempt(s) ({code}).",
                            hint="Wait a moment and retry; max_attempts allows more retries.")
    if code in _UNAVAILABLE_CODES or status >= 500:
        return E.EngineUnavailable(f"{conn.where} failed while {doing} (HTTP {status}, {code}).",
                                   hint="The service had an internal error; retry later.")
    return E.EngineError(f"AWS refused {doing} ({code}){said}.")
