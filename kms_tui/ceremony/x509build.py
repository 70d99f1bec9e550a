"""Certificates, CSRs and CRLs built with cryptography's x509 builders and signed by an engine.

``builder.sign()`` only takes cryptography's own key objects, and the private key
never leaves its engine. So each object is built once with a throwaway key of the
same family and hash (for ML-DSA, the same parameter set and no hash: id-ml-dsa-44/65/87),
which gives the to-be-signed bytes with the right AlgorithmIdentifier; the engine signs those
bytes (through ``kms.signing.sign``, so the signature is audited), and the DER is re-assembled
(kms_tui/service/x509_draft.py, shared with ``kms-tui keys csr``). The result is checked with
the issuer's public key before anyone writes it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from ..service import algorithms as A
from ..service import certificates as C
from ..service import x509_draft as D
from .errors import CeremonyRefused

Signer = Callable[[str, bytes, str], bytes]  # (signing algorithm, data, message type) -> signature

NAME_OIDS = {"CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
             "C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
             "serialNumber": NameOID.SERIAL_NUMBER}
EXTENDED_KEY_USAGE_OIDS = C.EXTENDED_KEY_USAGE_OIDS
HASH_CLASSES = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
REASONS = {name: getattr(x509.ReasonFlags, name) for name in (
    "unspecified", "key_compromise", "ca_compromise", "affiliation_changed", "superseded",
    "cessation_of_operation", "certificate_hold", "privilege_withdrawn", "aa_compromise")}


random_serial = C.random_serial
subject_key_identifier = C.subject_key_identifier


def name(fields: dict[str, str]) -> x509.Name:
    """The subject's RDNs in the order of ``fields`` (the script's order), one attribute each."""
    return x509.Name([x509.NameAttribute(NAME_OIDS[k], v) for k, v in fields.items()])


def signing_algorithm(key_algorithm: str, hash_name: str | None) -> str:
    if key_algorithm == A.ML_DSA:
        return "ML_DSA_SHAKE_256"
    if key_algorithm == A.ED25519:
        return "ED25519"
    bits = (hash_name or "SHA256").removeprefix("SHA")
    if key_algorithm == A.RSA:
        return f"RSASSA_PKCS1_V1_5_SHA_{bits}"
    if key_algorithm == A.ECDSA:
        return f"ECDSA_SHA_{bits}"
    raise CeremonyRefused(f"A {key_algorithm} key cannot sign certificates.")



def _engine_sign(sign: Signer, key_algorithm: str, hash_name: str | None, tbs: bytes) -> bytes:
    """Ed25519 and ML-DSA sign the TBS bytes themselves (RAW); RSA and ECDSA sign its digest."""
    alg = signing_algorithm(key_algorithm, hash_name)
    if key_algorithm in D.PURE:
        return sign(alg, tbs, "RAW")
    return sign(alg, hashlib.new((hash_name or "SHA256").lower(), tbs).digest(), "DIGEST")


def _hash_arg(key_algorithm: str, hash_name: str | None):
    return None if key_algorithm in D.PURE else HASH_CLASSES[hash_name or "SHA256"]()


# --- the three objects ---------------------------------------------------------------


def certificate(
    *, sign: Signer, key_algorithm: str, subject_public_key, subject: x509.Name, issuer: x509.Name,
    issuer_public_key, issuer_ski: bytes | None, profile: dict, serial: int, issuer_cert: x509.Certificate | None = None,
) -> x509.Certificate:
    """A certificate signed by the engine (the service's builder, shared with ``keys certificate``);
    checked against the issuer's public key."""
    p = profile
    b = C.builder(subject=subject, issuer=issuer, public_key=subject_public_key, serial=serial,
                  not_before=p["not_before"], not_after=p["not_after"], p=p, issuer_ski=issuer_ski)
    der = C.engine_signed(b, key_algorithm, p["hash"], lambda tbs: _engine_sign(sign, key_algorithm, p["hash"], tbs),
                          D.parameter_set(issuer_public_key))
    cert = x509.load_der_x509_certificate(der)
    try:
        if issuer_cert is None:
            _verify(issuer_public_key, cert.signature, cert.tbs_certificate_bytes, cert.signature_hash_algorithm)
        else:
            cert.verify_directly_issued_by(issuer_cert)
    except Exception:
        raise CeremonyRefused("The engine's signature on the certificate does not verify; nothing was written.") from None
    return cert


def stand_in(key_algorithm: str, size: int | None = None):
    """A key of the family that passes the CA/B Forum's key checks (RSA 2048, P-256, Ed25519; ML-DSA of its
    own parameter set, ``size``), made once: it stands in for a ceremony's keys in the lint, before they exist."""
    return _stand_in(key_algorithm, size if key_algorithm == A.ML_DSA else None)


@functools.cache
def _stand_in(key_algorithm: str, size: int | None):
    if key_algorithm == A.RSA:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return D.throwaway(key_algorithm, size)


def draft_certificate(*, key_algorithm: str, subject_algorithm: str, subject: x509.Name, issuer: x509.Name,
                      profile: dict, not_before: datetime, not_after: datetime, key_size: int | None = None,
                      subject_size: int | None = None) -> bytes:
    """The certificate a step would make, signed by a stand-in key: what the lint reads before any key signs
    (the sizes matter for ML-DSA only, whose parameter set the certificate names)."""
    p = profile
    b = C.builder(subject=subject, issuer=issuer, public_key=stand_in(subject_algorithm, subject_size).public_key(),
                  serial=random_serial(p["serial_bits"]), not_before=not_before, not_after=not_after, p=p,
                  issuer_ski=None)
    return b.sign(stand_in(key_algorithm, key_size), _hash_arg(key_algorithm, p["hash"])).public_bytes(Encoding.DER)


def _verify(public_key, signature: bytes, data: bytes, hash_alg) -> None:
    if isinstance(public_key, rsa.RSAPublicKey):
        from cryptography.hazmat.primitives.asymmetric import padding

        public_key.verify(signature, data, padding.PKCS1v15(), hash_alg)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(hash_alg))
    else:
        public_key.verify(signature, data)


