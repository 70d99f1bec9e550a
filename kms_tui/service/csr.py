"""The CSR service (``kms.csr``): a PKCS#10 request from any key on any engine that can sign.

cryptography's builders sign only with their own key objects, and the private key
never leaves its engine. So the request is built once with a throwaway key of the
same family and hash (that gives the attributes and the signatureAlgorithm), its
request info is re-assembled around the key's recorded SubjectPublicKeyInfo, the
engine signs those bytes through ``kms.signing`` (the key proof, the check against
the recorded key and the ``key.sign`` audit row hold as for any signature), and the
request is checked against the recorded public key before it is handed out.
The drafting and re-signing pieces are x509_draft's, shared with the ceremony's builders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from engines import algorithms as A
from engines import keys as K
from engines.errors import InvalidInput, KeyIntegrityError

from . import x509_draft as D
from .core import ServiceContext
from .errors import Refused, Service
from .key_ops import KeyService
from .signing import SigningService
from .x509_names import describe_san, parse_sans, parse_subject

if TYPE_CHECKING:
    from store import KeyRecord

FORMATS = ("pem", "der")
_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


@dataclass
class CsrResult:
    """A verified request: its bytes in the asked format and what the audit row says of it."""

    data: bytes
    format: str
    subject: str  # RFC 4514
    sans: list[str] = field(default_factory=list)
    signature_algorithm: str = ""
    key_id: str = ""
    key_name: str = ""
    sha256: str = ""  # of the DER request, whatever the format

    def to_json(self) -> dict[str, object]:
        return {"format": self.format, "subject": self.subject, "sans": self.sans,
                "signature_algorithm": self.signature_algorithm, "key_id": self.key_id,
                "key_name": self.key_name, "sha256": self.sha256}


@dataclass(frozen=True)
class CsrPreview:
    """What a request would say, read from the subject and SANs as typed (nothing signed yet)."""

    subject: str  # RFC 4514 (the last RDN first)
    rdns: list[str]  # one ``NAME=value`` per RDN, in the order they are encoded
    sans: list[str]
    signature_algorithm: str = ""  # when a key is given
    engine_id: str = ""
    profile: str = ""  # the certificate profile whose extensions it asks for, if any


class CsrService(Service):
    """Certificate signing requests whose proof of possession the key's engine signs."""

    def __init__(self, context: ServiceContext, keys: KeyService, signing: SigningService) -> None:
        self._ctx = context
        self._keys = keys
        self._signing = signing

    def check(self, subject: str | None, sans: Iterable[str] = (), key: KeyRecord | None = None,
              profile: str | None = None) -> CsrPreview:
        """The subject and SANs as ``make`` would encode them, or the ``InvalidInput`` naming the bad part
        (``subject`` None: the SANs alone are read); with ``key``, also the signature algorithm and the
        engine that would sign; with ``profile``, its SAN rule is checked too. Reads nothing, so a front
        end may call it as the operator types."""
        name = x509.Name([]) if subject is None else parse_subject(subject)
        alt_names = parse_sans(sans)
        _requested(profile, alt_names)
        algorithm = "" if key is None else K.natural_algorithm(key.algorithm, key.size)
        return CsrPreview(subject=name.rfc4514_string(), rdns=[rdn.rfc4514_string() for rdn in name.rdns],
                          sans=[describe_san(n) for n in alt_names], signature_algorithm=algorithm,
                          engine_id="" if key is None else key.engine_id, profile=profile or "")

    def profiles(self) -> list[tuple[str, str]]:
        """Every certificate profile a request may ask for: (name, description)."""
        from .cert_profiles import load, names

        return [(name, load(name).description) for name in names()]

    def make(self, ref: str, subject: str, sans: Iterable[str] = (), fmt: str = "pem",
             profile: str | None = None) -> CsrResult:
        """A CSR for key ``ref`` with this subject and these SANs (``dns:``, ``ip:``, ``email:``, ``uri:``),
        signed with the key's natural algorithm and verified against its recorded public key; with
        ``profile``, the request asks for that certificate profile's extensions and keeps its SAN rule."""
        if fmt not in FORMATS:
            raise InvalidInput(f"Unknown CSR format {fmt!r}: pem or der.")
        name, alt_names = parse_subject(subject), parse_sans(sans)
        requested = _requested(profile, alt_names)
        record = self._keys.resolve(ref)
        if not record.has_private_key:
            raise Refused(f"Key {record.name[:80]!r} is public-key only: it cannot sign a CSR.")
        public_key = self._signing.proofs.recorded_public_key(record, "csr")
        sig_alg = A.signing_algorithm(K.natural_algorithm(record.algorithm, record.size))
        info, alg_el = _request_info(name, alt_names, public_key, record.algorithm, sig_alg.hash_name, requested,
                                     record.size)
        signature = self._signing.sign(ref, sig_alg.name, info, "RAW")
        der = D.signed(info, alg_el, signature)
        request = _verified(der, public_key)
        made = CsrResult(
            data=der if fmt == "der" else request.public_bytes(Encoding.PEM), format=fmt,
            subject=name.rfc4514_string(), sans=[describe_san(n) for n in alt_names],
            signature_algorithm=sig_alg.name, key_id=record.key_id, key_name=record.name,
            sha256=hashlib.sha256(der).hexdigest())
        self._ctx.store.audit.append("key.csr", engine_id=record.engine_id, key_id=record.key_id, details={
            "subject": made.subject, "sans": made.sans, "signature_algorithm": made.signature_algorithm,
            "csr_sha256": made.sha256, **({"profile": profile} if profile else {})})
        return made


def _requested(profile: str | None, alt_names: list[x509.GeneralName]) -> list[tuple[x509.ExtensionType, bool]]:
    """The extensions ``profile`` asks for (none without one), once its SAN rule holds."""
    if profile is None:
        return []
    from .cert_profiles import load
    from .certificates import requested_extensions

    chosen = load(profile)
    if chosen.sans == "required" and not alt_names:
        raise InvalidInput(f"Profile {chosen.name!r} needs at least one SAN (--san dns:NAME …).")
    if chosen.sans == "forbidden" and alt_names:
        raise InvalidInput(f"Profile {chosen.name!r} takes no SANs.")
    return requested_extensions(chosen)


def _verified(der: bytes, public_key: K.PublicKey) -> x509.CertificateSigningRequest:
    """The request, once it carries the recorded public key and its signature verifies with it."""
    request = x509.load_der_x509_csr(der)
    if request.public_key() != public_key or not request.is_signature_valid:
        raise KeyIntegrityError("The engine's signature on the CSR does not verify with the key's recorded "
                                "public key; nothing was written.")
    return request


def _request_info(name: x509.Name, alt_names: list[x509.GeneralName], public_key: K.PublicKey,
                  key_algorithm: str, hash_name: str | None,
                  requested: Iterable[tuple[x509.ExtensionType, bool]] = (),
                  key_size: int | None = None) -> tuple[bytes, bytes]:
    """The CertificationRequestInfo with the key's SPKI, and the signatureAlgorithm element (no hash for
    Ed25519 and ML-DSA, whose ``key_size`` is the parameter set the element names)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    for extension, critical in requested:
        builder = builder.add_extension(extension, critical=critical)
    digest = None if hash_name is None else _HASHES[hash_name]()
    draft = builder.sign(D.throwaway(key_algorithm, key_size), digest)
    return D.request_info(draft.public_bytes(Encoding.DER), public_key)

