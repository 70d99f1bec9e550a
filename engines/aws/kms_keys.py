"""What an AWS KMS key is to kms-tui: specs, references, states, and how a signature is asked for.

``KmsKeys`` reads keys for the driver: it turns a reference into a KMS key id (a key id or
a key ARN; nothing else is ever sent), reads metadata and public keys (a public key never
changes, so it is read once per process; AWS refuses to show it while a key is disabled)
and names AWS's state errors.

``kms_request`` says what KMS is sent. KMS signs RAW messages of 1 to 4096 bytes and
DIGESTs of the algorithm's hash length; anything else is hashed here and sent as a DIGEST.
Ed25519 and ML-DSA sign the message itself. KMS's Ed25519 (``ED25519_SHA_512``, kms-tui's
``ED25519``) takes RAW messages only: its DIGEST form is ``ED25519_PH_SHA_512``, the
pre-hashed HashEdDSA, another signature, so a longer message is refused. ML-DSA
(``ML_DSA_SHAKE_256``) takes RAW messages or a 64-byte ``EXTERNAL_MU`` (FIPS 204 mu); a
message KMS would not take RAW is turned into its mu here, from the key's public key.
For ECDSA, KMS takes only the curve's own hash (P-256 with SHA-256, P-384 with SHA-384,
P-521 with SHA-512); another hash is computed here and sent as a DIGEST of the curve's
hash size, cut to its leftmost bytes or left-padded with zeros. ECDSA signs the leftmost
bits of a digest read as an integer (SEC 1, 4.1.3), and each curve's order is at least as
long as its own hash, so the result is exactly the signature asked for.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Required, TypedDict

from .. import algorithms as A
from .. import errors as E
from .. import keys as K
from ..base import NativeKey
from .errors import ErrorCodes, KeyNotEnabled, KeyPendingDeletion, KeyStateConflict, clean

if TYPE_CHECKING:
    from .common import AwsConnection

SPECS = {
    (A.RSA, 2048): "RSA_2048", (A.RSA, 3072): "RSA_3072", (A.RSA, 4096): "RSA_4096",
    (A.ECDSA, 256): "ECC_NIST_P256", (A.ECDSA, 384): "ECC_NIST_P384", (A.ECDSA, 521): "ECC_NIST_P521",
    (A.ED25519, 256): "ECC_NIST_EDWARDS25519",
    (A.ML_DSA, 44): "ML_DSA_44", (A.ML_DSA, 65): "ML_DSA_65", (A.ML_DSA, 87): "ML_DSA_87",
}
BY_SPEC = {spec: key_type for key_type, spec in SPECS.items()}
# What KMS's import takes here: the RSA and NIST-curve specs, wrapped as PKCS#8.
IMPORT_SPECS = {key_type: spec for key_type, spec in SPECS.items() if key_type[0] in (A.RSA, A.ECDSA)}
# kms-tui's signing algorithm names that KMS spells otherwise.
WIRE_NAMES = {"ED25519": "ED25519_SHA_512"}
ECDSA_NATIVE = {256: "ECDSA_SHA_256", 384: "ECDSA_SHA_384", 521: "ECDSA_SHA_512"}
RAW_LIMIT = 4096  # the largest RAW message KMS accepts
_ID = r"(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
_KEY_ID = re.compile(_ID)
_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]{1,32}:[0-9]{12}:key/" + _ID)


class KeyMetadata(TypedDict, total=False):
    """What kms-tui reads of a ``KeyMetadata`` (DescribeKey, CreateKey)."""

    KeyId: Required[str]
    Arn: str
    KeySpec: str
    KeyUsage: str
    KeyManager: str
    KeyState: str
    DeletionDate: datetime


def is_signing_key(meta: KeyMetadata) -> bool:
    """A customer-managed SIGN_VERIFY key of a spec this engine handles (from DescribeKey)."""
    return (meta.get("KeyManager") == "CUSTOMER" and meta.get("KeyUsage") == "SIGN_VERIFY"
            and meta.get("KeySpec") in BY_SPEC)


def external_mu(public_key: K.PublicKey, data: bytes) -> bytes:
    """FIPS 204 mu of a message for pure ML-DSA with the empty context:
    SHAKE256(SHAKE256(pk, 64) || 0x00 || 0x00 || message, 64)."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    tr = hashlib.shake_256(raw).digest(A.MU_LENGTH)
    return hashlib.shake_256(tr + b"\0\0" + data).digest(A.MU_LENGTH)


def _pure_request(sig_alg: A.SigningAlgorithm, data: bytes, mt: A.MessageType,
                  public_key: Callable[[], K.PublicKey] | None) -> tuple[str, str, bytes]:
    """Ed25519 and ML-DSA: the message itself, or (ML-DSA) its mu; ``check_message`` ran first."""
    name = WIRE_NAMES.get(sig_alg.name, sig_alg.name)
    if mt is A.MessageType.EXTERNAL_MU:
        return name, mt.value, data
    if 0 < len(data) <= RAW_LIMIT:
        return name, "RAW", data
    if sig_alg.key_algorithm == A.ML_DSA and public_key is not None:
        return name, A.MessageType.EXTERNAL_MU.value, external_mu(public_key(), data)
    if sig_alg.key_algorithm == A.ML_DSA:
        raise E.InvalidInput(f"{sig_alg.name}: a message of {len(data)} bytes is sent as its mu, "
                             "which needs the key's public key.")
    raise E.OperationNotSupported(
        f"AWS KMS signs {sig_alg.name} ({name}) messages of 1 to {RAW_LIMIT} bytes only; this one has {len(data)}.",
        hint="Its pre-hashed form, ED25519_PH_SHA_512, makes another signature that Ed25519 does not verify.")


