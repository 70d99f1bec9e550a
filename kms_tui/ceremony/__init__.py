"""Key ceremonies: a declarative script, rehearsed on a scratch token, run step by step with
witnesses, and recorded in a hash-chained transcript that ties every output to its hash.

No Textual here: the CLI (``kms-tui ceremony …``) and the Ceremony screen both drive
``Ceremony`` (runner.py). Keys are made and used through the ``Kms`` service, so they are
recorded and audited like any other key, and private keys never leave their engine.
"""

from __future__ import annotations

from .errors import CeremonyAborted, CeremonyRefused, LintError, ScriptError
from .runner import Ceremony, StepResult
from .script import Script, Step, load_script, parse_script
from .transcript import VerifyReport, verify

__all__ = [
    "Ceremony", "CeremonyAborted", "CeremonyRefused", "LintError", "Script", "ScriptError", "Step",
    "StepResult", "VerifyReport", "load_script", "parse_script", "verify",
]
