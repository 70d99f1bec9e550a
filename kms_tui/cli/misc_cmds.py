"""``kms-tui sync | stats | audit …`` handlers."""

from __future__ import annotations

import sys

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
    return 0


def stats(kms, args) -> int:
    data = kms.inventory.stats()
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
    filters = {}
    if args.key:
        record = kms.keys.resolve(args.key)
        filters["key_id"] = record.key_id
    if args.action:
        filters["action"] = args.action
    rows = kms.audit.rows(limit=max(1, args.limit), **filters)
    if args.json:
        emit_json([r.to_json() for r in rows])
        return 0
    print(table(("SEQ", "TIME", "ACTION", "ENGINE", "KEY"),
                [(r.seq, r.ts[:19], r.action, r.engine_id or "", (r.key_id or "")[:16]) for r in rows]))
    return 0


def audit_verify(kms, args) -> int:
    check = kms.audit.verify()
    if args.json:
        emit_json(check.to_json())
    elif check.ok:
        print(f"Audit chain intact: {check.rows} rows.")
    else:
        print(f"Audit chain BROKEN at row {check.first_broken}: {check.reason}")
    return 0 if check.ok else 1