def kms_request(sig_alg: A.SigningAlgorithm, algorithm: str, size: int, data: bytes,
                message_type: A.MessageType,
                public_key: Callable[[], K.PublicKey] | None = None) -> tuple[str, str, bytes]:
    """(SigningAlgorithm, MessageType, Message) to send to KMS Sign or Verify; ``public_key``
    gives the key's public key when an ML-DSA message must be sent as its mu."""
    mt = A.MessageType.parse(message_type)
    if sig_alg.hash_name is None:
        return _pure_request(sig_alg, data, mt, public_key)
    if algorithm == A.ECDSA and sig_alg.name != ECDSA_NATIVE[size]:
        native = A.signing_algorithm(ECDSA_NATIVE[size])
        width = native.digest_length()
        return native.name, "DIGEST", A.prepare_digest(sig_alg, data, mt)[:width].rjust(width, b"\0")
    if mt is A.MessageType.RAW and 0 < len(data) <= RAW_LIMIT:
        return sig_alg.name, "RAW", data
    return sig_alg.name, "DIGEST", A.prepare_digest(sig_alg, data, mt)


class KmsKeys:
    """Reads keys of one engine through its ``AwsConnection``."""

    def __init__(self, conn: AwsConnection, engine_id: str):
        self.conn, self.engine_id = conn, engine_id
        self.public: dict[str, K.PublicKey] = {}  # KMS key id -> public key

    def not_found(self, ref: object) -> E.KeyNotFoundInEngine:
        shown = clean(repr(ref[:100] if isinstance(ref, str) else ref), 80)
        return E.KeyNotFoundInEngine(f"Engine {self.engine_id!r} holds no KMS key {shown}.")

    def kid(self, ref: object) -> str:
        if isinstance(ref, str):
            if _KEY_ID.fullmatch(ref):
                return ref
            arn = _KEY_ARN.fullmatch(ref)
            if arn:
                return arn.group(1)
        raise self.not_found(ref)

    def codes(self, kid: str) -> ErrorCodes:
        """AWS's key errors, named: for ``AwsConnection.call(..., codes=)``."""
        def invalid_state(message: str) -> E.KmsError:
            if "pending deletion" in message.lower():
                return KeyPendingDeletion(f"KMS key {kid} is pending deletion.", hint="Run the cancel-deletion action.")
            return KeyStateConflict(f"KMS key {kid} is not in a state that allows this: {message}")

        return {
            "NotFoundException": lambda m: self.not_found(kid),
            "DisabledException": lambda m: KeyNotEnabled(f"KMS key {kid} is Disabled.", hint="Run the enable action."),
            "KMSInvalidStateException": invalid_state,
        }

    def describe(self, kid: str) -> KeyMetadata:
        meta: KeyMetadata = self.conn.call("describe_key", f"reading key {kid}", KeyId=kid,
                                           codes=self.codes(kid))["KeyMetadata"]
        return meta

    def check_signing_key(self, meta: KeyMetadata) -> tuple[str, int]:
        """(algorithm, size) of a usable signing key; typed errors for others and for deleted ones."""
        kid = meta["KeyId"]
        if not is_signing_key(meta):
            raise E.KeyNotFoundInEngine(
                f"KMS key {kid} is not a customer-managed signing key of a supported spec "
                f"({meta.get('KeyUsage')}, {meta.get('KeySpec')}).")
        if meta.get("KeyState") == "PendingDeletion":
            when = meta.get("DeletionDate")
            on = f" (AWS deletes it on {when:%Y-%m-%d})" if hasattr(when, "strftime") else ""
            raise KeyPendingDeletion(f"KMS key {kid} of engine {self.engine_id!r} is pending deletion{on}.",
                                     hint="Run the cancel-deletion action to keep it.")
        return BY_SPEC[meta["KeySpec"]]

    def public_key(self, kid: str) -> K.PublicKey:
        public = self.public.get(kid)
        if public is None:
            der = self.conn.call("get_public_key", f"reading the public key of key {kid}", KeyId=kid,
                                 codes=self.codes(kid))["PublicKey"]
            try:
                public = K.parse_key(der).public_key
            except E.KmsError:
                raise E.EngineError(f"KMS returned a public key of key {kid} that cannot be read.") from None
            self.public[kid] = public
        return public

    def native(self, meta: KeyMetadata, label: str | None = None) -> NativeKey:
        public = self.public_key(meta["KeyId"])
        algorithm, size = K.describe(public)
        if (algorithm, size) != BY_SPEC[meta["KeySpec"]]:
            raise E.EngineError(f"KMS key {meta['KeyId']} holds a public key that does not match its spec.")
        extra = {"arn": meta.get("Arn"), "key_spec": meta["KeySpec"]}
        if label:
            extra["label"] = label
        return NativeKey(ref=meta["KeyId"], key_id=K.key_id_of(public), public_key=public, algorithm=algorithm,
                         size=size, state=meta.get("KeyState"), extra=extra)

    def state_view(self, kid: str) -> NativeKey:
        """The key as it is now; its public key is None only when AWS will not show it in this state."""
        meta = self.describe(kid)
        try:
            return self.native(meta)
        except KeyStateConflict:
            pass
        algorithm, size = BY_SPEC.get(meta.get("KeySpec", ""), ("", 0))  # empty, as a light entry's
        aliases = self.conn.call("list_aliases", f"reading the aliases of key {kid}", KeyId=kid).get("Aliases", [])
        key_id = next((a["AliasName"][6:] for a in aliases if K.is_key_id(a.get("AliasName", "")[6:])), "")
        return NativeKey(ref=kid, key_id=key_id, public_key=None, algorithm=algorithm, size=size,
                         state=meta.get("KeyState"), extra={"arn": meta.get("Arn")})
