"""The certificate service (``kms.certificates``): self-signed and issued certificates from any key.

A certificate is drafted with cryptography's builder and a throwaway key, its TBS bytes are
signed by the key's engine through ``kms.signing`` (the key proof, the check against the
recorded key and the ``key.sign`` audit row hold as for any signature) and re-assembled
(x509_draft, as for a CSR). The result is verified against the signing key's recorded public
key and linted by pkilint (cert_lint) before it is handed out; ``key.certificate`` /
``key.issue`` audit rows record its subject, serial, fingerprint and profile. What a
certificate says comes from a profile (cert_profiles); ``builder`` is shared with the
ceremony's certificate steps.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from engines import algorithms as A
from engines import keys as K
from engines.errors import InvalidInput, KeyIntegrityError

from . import cert_lint
from . import x509_draft as D
from .cert_profiles import Profile, load
from .core import ServiceContext
from .errors import Refused, Service
from .key_ops import KeyService
from .signing import SigningService
from .x509_names import describe_san, parse_sans, parse_subject

if TYPE_CHECKING:
    from store import KeyRecord

FORMATS = ("pem", "der")
SERIAL_BITS = 128
MAX_CSR_BYTES = 64 * 1024
MAX_CERT_BYTES = 64 * 1024
EXTENDED_KEY_USAGE_OIDS = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH, "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING, "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING, "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING}
HASH_CLASSES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
TbsSigner = Callable[[bytes], bytes]  # the TBS bytes -> the engine's signature


def random_serial(bits: int = SERIAL_BITS) -> int:
    """A positive serial with ``bits`` bits from the CSPRNG (the top bit set, so it has all of them)."""
    return secrets.randbits(bits - 1) | (1 << (bits - 1))


def subject_key_identifier(public_key: K.PublicKey, method: str) -> x509.SubjectKeyIdentifier:
    """RFC 5280 method 1 (SHA-1 of the subjectPublicKey BIT STRING), or the SHA-256 of the DER SPKI
    (Lamassu's key id, DESIGN.md §2: a certificate's SKI and its key's Lamassu key id are the same value)."""
    if method == "sha256":
        return x509.SubjectKeyIdentifier(hashlib.sha256(K.spki_der(public_key)).digest())
    return x509.SubjectKeyIdentifier.from_public_key(public_key)


def key_usage(names: Iterable[str]) -> x509.KeyUsage:
    chosen = set(names)
    return x509.KeyUsage(**{n: n in chosen for n in (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
        "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")})


def requested_extensions(profile: Profile) -> list[tuple[x509.ExtensionType, bool]]:
    """The extensions a CSR made for ``profile`` asks for: basic constraints, key usage, EKU."""
    path_length = profile.path_length if profile.ca else None
    out: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=profile.ca, path_length=path_length), True), (key_usage(profile.key_usage), True)]
    if profile.extended_key_usage:
        out.append((x509.ExtendedKeyUsage([EXTENDED_KEY_USAGE_OIDS[u] for u in profile.extended_key_usage]), False))
    return out


def builder(*, subject: x509.Name, issuer: x509.Name, public_key: K.PublicKey, serial: int,
            not_before: datetime, not_after: datetime, p: Mapping[str, Any], issuer_ski: bytes | None,
            sans: list[x509.GeneralName] | None = None) -> x509.CertificateBuilder:
    """A certificate builder with the profile's extensions (``p``: ca, path_length, key_usage, ski, and
    optionally extended_key_usage, policies, crl_distribution_points, ocsp, ca_issuers)."""
    ski = subject_key_identifier(public_key, p["ski"])
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
         .serial_number(serial).not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=p["ca"], path_length=p["path_length"] if p["ca"] else None),
                        critical=True)
         .add_extension(key_usage(p["key_usage"]), critical=True)
         .add_extension(ski, critical=False)
         .add_extension(x509.AuthorityKeyIdentifier(issuer_ski or ski.digest, None, None), critical=False))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return _optional_extensions(b, p)


