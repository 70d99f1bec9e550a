"""Typed errors of key ceremonies: a title and a plain sentence, like every other error."""

from __future__ import annotations

from ..service.errors import InvalidInput, KmsError


class ScriptError(InvalidInput):
    """The ceremony script is malformed; the message names the line."""

    title = "Ceremony script error"


class LintError(KmsError):
    """The script breaks a rule (a certificate or CRL profile, custody of a backup); nothing was done."""

    title = "Ceremony script refused"

    def __init__(self, findings: list[str]):
        self.findings = list(findings)
        super().__init__("; ".join(findings), hint="Fix the script; nothing was generated, signed or written.")


class CeremonyRefused(KmsError):
    """The ceremony cannot start (or go on) as scripted."""

    title = "Ceremony refused"


class CeremonyAborted(KmsError):
    title = "Ceremony aborted"
