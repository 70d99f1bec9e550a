"""Typed errors raised by the engine drivers and the shared key logic.

Every error carries a short ``title`` and a plain-sentence ``message`` that an
operator can act on. Messages never contain secrets (PINs, passphrases, tokens,
private key bytes).
"""

from __future__ import annotations


class KmsError(Exception):
    """Base of every error an operator may see: a title and a plain sentence."""

    title = "Key management error"

    def __init__(self, message: str, *, title: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"


class InvalidInput(KmsError):
    title = "Invalid input"


class KeyParseError(InvalidInput):
    title = "Unreadable key"


class WrongPassphrase(KmsError):
    title = "Wrong passphrase"


class PassphraseChanged(WrongPassphrase):
    """The passphrase this driver holds no longer opens its directory's keys: a re-key ran elsewhere."""

    title = "Passphrase changed"


class UnsupportedKeyType(InvalidInput):
    title = "Unsupported key type"


class AlgorithmMismatch(InvalidInput):
    title = "Algorithm does not fit the key"


class DigestLengthError(InvalidInput):
    title = "Wrong digest length"


class EngineError(KmsError):
    title = "Engine error"


class EngineUnavailable(EngineError):
    title = "Engine unreachable"


class EngineConfigError(EngineError):
    title = "Engine configuration error"


class EngineAuthError(EngineError):
    title = "Engine authentication failed"


class KeyNotFoundInEngine(EngineError):
    title = "Key not found in engine"


class KeyPendingDeletion(KeyNotFoundInEngine):
    """Deleted but still recoverable: gone for every use except restoring (or purging) it."""

    title = "Key pending deletion"


class KeyExists(EngineError):
    title = "Key already exists"


class OperationNotSupported(EngineError):
    title = "Operation not supported"


class UnknownEngineType(EngineConfigError):
    title = "Unknown engine type"


class InsecurePermissions(EngineConfigError):
    """A key directory others may write to: its files cannot be trusted, so none is read or written."""

    title = "Insecure key directory"


class KeyIntegrityError(EngineError):
    """The key an engine holds under a key id is not that key (a replaced or corrupted key file)."""

    title = "Key does not match its id"
