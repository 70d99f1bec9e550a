"""pkilint (DigiCert's linter) on certificates and CRLs before they are written.

A certificate is linted against RFC 5280, or against the CA/Browser Forum TLS Baseline
Requirements when its profile says ``lint = "cabf-serverauth"`` (the certificate type is
detected as pkilint's own ``lint_cabf_serverauth_cert --detect`` does). pkilint's CA/Browser Forum
lints know RSA and ECDSA keys alone (they call any other key or signature algorithm a prohibited
encoding), so a certificate whose key or signature is ML-DSA (id-ml-dsa-44/65/87, RFC 9881) is
linted against RFC 5280 instead, which knows ML-DSA (its key usage rules included), and the
report says so in a note. A CRL is linted against RFC 5280. ERROR and FATAL findings refuse the
object (``LintRefused`` names them); WARNING findings are handed back for the front end to show. pkilint is slow to import, so it
is imported only when something is linted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import Refused

CERTIFICATE_LINTS = ("rfc5280", "cabf-serverauth")
ML_DSA_OIDS = {"2.16.840.1.101.3.4.3.17": "ML-DSA-44", "2.16.840.1.101.3.4.3.18": "ML-DSA-65",
               "2.16.840.1.101.3.4.3.19": "ML-DSA-87"}


class LintRefused(Refused):
    """pkilint found an error in a certificate or CRL: it is not written."""

    title = "Lint error"


@dataclass(frozen=True)
class LintReport:
    """What pkilint said: the errors (which refuse) and the warnings (which are shown)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how it was linted, when not as asked

    def refuse(self, what: str) -> None:
        """``LintRefused`` naming every error, if there is one."""
        if self.errors:
            raise LintRefused(f"pkilint refuses the {what}: " + "; ".join(self.errors) + ". Nothing was written.",
                              hint="Change the profile or the request so that it conforms.")


def _report(results: Any) -> LintReport:
    from pkilint.validation import ValidationFindingSeverity as S

    errors: list[str] = []
    warnings: list[str] = []
    for result in results:
        for described in result.finding_descriptions:
            text = f"{described.finding.code}" + (f" ({described.message})" if described.message else "")
            if described.finding.severity <= S.ERROR:
                errors.append(text)
            elif described.finding.severity == S.WARNING:
                warnings.append(text)
    return LintReport(sorted(set(errors)), sorted(set(warnings)))


def _rfc5280_certificate(document: Any) -> Any:
    from pkilint.pkix import certificate, extension, name

    validator = certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS),
        [certificate.create_issuer_validator_container([]), certificate.create_validity_validator_container(),
         certificate.create_subject_validator_container([]), certificate.create_extensions_validator_container([]),
         certificate.create_spki_validator_container([])])
    return validator.validate(document.root)


def _cabf_certificate(document: Any) -> Any:
    from pkilint import finding_filter
    from pkilint.cabf import serverauth
    from pkilint.pkix import certificate

    kind = serverauth.determine_certificate_type(document)
    validator = certificate.create_pkix_certificate_validator_container(
        serverauth.create_decoding_validators(), serverauth.create_validators(kind))
    results, _ = finding_filter.filter_results(
        serverauth.create_serverauth_finding_filters(kind), validator.validate(document.root))
    return results


def _ml_dsa_parts(document: Any) -> list[str]:
    """What in the certificate is ML-DSA: "key (ML-DSA-65)", "signature (ML-DSA-87)" (empty for neither)."""
    paths = (("key", "tbsCertificate.subjectPublicKeyInfo.algorithm.algorithm"),
             ("signature", "signatureAlgorithm.algorithm"))
    found = []
    for what, path in paths:
        name = ML_DSA_OIDS.get(str(document.root.navigate(path).pdu))
        if name:
            found.append(f"{what} ({name})")
    return found


def certificate(der: bytes, lint: str = "rfc5280") -> LintReport:
    """pkilint's findings on a DER certificate, against ``lint`` (one of CERTIFICATE_LINTS; RFC 5280 for a
    certificate with an ML-DSA key or signature, with a note saying so)."""
    from pkilint import loader

    if lint not in CERTIFICATE_LINTS:
        raise ValueError(f"unknown lint {lint!r}")
    document = loader.RFC5280CertificateDocumentLoader().load_der_document(der, "certificate")
    ml_dsa = _ml_dsa_parts(document) if lint == "cabf-serverauth" else []
    if lint == "cabf-serverauth" and not ml_dsa:
        return _report(_cabf_certificate(document))
    report = _report(_rfc5280_certificate(document))
    if ml_dsa:
        report.notes.append(f"linted against RFC 5280, not the CA/Browser Forum profile: pkilint's CA/B Forum lints "
                            f"know RSA and ECDSA alone, and this certificate's {' and '.join(ml_dsa)} "
                            + ("are ML-DSA" if len(ml_dsa) > 1 else "is ML-DSA"))
    return report


def crl(der: bytes) -> LintReport:
    """pkilint's RFC 5280 findings on a DER CRL."""
    from pkilint import loader, pkix
    from pkilint.pkix import crl as pkix_crl
    from pkilint.pkix import extension, name

    validator = pkix_crl.create_pkix_crl_validator_container(
        [pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
         pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS)],
        [pkix_crl.create_issuer_validator_container([]), pkix_crl.create_validity_validator_container([]),
         pkix_crl.create_extensions_validator_container([])])
    document = loader.RFC5280CertificateListDocumentLoader().load_der_document(der, "crl")
    return _report(validator.validate(document.root))
