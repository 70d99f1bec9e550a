"""What the doctor hands back: findings (how bad, what, what to do) and the report of a run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ERROR, WARNING, INFO = "error", "warning", "info"
ENGINE_TIMEOUT = 10.0  # seconds for each engine to answer, all checked at once
CHECKS = ("permissions", "database", "audit", "keyring", "engines", "consistency")


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DoctorReport:
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, str] = field(default_factory=dict)  # check -> ok | repaired | findings | skipped: why
    repair: bool = False

    @property
    def open_findings(self) -> list[Finding]:
        """Warnings and errors still to act on (info and repaired ones are not)."""
        return [f for f in self.findings if f.severity != INFO and not f.repaired]

    @property
    def clean(self) -> bool:
        return not self.open_findings

    def to_json(self) -> dict[str, Any]:
        return {"clean": self.clean, "repair": self.repair, "checked": dict(self.checked),
                "findings": [f.to_json() for f in self.findings]}
