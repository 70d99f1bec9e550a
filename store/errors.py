"""Typed errors of the metadata and credential stores.

They share the shape of ``engines.errors.KmsError`` (a ``title``, a plain
``message`` and an optional ``hint``) without importing it: the store and the
engines stay independent, and the presentation layer renders both alike.
"""

from __future__ import annotations


class StoreError(Exception):
    title = "Metadata store error"

    def __init__(self, message: str, *, title: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"


class InvalidValue(StoreError):
    """A name, alias, tag or argument the store refuses (empty, too long, control characters)."""

    title = "Invalid value"


class NotFound(StoreError):
    title = "Not found"


class Conflict(StoreError):
    """A name, alias or id that must be unique is taken."""

    title = "Already exists"


class DatabaseError(StoreError):
    title = "Database error"


class SchemaTooNew(DatabaseError):
    title = "Database from a newer version"


class CredentialsUnavailable(StoreError):
    """No usable OS keyring (none installed, locked, or a plaintext one refused)."""

    title = "No keyring available"


class UntrustedPath(StoreError):
    """The data directory or a database file belongs to another user, or others may write to it."""

    title = "Untrusted data directory"
