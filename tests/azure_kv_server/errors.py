"""The error of the test Key Vault: an HTTP status and the REST API's error code and message."""

from __future__ import annotations


class VaultError(Exception):
    """Rendered as ``{"error": {"code": code, "message": message}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad(message: str) -> VaultError:
    """400 BadParameter, Key Vault's answer to a malformed or unsupported request."""
    return VaultError(400, "BadParameter", message)
