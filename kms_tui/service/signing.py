"""The signing service (``kms.signing``): signing, batches and verification.

Inputs are validated here, before any engine is touched: the algorithm must fit
the key, a DIGEST must have the hash's length. Verification uses the stored
public key, so it works while the engine is unreachable; the engine's own
verify is used only when asked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from engines import algorithms as A
from engines import keys as K
from engines.errors import InvalidInput, KeyIntegrityError
from store import KeyRecord

from .core import ServiceContext
from .errors import Refused, Service
from .integrity import KeyProofs
from .key_ops import KeyService
from .retirement import check_not_retired, is_retired

if TYPE_CHECKING:
    from .batch_run import BatchEmit, BatchEmitMany, BatchItem, BatchRun, BatchSummary

__all__ = ["SigningService"]


class SigningService(Service):
    """Signatures from recorded keys only (``proofs``), and verification against recorded public keys."""

    def __init__(self, context: ServiceContext, keys: KeyService, proofs: KeyProofs) -> None:
        self._ctx = context
        self._keys = keys
        self.proofs = proofs

    def _signing_inputs(self, ref: str, algorithm: str, data: bytes,
                        message_type: str) -> tuple[KeyRecord, A.SigningAlgorithm, A.MessageType]:
        if not isinstance(data, (bytes, bytearray)):
            raise InvalidInput("The message must be bytes.")
        record = self._keys.resolve(ref)
        sig_alg = A.signing_algorithm(algorithm)
        mt = A.MessageType.parse(message_type)
        A.check_fits(sig_alg, record.algorithm, record.size)
        A.check_message(sig_alg, bytes(data), mt)
        return record, sig_alg, mt

    def sign(self, ref: str, algorithm: str, data: bytes, message_type: str = "RAW", *,
             allow_retired: bool = False) -> bytes:
        """Sign a message or digest with a key; ECDSA signatures are DER.

        The engine first proves that it holds the recorded key, and the signature is
        verified against the recorded public key before it is returned (DESIGN §7.2).
        A retired (rotated) key signs only with ``allow_retired``.
        """
        record, sig_alg, mt = self._signing_inputs(ref, algorithm, data, message_type)
        ref = self._check_can_sign(record, allow_retired)
        self._check_message_type(record, mt)
        ctx = self._ctx
        public_key = ctx.on_current_secret(record.engine_id, lambda _driver: self.proofs.prove(record, "sign"))
        signature = ctx.driver(record.engine_id).sign(ref, sig_alg, bytes(data), mt)
        self.proofs.check_signature(record, public_key, sig_alg, bytes(data), mt, signature)
        ctx.store.audit.append(
            "key.sign",
            engine_id=record.engine_id,
            key_id=record.key_id,
            details={
                "algorithm": sig_alg.name,
                "message_type": mt.value,
                "input_sha256": hashlib.sha256(data).hexdigest(),
                "signature_sha256": hashlib.sha256(signature).hexdigest(),
                **({"retired": True} if is_retired(record) else {}),  # signed only because the caller allowed it
            },
        )
        return signature

    def sign_batch(
        self,
        ref: str,
        algorithm: str,
        items: Iterable[BatchItem],
        message_type: str = "RAW",
        *,
        emit: BatchEmit,
        emit_many: BatchEmitMany | None = None,
        progress: Callable[[BatchSummary], None] | None = None,
        cancel: threading.Event | None = None,
        allow_retired: bool = False,
        workers: int | None = None,
    ) -> BatchSummary:
        """Sign many messages or digests with one key on one engine session.

        ``items`` yields objects with ``id``, ``line``, ``data`` (bytes or None) and
        ``error`` (why the input could not be read); ``emit(id, line, signature,
        error)`` receives each result as it is made, or ``emit_many(items, signatures,
        errors)`` a part's results at once (see batch_run). One failing item does not stop
        the batch; ten engine failures in a row do. One audit row records the batch:
        counts and SHA-256 hashes over every input and every output, written even
        when the batch is interrupted. A retired key signs only with ``allow_retired``
        (checked once, before the first item). ``workers``: threads to sign on where the
        engine's signer allows it (default: one per core; see batch_run.batch_workers).
        """
        record = self._keys.resolve(ref)
        sig_alg = A.signing_algorithm(algorithm)
        mt = A.MessageType.parse(message_type)
        A.check_fits(sig_alg, record.algorithm, record.size)
        if sig_alg.hash_name is None and mt is A.MessageType.DIGEST:
            A.check_message(sig_alg, b"", mt)  # raises the refusal, with the reason (and ML-DSA's way out)
        ref = self._check_can_sign(record, allow_retired)
        self._check_message_type(record, mt)
        # The record must agree with itself; the engine proves the material the batch signs with
        # (once, as it fetches or finds it) to be the recorded key.
        public_key = self.proofs.recorded_public_key(record, "sign_batch")
        from .batch_run import BatchRun, BatchSummary, batch_workers

        batch: BatchRun | None = None
        try:
            with contextlib.ExitStack() as held:
                # Opened on the engine's current secret: a driver opened before another process
                # re-keyed the engine reopens with the new passphrase (as single signing does).
                sign_one = self._ctx.on_current_secret(record.engine_id, lambda driver: held.enter_context(
                    driver.signer(ref, sig_alg, mt, expected=public_key)))
                batch = BatchRun(sign_one, emit, emit_many, progress, cancel,
                                 workers=batch_workers(self._ctx.driver(record.engine_id), workers))
                batch.run(items)
        except KeyIntegrityError:
            if batch is not None:
                batch.summary.interrupted = True
            self.proofs.record_failure(record, "sign_batch", "engine: the material has another public key")
            raise
        except BaseException:
            if batch is not None:
                batch.summary.interrupted = True
            raise
        finally:
            summary = batch.finish() if batch is not None else BatchSummary()
            if summary.count:
                self._audit_batch(record, sig_alg, mt, summary)
        return summary

    def _audit_batch(self, record: KeyRecord, sig_alg: A.SigningAlgorithm, mt: A.MessageType,
                     summary: BatchSummary) -> None:
        details: dict[str, Any] = {
            "algorithm": sig_alg.name,
            "message_type": mt.value,
            "count": summary.count,
            "signed": summary.signed,
            "failed": summary.failed,
            "inputs_sha256": summary.inputs_sha256,
            "outputs_sha256": summary.outputs_sha256,
        }
        if summary.interrupted:
            details["interrupted"] = True
        if summary.stopped:
            details["stopped"] = summary.stopped[:300]
        if is_retired(record):  # signed only because the caller allowed it
            details["retired"] = True
        self._ctx.store.audit.append("key.sign_batch", engine_id=record.engine_id, key_id=record.key_id, details=details)

    def _check_message_type(self, record: KeyRecord, mt: A.MessageType) -> None:
        """An external mu goes only to an engine that signs one (``Capabilities.external_mu``)."""
        if mt is A.MessageType.EXTERNAL_MU and not self._ctx.driver(record.engine_id).CAPABILITIES.external_mu:
            raise Refused(f"Engine {record.engine_id!r} cannot sign an ML-DSA external mu.",
                          hint="Sign the message itself: use message type raw.")

    def external_mu(self, ref: str, chunks: Iterable[bytes]) -> bytes:
        """The FIPS 204 mu (64 bytes) of a message given in chunks, for the key's recorded public key.

        What ``external-mu`` signs and verifies: a file of any size is hashed here, a
        chunk at a time, and only the mu goes to the engine.
        """
        record = self._keys.resolve(ref)
        if record.algorithm != A.ML_DSA:
            raise InvalidInput(f"Key {record.name[:80]!r} is {record.algorithm}: an external mu is for ML-DSA keys.")
        return K.ml_dsa_mu(self.proofs.recorded_public_key(record, "external_mu"), chunks)

    @staticmethod
    def _check_can_sign(record: KeyRecord, allow_retired: bool = False) -> str:
        """The engine object that signs for the key; Refused when the key cannot sign now."""
        if not record.has_private_key or record.native_ref is None:
            raise Refused(f"Key {record.name[:80]!r} is public-key only: it can verify but not sign.")
        check_not_retired(record, allow_retired)
        if record.status == "missing":
            raise Refused(
                f"Key {record.name[:80]!r} was not found in its engine at the last sync.",
                hint="Run: kms-tui sync " + record.engine_id,
            )
        if record.state == "PendingDeletion":
            raise Refused(f"Key {record.name[:80]!r} is pending deletion: it does not sign.",
                          hint=f"Restore it first: kms-tui keys action {record.name[:80]} ACTION "
                               "(restore, or cancel-deletion on AWS KMS).")
        return record.native_ref

    def verify(
        self,
        ref: str,
        algorithm: str,
        data: bytes,
        signature: bytes,
        message_type: str = "RAW",
        *,
        through_engine: bool = False,
    ) -> bool:
        """True when the signature is valid for the key's stored public key."""
        record, sig_alg, mt = self._signing_inputs(ref, algorithm, data, message_type)
        if not isinstance(signature, (bytes, bytearray)) or not signature:
            raise InvalidInput("The signature is empty.")
        public_key = self.proofs.recorded_public_key(record, "verify")  # a record that disagrees with itself verifies nothing
        K.check_signature_length(record.algorithm, record.size, bytes(signature))
        if through_engine:
            if record.native_ref is None:
                raise Refused(f"Key {record.name[:80]!r} has no engine object to verify with.")
            valid: bool = self._ctx.driver(record.engine_id).verify(record.native_ref, sig_alg, bytes(data), mt,
                                                                     bytes(signature))
            return valid
        return K.verify_with(public_key, sig_alg, bytes(data), mt, bytes(signature))

    def verify_with_public_key(
        self, public_key_data: bytes, algorithm: str, data: bytes, signature: bytes, message_type: str = "RAW"
    ) -> bool:
        """Verify against a public key given as PEM/DER/JWK/OpenSSH, not one recorded here."""
        parsed = K.parse_key(public_key_data)
        sig_alg = A.signing_algorithm(algorithm)
        if not isinstance(signature, (bytes, bytearray)) or not signature:
            raise InvalidInput("The signature is empty.")
        K.check_signature_length(parsed.algorithm, parsed.size, bytes(signature))
        return K.verify_with(parsed.public_key, sig_alg, bytes(data), A.MessageType.parse(message_type), bytes(signature))
