"""Certificates, CSRs and CRLs built with cryptography's x509 builders and signed by an engine.

``builder.sign()`` only takes cryptography's own key objects, and the private key
never leaves its engine. So each object is built once with a throwaway key of the
same family and hash, which gives the to-be-signed bytes with the right
AlgorithmIdentifier; the engine signs those bytes (through ``kms.signing.sign``, so the
signature is audited), and the DER is re-assembled (kms_tui/service/x509_draft.py, shared
with ``kms-tui keys csr``). The result is checked with the
issuer's public key before anyone writes it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..service import algorithms as A
from ..service import types as K
from ..service import x509_draft as D
from .errors import CeremonyRefused

Signer = Callable[[str, bytes, str], bytes]  # (signing algorithm, data, message type) -> signature

NAME_OIDS = {"CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
             "C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
             "serialNumber": NameOID.SERIAL_NUMBER}
EXTENDED_KEY_USAGE_OIDS = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH, "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING, "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING, "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING}
HASH_CLASSES = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
REASONS = {name: getattr(x509.ReasonFlags, name) for name in (
    "unspecified", "key_compromise", "ca_compromise", "affiliation_changed", "superseded",
    "cessation_of_operation", "certificate_hold", "privilege_withdrawn", "aa_compromise")}


def random_serial(bits: int) -> int:
    """A positive serial with ``bits`` bits from the CSPRNG (the top bit set, so it has all of them)."""
    return secrets.randbits(bits - 1) | (1 << (bits - 1))


def name(fields: dict[str, str]) -> x509.Name:
    """The subject's RDNs in the order of ``fields`` (the script's order), one attribute each."""
    return x509.Name([x509.NameAttribute(NAME_OIDS[k], v) for k, v in fields.items()])


def subject_key_identifier(public_key, method: str) -> x509.SubjectKeyIdentifier:
    """RFC 5280 method 1 (SHA-1 of the subjectPublicKey BIT STRING), or the SHA-256 method.

    The SHA-256 method follows Lamassu, whose key ids are the lowercase hex SHA-256 of the
    DER SubjectPublicKeyInfo (lamassuiot/lamassuiot, the KMS key id derivation that
    DESIGN.md §2 describes): the identifier is those 32 bytes, so a certificate's SKI and its
    key's Lamassu key id are the same value.
    """
    if method == "sha256":
        return x509.SubjectKeyIdentifier(hashlib.sha256(K.spki_der(public_key)).digest())
    return x509.SubjectKeyIdentifier.from_public_key(public_key)


def signing_algorithm(key_algorithm: str, hash_name: str) -> str:
    bits = hash_name.removeprefix("SHA")
    if key_algorithm == A.RSA:
        return f"RSASSA_PKCS1_V1_5_SHA_{bits}"
    if key_algorithm == A.ECDSA:
        return f"ECDSA_SHA_{bits}"
    if key_algorithm == A.ED25519:
        return "ED25519"
    raise CeremonyRefused(f"A {key_algorithm} key cannot sign certificates.")



def _engine_sign(sign: Signer, key_algorithm: str, hash_name: str, tbs: bytes) -> bytes:
    alg = signing_algorithm(key_algorithm, hash_name)
    if key_algorithm == A.ED25519:
        return sign(alg, tbs, "RAW")
    return sign(alg, hashlib.new(hash_name.lower(), tbs).digest(), "DIGEST")


def _hash_arg(key_algorithm: str, hash_name: str):
    return None if key_algorithm == A.ED25519 else HASH_CLASSES[hash_name]()


# --- the three objects ---------------------------------------------------------------


def _usage(names: list[str]) -> x509.KeyUsage:
    flags = {n: n in names for n in ("digital_signature", "content_commitment", "key_encipherment",
                                     "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
                                     "encipher_only", "decipher_only")}
    return x509.KeyUsage(**flags)


def certificate(
    *, sign: Signer, key_algorithm: str, subject_public_key, subject: x509.Name, issuer: x509.Name,
    issuer_public_key, issuer_ski: bytes | None, profile: dict, serial: int, issuer_cert: x509.Certificate | None = None,
) -> x509.Certificate:
    """A certificate signed by the engine; checked against the issuer's public key."""
    p = profile
    ski = subject_key_identifier(subject_public_key, p["ski"])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer).public_key(subject_public_key).serial_number(serial)
        .not_valid_before(p["not_before"]).not_valid_after(p["not_after"])
        .add_extension(x509.BasicConstraints(ca=p["ca"], path_length=p["path_length"] if p["ca"] else None), critical=True)
        .add_extension(_usage(p["key_usage"]), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(issuer_ski or ski.digest, None, None), critical=False)
    )
    if p.get("extended_key_usage"):
        builder = builder.add_extension(x509.ExtendedKeyUsage(
            [EXTENDED_KEY_USAGE_OIDS[u] for u in p["extended_key_usage"]]), critical=False)
    if p.get("crl_distribution_points"):
        builder = builder.add_extension(x509.CRLDistributionPoints([
            x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
            for u in p["crl_distribution_points"]]), critical=False)
    access = [x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u))
              for u in p.get("ocsp") or []]
    access += [x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(u))
               for u in p.get("ca_issuers") or []]
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    if p.get("policies"):
        builder = builder.add_extension(x509.CertificatePolicies([
            x509.PolicyInformation(x509.ObjectIdentifier(o), None) for o in p["policies"]]), critical=False)
    draft = builder.sign(D.throwaway(key_algorithm), _hash_arg(key_algorithm, p["hash"]))
    tbs = draft.tbs_certificate_bytes
    der = D.resign(draft.public_bytes(Encoding.DER), tbs, _engine_sign(sign, key_algorithm, p["hash"], tbs))
    cert = x509.load_der_x509_certificate(der)
    try:
        if issuer_cert is None:
            _verify(issuer_public_key, cert.signature, tbs, cert.signature_hash_algorithm)
        else:
            cert.verify_directly_issued_by(issuer_cert)
    except Exception:
        raise CeremonyRefused("The engine's signature on the certificate does not verify; nothing was written.") from None
    return cert


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
        D.throwaway(key_algorithm), _hash_arg(key_algorithm, hash_name))
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
    draft = builder.sign(D.throwaway(key_algorithm), _hash_arg(key_algorithm, hash_name))
    tbs = draft.tbs_certlist_bytes
    der = D.resign(draft.public_bytes(Encoding.DER), tbs, _engine_sign(sign, key_algorithm, hash_name, tbs))
    result = x509.load_der_x509_crl(der)
    if not result.is_signature_valid(issuer_cert.public_key()):
        raise CeremonyRefused("The engine's signature on the CRL does not verify; nothing was written.")
    return result

