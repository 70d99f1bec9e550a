"""``kms-tui keys certificate`` and ``keys issue``: certificates from a profile, signed by the key's engine.

The output file is claimed first (never overwritten), so nothing is signed for a path that
is taken; if the service refuses (a profile rule, a pkilint error, a signature that does not
verify), the claimed file is removed and nothing is left behind. pkilint's warnings are
printed as ``warning:`` lines on stderr, and how it linted when not as the profile says (an ML-DSA
certificate under a CA/B Forum profile is linted against RFC 5280) as ``note:`` lines.
"""

from __future__ import annotations

import sys

from ..files import read_file, write_made
from ..service.errors import Refused
from .io import emit_json, safe_text

MAX_INPUT_BYTES = 64 * 1024


def _report(args, made, what: str) -> int:
    for warning in made.warnings:
        print(f"warning: pkilint: {safe_text(warning, 300)}", file=sys.stderr)
    for note in made.lint_notes:
        print(f"note: pkilint: {safe_text(note, 300)}", file=sys.stderr)
    if args.json:
        emit_json({"path": args.out, **made.to_json()})
    else:
        print(f"{what} ({made.profile}) written to {safe_text(args.out, 200)}: subject {safe_text(made.subject, 200)}, "
              f"serial {made.serial}, not after {made.not_after}, SHA-256 {made.sha256}.")
    return 0


def certificate(kms, args) -> int:
    """``keys certificate REF --self-signed --subject … --profile NAME --out FILE``."""
    if not args.self_signed:
        raise Refused("keys certificate makes self-signed certificates only, and --self-signed states that intent.",
                      hint="Add --self-signed; to have a CA sign the key, make a CSR (keys csr) and use keys issue.")
    made = write_made(args.out, lambda: kms.certificates.self_signed(
        args.ref, args.subject, args.san, profile=args.profile, days=args.days, fmt=args.format,
        extended_key_usage=args.eku or None))
    return _report(args, made, f"Self-signed certificate of key {safe_text(made.key_name, 80)}")


def issue(kms, args) -> int:
    """``keys issue --ca REF --ca-cert FILE --csr FILE --profile NAME --out FILE``."""
    ca_cert = read_file(args.ca_cert, MAX_INPUT_BYTES, "CA certificate")
    csr = read_file(args.csr, MAX_INPUT_BYTES, "CSR")
    made = write_made(args.out, lambda: kms.certificates.issue(
        args.ca, ca_cert, csr, profile=args.profile, days=args.days, fmt=args.format,
        extended_key_usage=args.eku or None))
    return _report(args, made, f"Certificate issued by key {safe_text(made.key_name, 80)}")
