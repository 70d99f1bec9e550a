"""Doctor: certificate rows that no longer agree with the certificate they hold.

A row is read back against its DER (fingerprint, the listed columns, the bound key's public
key) by ``kms.certs``; one edited outside kms-tui is an error to look into, never repaired:
the DER may be the edit, or the columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .doctor_report import ERROR, Finding

if TYPE_CHECKING:
    from .certs import CertService


def certificate_findings(certs: CertService) -> list[Finding]:
    return [
        Finding("database", ERROR, f"certificate {view.fingerprint[:16]}…",
                f"The certificate row {view.fingerprint[:16]}… ({view.subject[:80]}) does not agree with the "
                f"certificate it holds: {view.problem}",
                "The row was edited outside kms-tui: compare it with the certificate's file, then remove it "
                f"(kms-tui certs remove {view.fingerprint[:16]}) and add the file again.")
        for view in certs.list() if not view.intact
    ]
