"""Key ceremonies: a declarative script, rehearsed on a scratch token, run step by step with
witnesses, and recorded in a hash-chained transcript that ties every output to its hash. Each
transcript entry is on disk before the ceremony goes on, so an interrupted ceremony leaves a
transcript that ``ceremony verify`` still checks and that names where it stopped.

No Textual here: the CLI (``kms-tui ceremony …``) and the Ceremony screen both drive
``Ceremony`` (runner.py). Keys are made and used through the ``Kms`` service, so they are
recorded and audited like any other key, and private keys never leave their engine.
"""

from __future__ import annotations

from .errors import CeremonyAborted, CeremonyRefused, LintError, ScriptError
from .runner import Ceremony, StepResult
from .script import Script, Step, load_script, parse_script
from .verify import VerifyReport, verify

__all__ = [
    "Ceremony", "CeremonyAborted", "CeremonyRefused", "LintError", "Script", "ScriptError", "Step",
    "StepResult", "VerifyReport", "load_script", "parse_script", "verify",
]
