"""A signature comes only from the recorded key (DESIGN §7.2): the checks before and after one.

Before a key signs, its record must agree with itself (the ``key_id`` names the recorded
public key) and the engine must prove that the material behind the record has that
public key. The proof costs an engine call (a token look-up, a fetched secret, a
GetPublicKey), so it is kept for the process, keyed by engine, reference and recorded
public key, and held only while the driver's ``proof_stamp`` is unchanged (the software
engine's key file identity): a changed record or key file is proven again, and so is
every key of an engine whose driver is forgotten (a new secret, new options). A batch
always proves afresh, once. A single signature is also verified against the recorded
public key before it is returned. Every failure leaves an audit row
(``key.integrity_failure``, with the engine, the key id and a short reason; never
material) and a ``KeyIntegrityError``; no signature is returned.
"""

from __future__ import annotations

import logging
import threading

from engines import integrity as I
from engines import keys as K
from engines.algorithms import MessageType, SigningAlgorithm
from engines.errors import KeyIntegrityError, KmsError
from engines.keys import PublicKey
from store import KeyRecord
from store.errors import StoreError

from .core import ServiceContext
from .errors import Refused, Service

log = logging.getLogger("kms_tui.integrity")

_MISSING = object()
_MAX_PROOFS = 4096  # proofs remembered per process; the oldest are forgotten (and proven again)

ProofKey = tuple[str, str, str, bytes]  # engine id, native reference, key id, recorded SPKI


def engine_ref(record: KeyRecord) -> str:
    """The engine object behind a record; a public-key-only record has none, and cannot sign."""
    if record.native_ref is None:
        raise Refused(f"Key {record.name[:80]!r} is public-key only: it can verify but not sign.")
    return record.native_ref


class KeyProofs(Service):
    """The integrity checks of signing, and the per-process cache of engine proofs."""

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context
        self._cache: dict[ProofKey, object] = {}
        self._lock = threading.Lock()
        context.on_forget(self.forget)  # a new driver (new secret, new options) proves again

    def recorded_public_key(self, record: KeyRecord, operation: str) -> PublicKey:
        """The record's public key, once its ``key_id`` is shown to name it (else an audit row and
        ``KeyIntegrityError``): a forged id is never signed with, verified with, or audited as the key's."""
        public_key: PublicKey | None
        try:
            public_key = K.load_public_pem(record.public_key)
        except KmsError:
            public_key = None
        if public_key is not None and I.key_id_matches(record.key_id, public_key):
            return public_key
        why = "its public key cannot be read" if public_key is None else "its key id does not name its public key"
        error = KeyIntegrityError(
            f"The record of key {record.name[:80]!r} on {record.engine_id!r} does not agree with itself: {why}. "
            "It is not used.",
            hint="The database was changed outside kms-tui: compare it with a backup; kms-tui doctor lists such records.")
        self.record_failure(record, operation, "record: key id and public key disagree")
        raise error

    def prove(self, record: KeyRecord, operation: str, *, fresh: bool = False) -> PublicKey:
        """Prove that the engine's material behind ``record`` has its public key; that public key.

        Cached per process (see the module docstring) unless ``fresh``.
        """
        public_key = self.recorded_public_key(record, operation)
        ref = engine_ref(record)
        driver = self._ctx.driver(record.engine_id)
        key: ProofKey = (record.engine_id, ref, record.key_id, K.spki_der(public_key))
        stamp = driver.proof_stamp(ref)
        if not fresh:
            with self._lock:
                if self._cache.get(key, _MISSING) == stamp:
                    return public_key
        try:
            driver.prove(ref, public_key)
        except KeyIntegrityError:
            with self._lock:
                self._cache.pop(key, None)
            self.record_failure(record, operation, "engine: the material has another public key")
            raise
        with self._lock:
            self._cache[key] = stamp
            while len(self._cache) > _MAX_PROOFS:
                self._cache.pop(next(iter(self._cache)))
        return public_key

    def check_signature(self, record: KeyRecord, public_key: PublicKey, sig_alg: SigningAlgorithm, data: bytes,
                        mt: MessageType, signature: bytes) -> bytes:
        """The signature, once it is shown to come from the recorded key; else an audit row and an error."""
        if I.made_by(public_key, sig_alg, data, mt, signature):
            return signature
        self.forget(record.engine_id)
        self.record_failure(record, "sign", "signature: not made by the recorded key")
        raise KeyIntegrityError(
            f"Key {record.name[:80]!r} on {record.engine_id!r} returned a signature that its recorded public key "
            "does not verify: it is not returned.",
            hint="The engine signed with another key or failed; kms-tui doctor --deep checks every key.")

    def forget(self, engine_id: str | None = None) -> None:
        """Drop the kept proofs (of one engine): the next signature proves again."""
        with self._lock:
            for key in [k for k in self._cache if engine_id is None or k[0] == engine_id]:
                del self._cache[key]

    def record_failure(self, record: KeyRecord, operation: str, reason: str) -> None:
        """The audit row of an integrity failure; a store that cannot write it does not hide the error."""
        try:
            self._ctx.store.audit.append(
                "key.integrity_failure", engine_id=record.engine_id, key_id=record.key_id,
                details={"name": record.name[:80], "operation": operation, "reason": reason})
        except (StoreError, KmsError, OSError) as exc:
            log.error("The audit row of a key integrity failure could not be written: %s", type(exc).__name__)
