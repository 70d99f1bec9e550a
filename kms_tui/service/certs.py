"""The certificate service (``kms.certs``): X.509 certificates bound to the keys they certify.

A certificate is added from PEM or DER (one, or a bundle). Each is matched to a recorded key by
its public key (the key id is the SHA-256 of the DER SubjectPublicKeyInfo, and the record must
agree with itself: ``signing.proofs``); it is recorded and the key gets the binding
``certificate/<SHA-256 fingerprint>`` through ``kms.keys.bind``, so the key cannot be deleted
while it is bound. A certificate of a bundle that matches no key is kept as a *chain member*
only when it issued (its signature verifies on) another certificate of the same bundle; any
other certificate matching no key refuses the whole add. On engines that keep certificates next
to their keys (PKCS#11: a ``CKO_CERTIFICATE`` with the key's ``CKA_ID`` and ``CKA_LABEL``) the
certificate is written there too, and ``record_found`` records those ``sync`` finds.

Every read checks the row against its DER: the fingerprint is the DER's SHA-256, the listed
columns are the DER's, and the DER's public key is the bound key's. A row edited outside kms-tui
is flagged in lists and refused by ``show``, ``export`` and the token part of ``remove``.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

import engines
from engines import keys as K
from engines.base import EngineDriver
from engines.errors import InvalidInput, KeyIntegrityError
from store import CertRecord
from store.errors import NotFound

from .core import ServiceContext
from .errors import Refused, Service
from .integrity import KeyProofs
from .key_ops import KeyService

if TYPE_CHECKING:
    from store import KeyRecord

log = logging.getLogger("kms_tui.certs")

RESOURCE_TYPE = "certificate"
MAX_BUNDLE_BYTES = 1 << 20
MAX_BUNDLE_CERTS = 50
EXPIRY_WINDOWS = (30, 90)
# Chain status, as the key detail and `certs show` say it.
CHAIN_VERIFIED = "issuer verified"  # an issuer is recorded and its key verifies the signature
CHAIN_SELF_SIGNED = "self-signed"
CHAIN_UNKNOWN = "issuer unknown"
CHAIN_BAD = "issuer fails"  # certificates named as its issuer are recorded; none verifies its signature


@dataclass
class CertView:
    """A recorded certificate as shown: what its DER says, its key, its chain status and integrity."""

    fingerprint: str
    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    days_left: int
    source: str
    engine_id: str | None
    key_id: str | None
    key_name: str | None
    chain: str
    intact: bool = True
    problem: str = ""  # why the row does not agree with its DER (intact False)
    added_ts: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> datetime:
    return datetime.now(UTC)


def parse_bundle(data: bytes) -> builtins.list[x509.Certificate]:
    """The certificates in PEM (one or many) or DER (one); ``InvalidInput`` naming what is wrong."""
    if not isinstance(data, bytes) or not data.strip():
        raise InvalidInput("The certificate file is empty.")
    if len(data) > MAX_BUNDLE_BYTES:
        raise InvalidInput(f"The certificate file is larger than {MAX_BUNDLE_BYTES} bytes.")
    try:
        if b"-----BEGIN" in data:
            found = x509.load_pem_x509_certificates(data)
        else:
            found = [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise InvalidInput("The file holds no readable X.509 certificate (PEM or DER).",
                           hint="A certificate file begins with -----BEGIN CERTIFICATE----- or is its DER.") from None
    if len(found) > MAX_BUNDLE_CERTS:
        raise InvalidInput(f"The bundle holds {len(found)} certificates; at most {MAX_BUNDLE_CERTS} are read.")
    return found


def fingerprint_of(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` names ``cert``'s issuer and its key verifies ``cert``'s signature."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _described(cert: x509.Certificate, fingerprint: str, source: str, record: KeyRecord | None) -> CertRecord:
    return CertRecord(
        fingerprint=fingerprint, der=cert.public_bytes(Encoding.DER), subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(), serial=format(cert.serial_number, "x"),
        not_before=_iso(cert.not_valid_before_utc), not_after=_iso(cert.not_valid_after_utc), source=source,
        engine_id=None if record is None else record.engine_id, key_id=None if record is None else record.key_id)


def _disagreement(row: CertRecord) -> tuple[x509.Certificate | None, str]:
    """(the row's certificate, "") when the row agrees with its DER; (it or None, why not) otherwise."""
    if hashlib.sha256(row.der).hexdigest() != row.fingerprint:
        return None, "its fingerprint is not the SHA-256 of its certificate"
    try:
        cert = x509.load_der_x509_certificate(row.der)
    except ValueError:
        return None, "its certificate cannot be read"
    read = _described(cert, row.fingerprint, row.source, None)
    for column in ("subject", "issuer", "serial", "not_before", "not_after"):
        if getattr(read, column) != getattr(row, column):
            return cert, f"its {column.replace('_', ' ')} column is not its certificate's"
    if row.key_id is not None and K.key_id_of(cert.public_key()) != row.key_id:
        return cert, "its certificate certifies another key"
    return cert, ""


class CertService(Service):
    """Certificates bound to keys: add, show, export, remove, list; those sync finds on a token."""

    def __init__(self, context: ServiceContext, keys: KeyService, proofs: KeyProofs) -> None:
        self._ctx = context
        self._keys = keys
        self._proofs = proofs

    # --- reading -------------------------------------------------------------

    def show(self, fingerprint: str) -> CertView:
        """One certificate by fingerprint (or a unique prefix of 8+ hex digits); refused when its row was altered."""
        row = self._ctx.store.get_certificate(fingerprint)
        view = self._view(row)
        self._require_intact(view)
        return view

    def list(self, expiring_days: int | None = None, key: str | None = None) -> builtins.list[CertView]:
        """Recorded certificates, soonest to end first: those of ``key``, those ending within ``expiring_days``
        (expired ones included). An altered row is listed, flagged (``intact`` False)."""
        before = None
        if expiring_days is not None:
            if isinstance(expiring_days, bool) or not isinstance(expiring_days, int) or expiring_days < 0:
                raise InvalidInput(f"The expiry window must be a whole number of days, not {expiring_days!r}.")
            before = _iso(_now() + timedelta(days=expiring_days))
        engine_id = key_id = None
        if key is not None:
            record = self._keys.resolve(key)
            engine_id, key_id = record.engine_id, record.key_id
        rows = self._ctx.store.list_certificates(not_after_before=before, engine_id=engine_id, key_id=key_id)
        return [self._view(row) for row in rows]

    def of_key(self, engine_id: str, key_id: str) -> builtins.list[CertView]:
        """The certificates bound to one key record, soonest to end first (the key detail's panel)."""
        return [self._view(row) for row in self._ctx.store.certificates_of_key(engine_id, key_id)]

    def expiring_counts(self, windows: Iterable[int] = EXPIRY_WINDOWS) -> dict[int, int]:
        """How many certificates of keys end within each window of days (expired ones included)."""
        now = _now()
        store = self._ctx.store
        return {days: store.count_certificates(_iso(now + timedelta(days=days))) for days in windows}

    def export(self, fingerprint: str, chain: bool = True) -> bytes:
        """One PEM bundle: the certificate, then (``chain``) each issuer found among the recorded ones."""
        row = self._ctx.store.get_certificate(fingerprint)
        self._require_intact(self._view(row))
        cert = x509.load_der_x509_certificate(row.der)
        out = [cert]
        while chain and not issued_by(out[-1], out[-1]):
            issuer = self._issuer_of(out[-1])
            if issuer is None or any(fingerprint_of(issuer) == fingerprint_of(c) for c in out):
                break
            out.append(issuer)
        return b"".join(c.public_bytes(Encoding.PEM) for c in out)

    # --- adding ----------------------------------------------------------------

    def add(self, data: bytes, key: str | None = None) -> builtins.list[CertView]:
        """Record the certificates in ``data`` (PEM or DER, one or a bundle), each bound to its key;
        ``key`` names the key when several records hold the same public key. Certificates recorded
        already are left as they are. Returns the certificates of the bundle as recorded now."""
        certs = parse_bundle(data)
        chosen = None if key is None else self._keys.resolve(key)
        matched = {fingerprint_of(c): (c, self._key_of(c, chosen)) for c in certs}
        if not any(record is not None for _, record in matched.values()):
            raise Refused(self._no_key_message(certs[0], chosen),
                          hint="Add or import the key first (kms-tui keys import), or name it with --key.")
        members = self._chain_members(matched, chosen)
        store = self._ctx.store
        fresh = {fp: entry for fp, entry in matched.items() if not self._recorded(fp)}
        for cert, record in fresh.values():
            if record is not None:
                self._put_on_engine(record, cert)
        with store.transaction():
            for fp in members:
                if fp in fresh:
                    store.add_certificate(_described(fresh[fp][0], fp, "chain", None))
            for fp, (cert, record) in fresh.items():
                if record is not None:
                    self._record(record, cert, fp, "file")
        return [self._view(store.get_certificate(fp)) for fp in matched]

    def record_found(self, record: KeyRecord, ders: Iterable[bytes]) -> builtins.list[str]:
        """Record the certificates an engine keeps next to ``record``'s key (``sync``); their fingerprints.

        A certificate that is not of this key, or is recorded already, is left out."""
        added: builtins.list[str] = []
        for der in ders:
            try:
                cert = x509.load_der_x509_certificate(der)
            except ValueError:
                log.warning("sync: an unreadable certificate next to key %s was skipped", record.key_id[:16])
                continue
            fp = fingerprint_of(cert)
            if self._recorded(fp):
                continue
            if K.key_id_of(cert.public_key()) != record.key_id:
                log.warning("sync: certificate %s next to key %s certifies another key; skipped", fp[:16],
                            record.key_id[:16])
                continue
            self._proofs.recorded_public_key(record, "cert.sync")
            with self._ctx.store.transaction():
                self._record(record, cert, fp, "token")
            added.append(fp)
        return added

    def keeps_certificates(self, engine_id: str) -> bool:
        """Whether the engine's driver keeps certificates next to keys (without opening it)."""
        cls = engines.driver_class(self._ctx.store.get_engine(engine_id).type)
        return _overrides(cls, "certificates")

    # --- removing --------------------------------------------------------------

    def remove(self, fingerprint: str) -> CertView:
        """Forget a certificate and unbind it from its key; on an engine that keeps it next to the key, also
        remove that object (the audit row first; only an object whose value is this very certificate)."""
        store = self._ctx.store
        row = store.get_certificate(fingerprint)
        view = self._view(row)
        record = None if row.key_id is None else store.get_key(str(row.engine_id), row.key_id)
        on_engine = record is not None and record.native_ref is not None and self.keeps_certificates(record.engine_id)
        details = {"fingerprint": row.fingerprint, "subject": view.subject[:200], "on_engine": on_engine,
                   "intact": view.intact}
        store.audit.append("cert.remove", engine_id=row.engine_id, key_id=row.key_id, details=details)
        if on_engine and record is not None and view.intact:  # an altered row never chooses a token object
            removed = self._ctx.driver(record.engine_id).remove_certificate(str(record.native_ref), row.der)
            log.info("certificate %s removed from engine %s: %s", row.fingerprint[:16], record.engine_id, removed)
        with store.transaction():
            store.delete_certificate(row.fingerprint)
            if record is not None:
                self._unbind(record, row.fingerprint)
        return view

    # --- helpers -----------------------------------------------------------------

    def _recorded(self, fingerprint: str) -> bool:
        try:
            found = self._ctx.store.get_certificate(fingerprint)
        except NotFound:
            return False
        return found.fingerprint == fingerprint

    def _key_of(self, cert: x509.Certificate, chosen: KeyRecord | None) -> KeyRecord | None:
        """The recorded key ``cert`` certifies (its record checked to agree with itself), or None."""
        key_id = K.key_id_of(cert.public_key())
        if chosen is not None:
            candidates = [chosen] if chosen.key_id == key_id else []
        else:
            candidates = self._keys.by_key_id(key_id)
        if len(candidates) > 1:
            raise Refused(f"The certificate {cert.subject.rfc4514_string()[:120]!r} is of a key recorded on "
                          f"{len(candidates)} engines ({', '.join(r.engine_id for r in candidates)}).",
                          hint="Name the one to bind it to with --key.")
        if not candidates:
            return None
        public_key = self._proofs.recorded_public_key(candidates[0], "cert.add")
        if K.spki_der(public_key) != K.spki_der(cert.public_key()):
            return None
        return candidates[0]

    @staticmethod
    def _no_key_message(cert: x509.Certificate, chosen: KeyRecord | None) -> str:
        subject = cert.subject.rfc4514_string()[:120]
        if chosen is not None:
            return f"The certificate {subject!r} is not of key {chosen.name[:80]!r}; nothing was added."
        return (f"The certificate {subject!r} matches no recorded key (key id "
                f"{K.key_id_of(cert.public_key())[:16]}…); nothing was added.")

    def _chain_members(self, matched: dict[str, tuple[x509.Certificate, KeyRecord | None]],
                       chosen: KeyRecord | None) -> set[str]:
        """Fingerprints of the bundle's certificates of no key that issued another of the bundle's; refused
        when some certificate of no key issued none."""
        members: set[str] = set()
        for fp, (cert, record) in matched.items():
            if record is not None:
                continue
            if not any(other_fp != fp and issued_by(other, cert) for other_fp, (other, _) in matched.items()):
                raise Refused(self._no_key_message(cert, chosen) + " It issued no other certificate of the file "
                              "either, so it is not kept as a chain member.",
                              hint="Add only certificates of recorded keys, with the issuers of their chain.")
            members.add(fp)
        return members

    def _put_on_engine(self, record: KeyRecord, cert: x509.Certificate) -> None:
        if record.native_ref is None or not self.keeps_certificates(record.engine_id):
            return
        self._proofs.prove(record, "cert.add")  # the object it goes next to holds the certified key
        self._ctx.driver(record.engine_id).put_certificate(record.native_ref, cert.public_bytes(Encoding.DER))

    def _record(self, record: KeyRecord, cert: x509.Certificate, fp: str, source: str) -> None:
        """The row, the binding and the audit row (the caller holds the transaction)."""
        store = self._ctx.store
        row = store.add_certificate(_described(cert, fp, source, record))
        self._keys.bind(record.name, RESOURCE_TYPE, fp)
        store.audit.append("cert.add", engine_id=record.engine_id, key_id=record.key_id, details={
            "fingerprint": fp, "subject": row.subject[:200], "serial": row.serial, "not_after": row.not_after,
            "source": source})

    def _unbind(self, record: KeyRecord, fingerprint: str) -> None:
        binding = {"resource_type": RESOURCE_TYPE, "resource_id": fingerprint}
        current = self._ctx.store.get_key(record.engine_id, record.key_id)
        if binding in current.bindings:
            self._keys.unbind(current.name, RESOURCE_TYPE, fingerprint)

    def _issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        """A recorded, intact certificate whose key verifies ``cert``'s signature."""
        for row in self._ctx.store.certificates_with_subject(cert.issuer.rfc4514_string()):
            candidate, problem = _disagreement(row)
            if candidate is not None and not problem and issued_by(cert, candidate):
                return candidate
        return None

    def _chain_status(self, cert: x509.Certificate) -> str:
        if cert.issuer == cert.subject and issued_by(cert, cert):
            return CHAIN_SELF_SIGNED
        if self._issuer_of(cert) is not None:
            return CHAIN_VERIFIED
        others = [r for r in self._ctx.store.certificates_with_subject(cert.issuer.rfc4514_string())
                  if r.fingerprint != fingerprint_of(cert)]
        return CHAIN_BAD if others else CHAIN_UNKNOWN

    def _view(self, row: CertRecord) -> CertView:
        cert, problem = _disagreement(row)
        not_after = row.not_after if cert is None else _iso(cert.not_valid_after_utc)
        try:
            ends = datetime.strptime(not_after, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            days_left = (ends - _now()).days
        except ValueError:
            days_left = 0
        key_name = None
        if row.key_id is not None and row.engine_id is not None:
            key_name = self._ctx.store.get_key(row.engine_id, row.key_id).name
        return CertView(
            fingerprint=row.fingerprint, subject=row.subject if cert is None else cert.subject.rfc4514_string(),
            issuer=row.issuer if cert is None else cert.issuer.rfc4514_string(),
            serial=row.serial if cert is None else format(cert.serial_number, "x"),
            not_before=row.not_before, not_after=not_after, days_left=days_left, source=row.source,
            engine_id=row.engine_id, key_id=row.key_id, key_name=key_name,
            chain="unknown" if cert is None or problem else self._chain_status(cert), intact=not problem,
            problem=problem, added_ts=row.added_ts)

    @staticmethod
    def _require_intact(view: CertView) -> None:
        if not view.intact:
            raise KeyIntegrityError(
                f"The record of certificate {view.fingerprint[:16]}… does not agree with itself: {view.problem}. "
                "It is not used.", title="Certificate record altered",
                hint="The database was changed outside kms-tui: compare it with a backup, or remove the record "
                     "(kms-tui certs remove) and add the certificate again.")


def _overrides(cls: type[EngineDriver], name: str) -> bool:
    return getattr(cls, name) is not getattr(EngineDriver, name)
