"""``kms-tui sync | stats | audit …`` handlers."""

from __future__ import annotations

import sys

from . import lamassu_output as lamassu
from .io import emit_json, safe_text, table


def sync(kms, args) -> int:
    def progress(done: int, total, engine_id: str) -> None:
        if sys.stderr.isatty() and done % 100 == 0:
            sys.stderr.write(f"\r{engine_id}: {done} keys read")
    reports = kms.inventory.sync(args.engine, progress=progress, full=args.full)
    if args.json:
        emit_json([r.to_json() for r in reports])
        return 0
    for r in reports:
        print(f"{r.engine_id}: {r.seen} in engine, {len(r.adopted)} adopted, {len(r.missing)} flagged missing, "
              f"{len(r.restored)} restored, {r.unchanged} unchanged")
        for key_id in r.adopted:
            print(f"  adopted  {key_id}")
        for key_id in r.missing:
            print(f"  missing  {key_id}")
        for fingerprint in r.certificates:
            print(f"  certificate  {fingerprint}")
    return 0


def stats(kms, args) -> int:
    data = kms.inventory.stats()
    if lamassu.wanted(args):
        lamassu.write_stats(data)
        return 0
    if args.json:
        emit_json(data)
        return 0
    print(f"Total keys: {data['total']}   bound: {data['bound']}   unbound: {data['unbound']}")
    for title, key in (("By engine", "by_engine"), ("By algorithm", "by_algorithm"), ("By size", "by_size"),
                       ("By strength", "by_strength"), ("By security level", "by_security_level")):
        print(f"\n{title}:")
        for name, count in data[key].items():
            print(f"  {safe_text(name, 40):<40} {count}")
    return 0


def audit_list(kms, args) -> int:
    """Recent rows; ``--key`` takes what a key is or was known as, deleted keys too, grouped by engine."""
    filters = {}
    known = kms.audit.keys_known_as(args.key) if args.key else []
    if known:
        filters["keys"] = [(k.engine_id, k.key_id) for k in known]
    if args.action:
        filters["action"] = args.action
    rows = kms.audit.rows(limit=max(1, args.limit), **filters)
    groups = [(k, [r for r in rows if (r.engine_id, r.key_id) == (k.engine_id, k.key_id)]) for k in known]
    if args.json:
        emit_json([r.to_json() for r in ([r for _, group in groups for r in group] if known else rows)])
        return 0
    if len(known) < 2:
        print(_audit_table(rows))
        return 0
    print("\n\n".join(f"{_record_line(k)}\n{_audit_table(group)}" for k, group in groups))
    return 0


def _audit_table(rows) -> str:
    return table(("SEQ", "TIME", "ACTION", "ENGINE", "KEY", "NAME"),
                 [(r.seq, r.ts[:19], r.action, r.engine_id or "", (r.key_id or "")[:16], r.key_name or "")
                  for r in rows], widths={5: 40})


def _record_line(known) -> str:
    state = "recorded" if known.recorded else "no longer recorded"
    return safe_text(f"Engine {known.engine_id}: key {known.key_id[:16]}… {known.name or ''} ({state})", 120)


def audit_verify(kms, args) -> int:
    check = kms.audit.verify()
    if args.json:
        emit_json(check.to_json())
    elif check.ok:
        print(f"Audit chain intact: {check.rows} rows.")
    else:
        print(f"Audit chain BROKEN at row {check.first_broken}: {check.reason}")
    return 0 if check.ok else 1
