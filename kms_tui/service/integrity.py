"""A signature comes only from the recorded key (DESIGN §7.2): the checks before and after one.

Before a key signs, its record must agree with itself (the ``key_id`` names the recorded
public key) and the engine must prove that the material behind the record has that
public key. The proof costs an engine call (a token look-up, a fetched secret, a
GetPublicKey), so it is kept for the process, keyed by engine, reference and recorded
public key, and held only while the driver's ``proof_stamp`` is unchanged (the software
engine's key file identity): a changed record or key file is proven again. A batch
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
from engines.errors import KeyIntegrityError, KmsError
from store.errors import StoreError

from .key_ops import KeyOps

log = logging.getLogger("kms_tui.integrity")

_MISSING = object()
_MAX_PROOFS = 4096  # proofs remembered per process; the oldest are forgotten (and proven again)


class IntegrityOps(KeyOps):
    def _proofs(self) -> tuple[dict, threading.Lock]:
        """The per-process proof cache and its lock (made on first use: no constructor to change)."""
        found = self.__dict__.get("_proof_cache")
        if found is None:
            found = self.__dict__.setdefault("_proof_cache", ({}, threading.Lock()))
        return found

    def recorded_public_key(self, record, operation: str):
        """The record's public key, once its ``key_id`` is shown to name it (else an audit row and
        ``KeyIntegrityError``): a forged id is never signed with, verified with, or audited as the key's."""
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
        self.integrity_failure(record, operation, "record: key id and public key disagree")
        raise error

    def prove_record(self, record, operation: str, *, fresh: bool = False):
        """Prove that the engine's material behind ``record`` has its public key; that public key.

        Cached per process (see the module docstring) unless ``fresh``.
        """
        public_key = self.recorded_public_key(record, operation)
        driver = self.driver(record.engine_id)
        cache, lock = self._proofs()
        key = (record.engine_id, record.native_ref, record.key_id, K.spki_der(public_key))
        stamp = driver.proof_stamp(record.native_ref)
        if not fresh:
            with lock:
                if cache.get(key, _MISSING) == stamp:
                    return public_key
        try:
            driver.prove(record.native_ref, public_key)
        except KeyIntegrityError:
            with lock:
                cache.pop(key, None)
            self.integrity_failure(record, operation, "engine: the material has another public key")
            raise
        with lock:
            cache[key] = stamp
            while len(cache) > _MAX_PROOFS:
                cache.pop(next(iter(cache)))
        return public_key

    def check_signature(self, record, public_key, sig_alg, data: bytes, mt, signature: bytes) -> bytes:
        """The signature, once it is shown to come from the recorded key; else an audit row and an error."""
        if I.made_by(public_key, sig_alg, data, mt, signature):
            return signature
        self.forget_proofs(record.engine_id)
        self.integrity_failure(record, "sign", "signature: not made by the recorded key")
        raise KeyIntegrityError(
            f"Key {record.name[:80]!r} on {record.engine_id!r} returned a signature that its recorded public key "
            "does not verify: it is not returned.",
            hint="The engine signed with another key or failed; kms-tui doctor --deep checks every key.")

    def forget_proofs(self, engine_id: str | None = None) -> None:
        """Drop the kept proofs (of one engine): the next signature proves again."""
        cache, lock = self._proofs()
        with lock:
            for key in [k for k in cache if engine_id is None or k[0] == engine_id]:
                del cache[key]

    def forget_driver(self, engine_id: str) -> None:
        self.forget_proofs(engine_id)  # a new driver (new secret, new options) proves again
        super().forget_driver(engine_id)

    def integrity_failure(self, record, operation: str, reason: str) -> None:
        """The audit row of an integrity failure; a store that cannot write it does not hide the error."""
        try:
            self.store.audit.append(
                "key.integrity_failure", engine_id=record.engine_id, key_id=record.key_id,
                details={"name": record.name[:80], "operation": operation, "reason": reason})
        except (StoreError, KmsError, OSError) as exc:
            log.error("The audit row of a key integrity failure could not be written: %s", type(exc).__name__)