def csr(*, sign: Signer, key_algorithm: str, public_key, subject: x509.Name, hash_name: str) -> x509.CertificateSigningRequest:
    """A CSR whose proof of possession is signed by the engine.

    The builder takes no public key (it is the signing key's): the throwaway's SPKI
    would be in the TBS, so the request info is rebuilt here with the real key.
    """
    draft = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(
        D.throwaway(key_algorithm, D.parameter_set(public_key)), _hash_arg(key_algorithm, hash_name))
    info, alg_el = D.request_info(draft.public_bytes(Encoding.DER), public_key)
    signature = _engine_sign(sign, key_algorithm, hash_name, info)
    request = x509.load_der_x509_csr(D.signed(info, alg_el, signature))
    if not request.is_signature_valid:
        raise CeremonyRefused("The engine's signature on the CSR does not verify; nothing was written.")
    return request


def crl(*, sign: Signer, key_algorithm: str, issuer_cert: x509.Certificate, this_update: datetime,
        next_update: datetime, number: int, hash_name: str, revoked: list[dict]) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject).last_update(this_update).next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    try:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(ski.digest, None, None), critical=False)
    except x509.ExtensionNotFound:
        pass
    for entry in revoked:
        item = (x509.RevokedCertificateBuilder().serial_number(entry["serial"]).revocation_date(entry["date"])
                .add_extension(x509.CRLReason(REASONS[entry["reason"]]), critical=False).build())
        builder = builder.add_revoked_certificate(item)
    draft = builder.sign(D.throwaway(key_algorithm, D.parameter_set(issuer_cert.public_key())),
                         _hash_arg(key_algorithm, hash_name))
    tbs = draft.tbs_certlist_bytes
    der = D.resign(draft.public_bytes(Encoding.DER), tbs, _engine_sign(sign, key_algorithm, hash_name, tbs))
    result = x509.load_der_x509_crl(der)
    if not result.is_signature_valid(issuer_cert.public_key()):
        raise CeremonyRefused("The engine's signature on the CRL does not verify; nothing was written.")
    return result

