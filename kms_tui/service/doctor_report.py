"""What the doctor hands back: findings (how bad, what, what to do) and the report of a run.

A check, or the part of one for an engine, that could not run is a finding too
(``unchecked``): its check's status is then "incomplete", never "ok".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ERROR, WARNING, INFO = "error", "warning", "info"
ENGINE_TIMEOUT = 10.0  # seconds for each engine to answer, all checked at once
CHECKS = ("permissions", "database", "audit", "keyring", "engines", "consistency")
OK, REPAIRED, FINDINGS, INCOMPLETE = "ok", "repaired", "findings", "incomplete"


@dataclass
class Finding:
    """One thing the doctor found: how bad, what, and what to do about it."""

    check: str  # one of CHECKS
    severity: str  # error | warning | info
    subject: str  # a path, an engine id or a key name
    message: str
    hint: str
    repairable: bool = False
    repaired: bool = False
    changed: str = ""  # what --repair changed, e.g. "mode 0777 changed to 0700 (chmod 700 …)"
    unchecked: bool = False  # what it names was not checked (the check, or its part, could not run)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DoctorReport:
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, str] = field(default_factory=dict)  # check -> ok | repaired | findings | incomplete
    # | skipped: why (nothing to check)
    repair: bool = False

    @property
    def open_findings(self) -> list[Finding]:
        """Warnings and errors still to act on (info and repaired ones are not)."""
        return [f for f in self.findings if f.severity != INFO and not f.repaired]

    @property
    def clean(self) -> bool:
        return not self.open_findings

    @property
    def incomplete(self) -> list[str]:
        """The checks not run in full: what they did not check is named by an ``unchecked`` finding."""
        return [name for name, status in self.checked.items() if status == INCOMPLETE]

    def status_of(self, check: str) -> str:
        """A check's status from its findings: not everything checked, something found, or ok."""
        mine = [f for f in self.findings if f.check == check]
        if any(f.unchecked for f in mine):
            return INCOMPLETE
        found = [f for f in mine if f.severity != INFO]
        return OK if not found else REPAIRED if all(f.repaired for f in found) else FINDINGS

    def to_json(self) -> dict[str, Any]:
        return {"clean": self.clean, "repair": self.repair, "checked": dict(self.checked),
                "incomplete": self.incomplete, "findings": [f.to_json() for f in self.findings]}