def _optional_extensions(b: x509.CertificateBuilder, p: Mapping[str, Any]) -> x509.CertificateBuilder:
    if p.get("extended_key_usage"):
        b = b.add_extension(x509.ExtendedKeyUsage(
            [EXTENDED_KEY_USAGE_OIDS[u] for u in p["extended_key_usage"]]), critical=False)
    if p.get("crl_distribution_points"):
        b = b.add_extension(x509.CRLDistributionPoints([
            x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
            for u in p["crl_distribution_points"]]), critical=False)
    access = [x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u))
              for u in p.get("ocsp") or []]
    access += [x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                      x509.UniformResourceIdentifier(u)) for u in p.get("ca_issuers") or []]
    if access:
        b = b.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    if p.get("policies"):
        b = b.add_extension(x509.CertificatePolicies([
            x509.PolicyInformation(x509.ObjectIdentifier(o), None) for o in p["policies"]]), critical=False)
    return b


def engine_signed(b: x509.CertificateBuilder, key_algorithm: str, hash_name: str | None, sign: TbsSigner,
                  key_size: int | None = None) -> bytes:
    """The DER certificate ``b`` describes, its TBS bytes signed by ``sign`` (the engine). Ed25519 and
    ML-DSA (``key_size``: its parameter set) sign the TBS itself: ``hash_name`` is not used for them."""
    digest = None if key_algorithm in D.PURE else HASH_CLASSES[hash_name or "SHA256"]()
    draft = b.sign(D.throwaway(key_algorithm, key_size), digest)
    tbs = draft.tbs_certificate_bytes
    return D.resign(draft.public_bytes(Encoding.DER), tbs, sign(tbs))


@dataclass
class CertificateResult:
    """A verified, linted certificate: its bytes in the asked format and what the audit row says of it."""

    data: bytes
    format: str
    subject: str  # RFC 4514
    issuer: str
    serial: str  # hex
    sha256: str  # of the DER certificate
    profile: str
    not_before: str
    not_after: str
    sans: list[str] = field(default_factory=list)
    signature_algorithm: str = ""
    key_id: str = ""
    key_name: str = ""
    warnings: list[str] = field(default_factory=list)
    lint_notes: list[str] = field(default_factory=list)  # how pkilint linted it, when not as the profile says

    def to_json(self) -> dict[str, object]:
        return {"format": self.format, "subject": self.subject, "issuer": self.issuer, "serial": self.serial,
                "sha256": self.sha256, "profile": self.profile, "not_before": self.not_before,
                "not_after": self.not_after, "sans": self.sans, "signature_algorithm": self.signature_algorithm,
                "key_id": self.key_id, "key_name": self.key_name, "warnings": self.warnings,
                "lint_notes": self.lint_notes}


@dataclass(frozen=True)
class _Request:
    """What the certificate will say: subject, SANs, profile, validity."""

    subject: x509.Name
    sans: list[x509.GeneralName]
    profile: Profile
    not_before: datetime
    not_after: datetime
    extended_key_usage: tuple[str, ...] | None


