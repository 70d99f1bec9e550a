"""Errors of the service layer, and the one place that says what an error is to a user.

Engine errors (``engines.errors.KmsError``) and store errors
(``store.errors.StoreError``) share one shape: ``title``, ``message``, ``hint``.
``USER_ERRORS`` is what the CLI and the TUI catch and render; anything else is
a bug, logged with its traceback and shown as a short internal-error line.
"""

from __future__ import annotations

from engines.errors import KmsError
from store.errors import StoreError

USER_ERRORS = (KmsError, StoreError)


class ServiceError(KmsError):
    title = "Operation refused"


class KeyNotFound(ServiceError):
    title = "Key not found"


class AmbiguousReference(ServiceError):
    title = "Ambiguous key reference"


class Refused(ServiceError):
    """An operation that would lose something without an explicit --force."""

    title = "Refused"


class SecretNeeded(ServiceError):
    title = "Secret needed"


class Cancelled(ServiceError):
    title = "Cancelled"


def render(exc: BaseException) -> tuple[str, str]:
    """(title, sentence) for a user; never a traceback, never a secret."""
    if isinstance(exc, USER_ERRORS):
        message = exc.message
        if exc.hint:
            message = f"{message} {exc.hint}"
        return exc.title, message
    return "Internal error", f"{type(exc).__name__}: an unexpected error occurred; the log has the details."
