"""The base of the engines that keep each private key as a stored blob and sign here.

The software engine (a PEM file per key), AWS Secrets Manager (a secret per key) and
HashiCorp Vault KV v2 (a KV secret per key) all keep a key's PKCS#8 private key in
their store and do the cryptography in this process with ``cryptography``.
``StoredKeyEngine`` owns what they share: create and import (check, generate, write,
describe), ``get``, ``sign`` and batch signing, and the integrity proof of the material
against a recorded public key. A driver says where its blobs live and how they are
named: ``_read_private`` and ``_write_private``, and its own inventory, delete, options
and key actions. How long a read key lives is the driver's: the software engine keeps
decrypted keys in a small cache, the cloud engines fetch a key for one operation (or one
batch) and drop it.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator
from typing import ClassVar

from . import algorithms as A
from . import errors as E
from . import keys as K
from .base import Capabilities, EngineDriver, NativeKey


class StoredKeyEngine(EngineDriver):
    """An engine that stores private keys and signs with them here."""

    # create, import and delete; public keys are recorded by the service, without an engine
    CAPABILITIES = Capabilities(can_import_public=False, native_verify=False, external_mu=True)
    SUPPORTED: ClassVar[dict[str, tuple[int, ...]]] = {
        A.RSA: A.RSA_CREATE_SIZES, A.ECDSA: A.ECDSA_SIZES, A.ED25519: A.ED25519_SIZES, A.ML_DSA: A.ML_DSA_SIZES,
    }
    # How messages name the engine ("The software engine"); "The <DISPLAY> engine" when empty.
    HOLDER: ClassVar[str] = ""
    # A stored key's material can leave wrapped (RFC 5649) under a backup key-encryption key.
    BACKUP_WRAP = True
    # ``signer`` yields a ``cryptography`` key's sign (keys.signer_for): thread-safe, GIL released.
    CONCURRENT_SIGNER = True

    # --- what a driver implements ------------------------------------------

    @abc.abstractmethod
    def _read_private(self, ref: str, *, signing: bool = False) -> K.PrivateKey:
        """The private key object stored at ``ref``.

        ``KeyNotFoundInEngine`` when nothing is stored there (a reference that cannot be
        one of this engine's is never sent to the store); a typed error when what is
        there is not a private key. ``signing``: the key is read to sign with.
        """

    @abc.abstractmethod
    def _write_private(self, key_id: str, private: K.PrivateKey) -> str:
        """Store a new key under its key id, never over another; returns its reference.

        ``KeyExists`` when the engine already holds a key of that name.
        """

    # --- shared logic ----------------------------------------------------------

    def supported_key_types(self) -> dict[str, tuple[int, ...]]:
        return dict(self.SUPPORTED)

    def _holder(self) -> str:
        return self.HOLDER or f"The {self.DISPLAY} engine"

    def _not_found(self, ref: object, why: str = "") -> E.KeyNotFoundInEngine:
        shown = repr(ref[:100] if isinstance(ref, str) else ref)  # quoted and cut short: it may be hostile
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return E.KeyNotFoundInEngine(f"Engine {self.engine_id!r} holds no key {shown}{why}.")

    def _native(self, ref: str, private: K.PrivateKey) -> NativeKey:
        """The key at ``ref`` as the engine holds it, described from its private key."""
        public = private.public_key()
        algorithm, size = K.describe(public)
        return NativeKey(ref=ref, key_id=K.key_id_of(public), public_key=public, algorithm=algorithm, size=size)

    def _stored(self, private: K.PrivateKey) -> NativeKey:
        return self._native(self._write_private(K.key_id_of(private.public_key()), private), private)

    def get(self, ref: str) -> NativeKey:
        return self._native(ref, self._read_private(ref))

    def prove(self, ref: str, public_key: K.PublicKey) -> None:
        """The stored private key itself (not a listing of it) has ``public_key``."""
        from .integrity import require_same_key

        require_same_key(self.engine_id, ref, self._read_private(ref).public_key(), public_key)

    def create(self, algorithm: str, size: int) -> NativeKey:
        algorithm, size = A.validate_spec(algorithm, size, self.supported_key_types())
        return self._stored(K.generate(algorithm, size))

    def import_key(self, key: K.ParsedKey) -> NativeKey:
        private = key.private_key
        if private is None:
            raise E.OperationNotSupported(
                f"{self._holder()} stores private keys only; a public key is kept as a public-key-only entry."
            )
        if key.algorithm not in self.SUPPORTED:
            raise E.UnsupportedKeyType(f"{self._holder()} cannot hold {key.algorithm} keys.")
        return self._stored(private)

    def sign(self, ref: str, sig_alg: A.SigningAlgorithm, data: bytes, message_type: A.MessageType) -> bytes:
        private = self._read_private(ref, signing=True)
        try:
            return K.sign_with(private, sig_alg, data, message_type)
        finally:
            del private  # the key object goes with the operation (a cache may still hold it)

    @contextlib.contextmanager
    def signer(
        self, ref: str, sig_alg: A.SigningAlgorithm, message_type: A.MessageType, *,
        expected: K.PublicKey | None = None,
    ) -> Iterator[Callable[[bytes], bytes]]:
        # One read for the whole batch, proven to be the expected key: the very key object the
        # batch signs with. It is dropped when the batch ends.
        private = self._read_private(ref, signing=True)
        try:
            if expected is not None:
                from .integrity import require_same_key

                require_same_key(self.engine_id, ref, private.public_key(), expected)
            yield K.signer_for(private, sig_alg, message_type)
        finally:
            del private

    # --- backup under split custody ---------------------------------------------

    def create_wrappable(self, algorithm: str, size: int) -> NativeKey:
        """A stored key is wrappable as made: its blob is read here, the only way it leaves is wrapped."""
        return self.create(algorithm, size)

    def wrap_key(self, ref: str, kek: bytes, *, officer_pin: str | None = None) -> bytes:
        """The key read as a signature reads it, as PKCS#8 DER wrapped under ``kek`` (RFC 5649)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

        _check_kek(kek)
        private = self._read_private(ref, signing=True)
        try:
            der = private.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            return aes_key_wrap_with_padding(kek, der)
        finally:
            del private

    def unwrap_key(self, wrapped: bytes, kek: bytes, public_key: K.PublicKey, *, label: str) -> NativeKey:
        """Unwrapped, checked against ``public_key``, and stored as an import stores a key (never over one)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding

        _check_kek(kek)
        try:
            der = aes_key_unwrap_with_padding(kek, wrapped)
        except (InvalidUnwrap, ValueError):
            raise E.KeyParseError("The wrapped key does not open under this backup's key.") from None
        try:
            loaded = serialization.load_der_private_key(_unpadded(der), password=None)
        except (ValueError, TypeError):
            raise E.KeyParseError("The unwrapped key is not a PKCS#8 private key.") from None
        finally:
            del der
        private = K.supported_private(loaded)
        if K.key_id_of(private.public_key()) != K.key_id_of(public_key):
            raise E.KeyIntegrityError("The unwrapped key is not the key the backup records.")
        if K.describe(private)[0] not in self.SUPPORTED:
            raise E.UnsupportedKeyType(f"{self._holder()} cannot hold {K.describe(private)[0]} keys.")
        return self._stored(private)


def _unpadded(der: bytes) -> bytes:
    """The DER value alone: some tokens (SoftHSM2) zero-pad a key to whole 8-byte blocks before
    CKM_AES_KEY_WRAP_PAD pads it again, and the unwrap gives those zeros back."""
    if len(der) < 2 or der[0] != 0x30:
        return der
    if der[1] < 0x80:
        end = 2 + der[1]
    else:
        count = der[1] & 0x7F
        if not 1 <= count <= 4 or len(der) < 2 + count:
            return der
        end = 2 + count + int.from_bytes(der[2:2 + count], "big")
    if end < len(der) and len(der) - end < 8 and not any(der[end:]):
        return der[:end]
    return der


def _check_kek(kek: bytes) -> None:
    if len(kek) != 32:
        raise E.InvalidInput("A backup key-encryption key is 32 bytes (AES-256).")
