"""What the doctor hands back: findings (how bad, what, what to do) and the report of a run.

A check, or the part of one for an engine, that could not run is a finding too
(``unchecked``): its check's status is then "incomplete", never "ok".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
        return dict(self.__dict__)  # every field is a str or a bool: asdict's deep copy would change nothing


Listener = Callable[[Finding], None]


class Findings(list[Finding]):
    """The findings of a run, in the order found; ``listener`` (if any) is told of each as it is added.

    A front end prints a finding as soon as its check finds it, not after every check ran.
    """

    def __init__(self, items: Iterable[Finding] = (), listener: Listener | None = None) -> None:
        super().__init__(items)
        self.listener = listener

    def append(self, finding: Finding) -> None:
        super().append(finding)
        if self.listener is not None:
            self.listener(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.append(finding)

    def __iadd__(self, findings: Iterable[Finding]) -> Findings:  # type: ignore[override,misc]
        self.extend(findings)
        return self


@dataclass
class DoctorReport:
    findings: list[Finding] = field(default_factory=Findings)
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
        return {**self.summary_json(), "findings": [f.to_json() for f in self.findings]}

    def summary_json(self) -> dict[str, Any]:
        """``to_json()`` without its findings (a front end that wrote them as found)."""
        return {"clean": self.clean, "repair": self.repair, "checked": dict(self.checked),
                "incomplete": self.incomplete}
