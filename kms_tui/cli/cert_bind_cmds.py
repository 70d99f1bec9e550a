"""``kms-tui certs …`` handlers: certificates bound to keys."""

from __future__ import annotations

from ..files import read_file
from ..service.errors import InvalidInput
from .io import emit_json, safe_text

MAX_CERT_FILE_BYTES = 1 << 20


def _line(view) -> str:
    """One certificate in a line: fingerprint, days left, subject, key and chain status."""
    key = safe_text(view.key_name, 40) if view.key_name else "(chain member)"
    flag = "" if view.intact else f"  ALTERED: {safe_text(view.problem, 80)}"
    return (f"{view.fingerprint[:16]}  {view.not_after[:10]} ({view.days_left:>5} d)  {key:<24}  "
            f"{safe_text(view.subject, 60)}  [{view.chain}]{flag}")


def add(kms, args) -> int:
    """``certs add FILE…``: every file is read first, then each is added (bundles whole)."""
    contents = [read_file(path, MAX_CERT_FILE_BYTES, "certificate") for path in args.files]
    views = []
    for data in contents:
        views.extend(kms.certs.add(data, key=args.key))
    if args.json:
        emit_json([v.to_json() for v in views])
    else:
        for view in views:
            print(_line(view))
    return 0


def show(kms, args) -> int:
    view = kms.certs.show(args.fingerprint)
    if args.json:
        emit_json(view.to_json())
        return 0
    rows = [("Fingerprint", view.fingerprint), ("Subject", view.subject), ("Issuer", view.issuer),
            ("Serial", view.serial), ("Not before", view.not_before),
            ("Not after", f"{view.not_after} ({view.days_left} days left)"),
            ("Key", f"{view.key_name} ({view.key_id}) on {view.engine_id}" if view.key_name else "(chain member)"),
            ("Chain", view.chain), ("Source", view.source)]
    for label, value in rows:
        print(f"{label + ':':<13}{safe_text(str(value), 300)}")
    return 0


def export(kms, args) -> int:
    from ..files import write_new_file

    if not args.out:
        raise InvalidInput("Give the file to write with --out.")
    data = kms.certs.export(args.fingerprint, chain=args.chain)
    written = write_new_file(args.out, data)
    print(f"{data.count(b'-----BEGIN CERTIFICATE-----')} certificate(s) written to {safe_text(written, 200)}.")
    return 0


def remove(kms, args) -> int:
    view = kms.certs.remove(args.fingerprint)
    if args.json:
        emit_json({"removed": view.fingerprint, "key": view.key_name})
    else:
        print(f"Certificate {view.fingerprint[:16]}… ({safe_text(view.subject, 80)}) removed.")
    return 0


def list_certs(kms, args) -> int:
    views = kms.certs.list(expiring_days=args.expiring, key=args.key)
    if args.json:
        emit_json([v.to_json() for v in views])
    else:
        for view in views:
            print(_line(view))
        if not views:
            print("No certificates.")
    return 0
