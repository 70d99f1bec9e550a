"""``kms-tui doctor [--json] [--repair] [--deep]``: the workstation's health, and what to do about it.

Every finding is printed, each with its fix; a check that could not run in full says
"incomplete" and its findings say what was not checked. Exit 0 when nothing is left
to act on, 1 when findings remain (after ``--repair``, the ones it could not fix) or
when something could not be checked.
"""

from __future__ import annotations

import json
import sys

from .io import safe_text

MARK = {"error": "ERROR", "warning": "WARN ", "info": "info "}
_FINDING_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)  # json.dumps with these options, made once


def doctor(kms, args) -> int:
    """Each finding is written as soon as it is final, the checks' statuses and the verdict at the end."""
    if args.json:
        return _doctor_json(kms, args)
    write = sys.stdout.write
    report = kms.doctor.run(repair=args.repair, deep=getattr(args, "deep", False),
                            on_finding=lambda f: write(_finding_text(f)))
    if report.findings:
        print()
    for check, status in report.checked.items():
        print(f"{check:<12} {status}")
    left = len(report.open_findings)
    print(f"\n{'Healthy: nothing to do.' if not left else f'{left} finding(s) to act on.'}")
    if report.incomplete:
        print(f"Not everything was checked: {', '.join(report.incomplete)} (see the findings marked [not checked]).")
    return 0 if report.clean else 1


def _finding_text(f) -> str:
    done = (" [not checked]" if f.unchecked else " [repaired]" if f.repaired
            else " [--repair fixes this]" if f.repairable else "")
    lines = [f"{MARK.get(f.severity, f.severity)} {f.check}: {safe_text(f.subject, 100)}{done}",
             f"      {safe_text(f.message)}"]
    if f.changed:
        lines.append(f"      changed: {safe_text(f.changed)}")
    if f.hint and not f.repaired:
        lines.append(f"      fix: {safe_text(f.hint)}")
    return "\n".join(lines) + "\n"


def _doctor_json(kms, args) -> int:
    """The report's JSON object, its findings array written as they are found and the rest after it.

    The same members as ``DoctorReport.to_json()``; "findings" comes first, one finding per line.
    """
    write = sys.stdout.write
    started = False

    def one(finding) -> None:
        nonlocal started
        write((",\n" if started else '{\n  "findings": [\n') + _FINDING_JSON.encode(finding.to_json()))
        started = True

    report = kms.doctor.run(repair=args.repair, deep=getattr(args, "deep", False), on_finding=one)
    rest = report.summary_json()
    write("\n  ],\n" if started else '{\n  "findings": [],\n')
    write(json.dumps(rest, indent=2, sort_keys=True, ensure_ascii=False)[2:] + "\n")  # its members, after "{\n"
    return 0 if report.clean else 1
