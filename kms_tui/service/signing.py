"""Signing and verification.

Inputs are validated here, before any engine is touched: the algorithm must fit
the key, a DIGEST must have the hash's length. Verification uses the stored
public key, so it works while the engine is unreachable; the engine's own
verify is used only when asked for.
"""

from __future__ import annotations

import hashlib

from engines import algorithms as A
from engines import keys as K
from engines.errors import InvalidInput

from ..errors import Refused
from .key_ops import KeyOps


class SigningOps(KeyOps):
    def _signing_inputs(self, ref: str, algorithm: str, data: bytes, message_type: str):
        if not isinstance(data, (bytes, bytearray)):
            raise InvalidInput("The message must be bytes.")
        record = self.resolve(ref)
        sig_alg = A.signing_algorithm(algorithm)
        mt = A.MessageType.parse(message_type)
        A.check_fits(sig_alg, record.algorithm, record.size)
        A.check_message(sig_alg, bytes(data), mt)
        return record, sig_alg, mt

    def sign(self, ref: str, algorithm: str, data: bytes, message_type: str = "RAW") -> bytes:
        """Sign a message or digest with a key; ECDSA signatures are DER."""
        record, sig_alg, mt = self._signing_inputs(ref, algorithm, data, message_type)
        if not record.has_private_key or record.native_ref is None:
            raise Refused(f"Key {record.name[:80]!r} is public-key only: it can verify but not sign.")
        if record.status == "missing":
            raise Refused(
                f"Key {record.name[:80]!r} was not found in its engine at the last sync.",
                hint="Run: kms-tui sync " + record.engine_id,
            )
        signature = self.driver(record.engine_id).sign(record.native_ref, sig_alg, bytes(data), mt)
        self.store.audit.append(
            "key.sign",
            engine_id=record.engine_id,
            key_id=record.key_id,
            details={
                "algorithm": sig_alg.name,
                "message_type": mt.value,
                "input_sha256": hashlib.sha256(data).hexdigest(),
                "signature_sha256": hashlib.sha256(signature).hexdigest(),
            },
        )
        return signature

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
        if through_engine:
            if record.native_ref is None:
                raise Refused(f"Key {record.name[:80]!r} has no engine object to verify with.")
            return self.driver(record.engine_id).verify(record.native_ref, sig_alg, bytes(data), mt, bytes(signature))
        public_key = K.load_public_pem(record.public_key)
        return K.verify_with(public_key, sig_alg, bytes(data), mt, bytes(signature))

    def verify_with_public_key(
        self, public_key_data: bytes, algorithm: str, data: bytes, signature: bytes, message_type: str = "RAW"
    ) -> bool:
        """Verify against a public key given as PEM/DER/JWK/OpenSSH, not one recorded here."""
        parsed = K.parse_key(public_key_data)
        sig_alg = A.signing_algorithm(algorithm)
        if not isinstance(signature, (bytes, bytearray)) or not signature:
            raise InvalidInput("The signature is empty.")
        return K.verify_with(parsed.public_key, sig_alg, bytes(data), A.MessageType.parse(message_type), bytes(signature))