class CertificateService(Service):
    """Self-signed certificates and certificates issued by a CA key, signed by the key's engine."""

    def __init__(self, context: ServiceContext, keys: KeyService, signing: SigningService) -> None:
        self._ctx = context
        self._keys = keys
        self._signing = signing

    def self_signed(self, ref: str, subject: str, sans: Iterable[str] = (), *, profile: str, days: int | None = None,
                    fmt: str = "pem", extended_key_usage: Iterable[str] | None = None) -> CertificateResult:
        """A certificate for key ``ref`` signed by itself, with the profile's extensions; verified and linted."""
        request = _request(parse_subject(subject), parse_sans(sans), profile, days, fmt, extended_key_usage)
        record = self._signer(ref)
        public_key = self._signing.proofs.recorded_public_key(record, "certificate")
        b = self._builder(request, request.subject, public_key, None)
        cert, sig_alg = self._sign(ref, record, request.profile, b, issuer=None)
        return self._finish("key.certificate", record, cert, request, fmt, sig_alg)

    def issue(self, ca_ref: str, ca_certificate: bytes, csr: bytes, *, profile: str, days: int | None = None,
              fmt: str = "pem", extended_key_usage: Iterable[str] | None = None) -> CertificateResult:
        """A certificate for the key of ``csr`` (PEM or DER, its signature checked), issued by key ``ca_ref``
        whose certificate is ``ca_certificate`` (it must hold the key's recorded public key)."""
        request_csr = _read_csr(csr)
        ca_cert = _read_certificate(ca_certificate)
        names = _csr_sans(request_csr)
        request = _request(request_csr.subject, names, profile, days, fmt, extended_key_usage)
        record = self._signer(ca_ref)
        ca_public = self._signing.proofs.recorded_public_key(record, "issue")
        _check_ca(ca_cert, ca_public, record, request)
        b = self._builder(request, ca_cert.subject, request_csr.public_key(), _ski(ca_cert))
        cert, sig_alg = self._sign(ca_ref, record, request.profile, b, issuer=ca_cert)
        return self._finish("key.issue", record, cert, request, fmt, sig_alg)

    def _signer(self, ref: str) -> KeyRecord:
        record = self._keys.resolve(ref)
        if not record.has_private_key:
            raise Refused(f"Key {record.name[:80]!r} is public-key only: it cannot sign a certificate.")
        return record

    def _builder(self, request: _Request, issuer: x509.Name, public_key: Any,
                 issuer_ski: bytes | None) -> x509.CertificateBuilder:
        p = request.profile.fields()
        if request.extended_key_usage is not None:
            p["extended_key_usage"] = list(request.extended_key_usage)
        return builder(subject=request.subject, issuer=issuer, public_key=public_key, serial=random_serial(),
                       not_before=request.not_before, not_after=request.not_after, p=p, issuer_ski=issuer_ski,
                       sans=request.sans)

    def _sign(self, ref: str, record: KeyRecord, profile: Profile, b: x509.CertificateBuilder, *,
              issuer: x509.Certificate | None) -> tuple[x509.Certificate, str]:
        """The certificate signed by key ``ref`` through kms.signing (proof, check, audit), verified against
        its issuer's certificate (``None``: itself, self-signed) before anything else sees it."""
        sig_alg = _signing_algorithm(record, profile)
        hash_name = (sig_alg.hash_name or "sha256").upper()
        der = engine_signed(b, record.algorithm, hash_name, lambda tbs: self._signing.sign(ref, sig_alg.name, tbs, "RAW"),
                            record.size)
        cert = x509.load_der_x509_certificate(der)
        try:
            cert.verify_directly_issued_by(cert if issuer is None else issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise _not_verified() from None
        return cert, sig_alg.name

    def _finish(self, action: str, record: KeyRecord, cert: x509.Certificate, request: _Request, fmt: str,
                sig_alg: str) -> CertificateResult:
        der = cert.public_bytes(Encoding.DER)
        report = cert_lint.certificate(der, request.profile.lint)
        report.refuse("certificate")
        made = CertificateResult(
            data=der if fmt == "der" else cert.public_bytes(Encoding.PEM), format=fmt,
            subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
            serial=format(cert.serial_number, "x"), sha256=hashlib.sha256(der).hexdigest(),
            profile=request.profile.name, not_before=_stamp(request.not_before), not_after=_stamp(request.not_after),
            sans=[describe_san(n) for n in request.sans], signature_algorithm=sig_alg, key_id=record.key_id,
            key_name=record.name, warnings=report.warnings, lint_notes=report.notes)
        self._ctx.store.audit.append(action, engine_id=record.engine_id, key_id=record.key_id, details={
            "subject": made.subject, "issuer": made.issuer, "serial": made.serial, "certificate_sha256": made.sha256,
            "profile": made.profile, "not_after": made.not_after, "sans": made.sans})
        return made


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _not_verified() -> KeyIntegrityError:
    return KeyIntegrityError("The engine's signature on the certificate does not verify with the key's recorded "
                             "public key; nothing was written.")


def _signing_algorithm(record: KeyRecord, profile: Profile) -> A.SigningAlgorithm:
    natural = A.signing_algorithm(K.natural_algorithm(record.algorithm, record.size))
    if profile.hash is not None and record.algorithm == A.ML_DSA:
        raise InvalidInput(
            f"Profile {profile.name!r} asks for {profile.hash}, but ML-DSA-{record.size} has no hash to choose: it "
            "signs the certificate itself (SHAKE256 inside, signature algorithm id-ml-dsa-"
            f"{record.size}); nothing was signed.", hint="Use a profile without a hash for an ML-DSA key.")
    if profile.hash is None or record.algorithm == A.ED25519:
        return natural
    bits = profile.hash.removeprefix("SHA")
    name = f"ECDSA_SHA_{bits}" if record.algorithm == A.ECDSA else natural.name.rsplit("_", 1)[0] + f"_{bits}"
    return A.signing_algorithm(name)


def _request(subject: x509.Name, sans: list[x509.GeneralName], profile_name: str, days: int | None, fmt: str,
             extended_key_usage: Iterable[str] | None) -> _Request:
    """The checked request: the profile's SAN rule and maximum validity hold (nothing signed yet)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown certificate format {fmt!r}: pem or der.")
    profile = load(profile_name)
    if profile.sans == "required" and not sans:
        raise InvalidInput(f"Profile {profile.name!r} needs at least one SAN (--san dns:NAME …).")
    if profile.sans == "forbidden" and sans:
        raise InvalidInput(f"Profile {profile.name!r} takes no SANs.")
    days = profile.default_days if days is None else days
    if days <= 0:
        raise InvalidInput("The validity must be at least one day.")
    if days > profile.max_days:
        raise InvalidInput(f"{days} days is over the maximum of profile {profile.name!r} ({profile.max_days} days).")
    ekus = None if extended_key_usage is None else tuple(extended_key_usage)
    unknown = [u for u in ekus or () if u not in EXTENDED_KEY_USAGE_OIDS]
    if unknown:
        raise InvalidInput(f"Unknown extended key usage {unknown[0][:40]!r}; known: {', '.join(EXTENDED_KEY_USAGE_OIDS)}.")
    now = datetime.now(UTC).replace(microsecond=0)
    return _Request(subject, sans, profile, now, now + timedelta(days=days), ekus or None)


def _read_csr(data: bytes) -> x509.CertificateSigningRequest:
    if len(data) > MAX_CSR_BYTES:
        raise InvalidInput(f"The CSR is {len(data)} bytes; the limit is {MAX_CSR_BYTES}.")
    try:
        request = (x509.load_pem_x509_csr(data) if data.lstrip().startswith(b"-----")
                   else x509.load_der_x509_csr(data))
    except ValueError:
        raise InvalidInput("The CSR file is not a PEM or DER PKCS#10 request.") from None
    try:
        valid = request.is_signature_valid
    except (ValueError, TypeError, x509.UnsupportedGeneralNameType):
        valid = False
    if not valid:
        raise Refused("The CSR's signature does not verify with the public key it carries; nothing was signed.",
                      hint="Ask for a new request: it was changed after it was signed, or it is not a CSR of that key.")
    return request


def _csr_sans(request: x509.CertificateSigningRequest) -> list[x509.GeneralName]:
    try:
        ext = request.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    names = list(ext.value)
    return parse_sans(describe_san(n) for n in names) if names else []


def _read_certificate(data: bytes) -> x509.Certificate:
    if len(data) > MAX_CERT_BYTES:
        raise InvalidInput(f"The CA certificate is {len(data)} bytes; the limit is {MAX_CERT_BYTES}.")
    try:
        return (x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_certificate(data))
    except ValueError:
        raise InvalidInput("The CA certificate file is not a PEM or DER X.509 certificate.") from None


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _check_ca(ca_cert: x509.Certificate, ca_public: K.PublicKey, record: KeyRecord, request: _Request) -> None:
    """The CA certificate is the CA key's (its recorded public key), a CA, and outlives what it issues."""
    if ca_cert.public_key() != ca_public:
        raise Refused(f"The CA certificate does not hold the public key of key {record.name[:80]!r}; nothing was "
                      "signed.", hint="Pass the certificate of that key (--ca-cert), or the key of that certificate (--ca).")
    try:
        constraints = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = x509.BasicConstraints(ca=False, path_length=None)
    if not constraints.ca:
        raise Refused("The CA certificate is not a CA certificate (basic constraints cA is not set); nothing was signed.")
    if request.profile.ca and constraints.path_length == 0:
        raise Refused("The CA certificate's path length is 0: it cannot issue a CA certificate; nothing was signed.")
    if request.not_after > ca_cert.not_valid_after_utc:
        raise InvalidInput(f"The certificate would outlive its CA's ({_stamp(ca_cert.not_valid_after_utc)}); "
                           "ask for fewer days (--days).")
