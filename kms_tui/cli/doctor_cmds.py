"""``kms-tui doctor [--json] [--repair] [--deep]``: the workstation's health, and what to do about it.

Every finding is printed, each with its fix; a check that could not run in full says
"incomplete" and its findings say what was not checked. Exit 0 when nothing is left
to act on, 1 when findings remain (after ``--repair``, the ones it could not fix) or
when something could not be checked.
"""

from __future__ import annotations

from .io import emit_json, safe_text

MARK = {"error": "ERROR", "warning": "WARN ", "info": "info "}


def doctor(kms, args) -> int:
    report = kms.doctor.run(repair=args.repair, deep=getattr(args, "deep", False))
    if args.json:
        emit_json(report.to_json())
        return 0 if report.clean else 1
    for check, status in report.checked.items():
        print(f"{check:<12} {status}")
    if report.findings:
        print()
    for f in report.findings:
        done = (" [not checked]" if f.unchecked else " [repaired]" if f.repaired
                else " [--repair fixes this]" if f.repairable else "")
        print(f"{MARK.get(f.severity, f.severity)} {f.check}: {safe_text(f.subject, 100)}{done}")
        print(f"      {safe_text(f.message)}")
        if f.changed:
            print(f"      changed: {safe_text(f.changed)}")
        if f.hint and not f.repaired:
            print(f"      fix: {safe_text(f.hint)}")
    left = len(report.open_findings)
    print(f"\n{'Healthy: nothing to do.' if not left else f'{left} finding(s) to act on.'}")
    if report.incomplete:
        print(f"Not everything was checked: {', '.join(report.incomplete)} (see the findings marked [not checked]).")
    return 0 if report.clean else 1
