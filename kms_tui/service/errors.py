"""The one error root a user can see, and the one place that says what an error is to a user.

Every error an operator may see is a ``KmsError``: a ``title``, a plain-sentence
``message`` and an optional ``hint``. The engines raise it (it is defined at their
floor, ``engines.errors``); the store, which may not import the engines, raises
errors of the same shape that the service hands out as ``KmsError`` too: each
service method lets a store error escape only as its *twin*, a class that is both
the store's class (so code inside the service still catches it by that name) and a
``KmsError`` (so a front end catches one root). Anything else is a bug, logged with
its traceback and shown as a short internal-error line.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import store.errors as S
from engines.errors import (
    AlgorithmMismatch,
    EngineConfigError,
    InvalidInput,
    KmsError,
    UnknownEngineType,
    WrongPassphrase,
)

T = TypeVar("T")

_TWINS: dict[type[S.StoreError], type[KmsError]] = {}


def _twin_of(cls: type[S.StoreError]) -> type[KmsError]:
    twin = _TWINS.get(cls)
    if twin is None:
        twin = _TWINS[cls] = cast(
            "type[KmsError]",
            type(cls.__name__, (cls, KmsError), {"__module__": __name__, "__qualname__": cls.__name__}),
        )
    return twin


def user_error(exc: S.StoreError) -> KmsError:
    """``exc`` as the ``KmsError`` it is to a user (same class name, title, message, hint)."""
    if isinstance(exc, KmsError):
        return exc
    twin = _twin_of(type(exc))
    error = twin.__new__(twin, *exc.args)
    error.__dict__.update(exc.__dict__)
    error.args = exc.args
    return error


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Let a store error out of this block only as a ``KmsError``."""
    try:
        yield
    except S.StoreError as exc:
        if isinstance(exc, KmsError):
            raise
        raise user_error(exc).with_traceback(exc.__traceback__) from None


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            with user_errors():
                return (yield from fn(*args, **kwargs))
        return generator

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        with user_errors():
            return fn(*args, **kwargs)
    return call


class Service:
    """Base of the services ``Kms`` is made of: their public methods raise only ``KmsError``s."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(value):
                setattr(cls, name, _guarded(value))


# The store's errors as a user meets them (catch these, not the store's, outside the service).
InvalidValue = _twin_of(S.InvalidValue)
NotFound = _twin_of(S.NotFound)
Conflict = _twin_of(S.Conflict)
DatabaseError = _twin_of(S.DatabaseError)
CredentialsUnavailable = _twin_of(S.CredentialsUnavailable)
UntrustedPath = _twin_of(S.UntrustedPath)


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
    if isinstance(exc, S.StoreError) and not isinstance(exc, KmsError):
        exc = user_error(exc)  # a store error that left the store outside a service method
    if isinstance(exc, KmsError):
        message = exc.message
        if exc.hint:
            message = f"{message} {exc.hint}"
        return exc.title, message
    return "Internal error", f"{type(exc).__name__}: an unexpected error occurred; the log has the details."


__all__ = [
    "AlgorithmMismatch", "AmbiguousReference", "Cancelled", "Conflict", "CredentialsUnavailable", "DatabaseError",
    "EngineConfigError", "InvalidInput", "InvalidValue", "KeyNotFound", "KmsError", "NotFound", "Refused",
    "SecretNeeded", "Service", "ServiceError", "UnknownEngineType", "UntrustedPath", "WrongPassphrase", "render", "user_error",
    "user_errors",
]
