"""Azure Key Vault engine (Lamassu ``AZURE_KEY_VAULT``): keys that never leave the vault.

Layout, as Lamassu's Key Vault engine keeps it: one Key Vault key per key, named with a
random UUID (the key id, a hash of the public key, is only known once the vault has made
the key), tagged ``x-lamassu-id=<key_id>``, key operations sign and verify. The native
reference is the key name. Keys without the tag (made by other tools) are adopted with
the key id derived from their public key.

Signing goes through the SDK's ``CryptographyClient`` with a digest (RS*, PS*, ES*); ES*
signatures come back as r||s and are returned DER-encoded. Delete is Key Vault's soft
delete (the key can be recovered); purge is a separate, explicit key action. The SDK
plumbing and the error boundary live in ``session``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING

from .. import algorithms as A
from .. import errors as E
from .. import keys as K
from ..base import Capabilities, EngineDriver, NativeKey, OptionSpec, SecretSpec
from .errors import KeyNotDeleted
from .session import VaultSession
from .support import CREDENTIALS, KEY_OPS, LAMASSU_TAG, check_options, private_jwk, sign_parameters

if TYPE_CHECKING:
    from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm

log = logging.getLogger("engines.azure")


class AzureKeyVaultEngine(EngineDriver):
    TYPE = "AZURE_KEY_VAULT"
    DISPLAY = "Azure Key Vault"
    PROVIDER = "Microsoft Azure"
    SECURITY_LEVEL = 1
    OPTIONS = (
        OptionSpec("vault_url", "the vault's address, e.g. https://my-vault.vault.azure.net", required=True),
        OptionSpec("credential", "how to sign in: client-secret, certificate or default (the ambient Azure "
                   "credential chain)", default="client-secret", choices=CREDENTIALS),
        OptionSpec("tenant_id", "the Entra ID tenant (directory) id"),
        OptionSpec("client_id", "the service principal's application (client) id; with credential=default, "
                   "a user-assigned managed identity's client id"),
        OptionSpec("certificate_path", "PEM file with the principal's certificate and private key "
                   "(credential=certificate)"),
        OptionSpec("hsm", "create and import HSM-protected keys (RSA-HSM, EC-HSM; Premium vaults)",
                   default="false", choices=("true", "false")),
        OptionSpec("ca_bundle", "CA certificate file to trust for the vault and the sign-in authority "
                   "(private endpoints, test vaults)"),
        OptionSpec("authority_host", "the Entra ID authority, e.g. https://login.microsoftonline.us "
                   "(default: the public cloud)"),
        OptionSpec("connection_timeout", "seconds to wait for a connection", default="5"),
        OptionSpec("read_timeout", "seconds to wait for an answer", default="30"),
        OptionSpec("retry_total", "retries of a failed request", default="2"),
    )
    SECRET = SecretSpec("client secret", required=False)  # needed with credential=client-secret only
    CAPABILITIES = Capabilities(can_import_public=False, native_verify=True)
    KEY_ACTIONS = {
        "recover": "recover a soft-deleted key, with all its versions",
        "purge": "permanently erase a soft-deleted key (cannot be undone)",
    }
    SUPPORTED = {A.RSA: A.RSA_CREATE_SIZES, A.ECDSA: (256, 384, 521)}

    def __init__(self, engine_id: str, options: dict[str, str], secret: str | None):
        super().__init__(engine_id, options, secret)
        if self.needs_secret(self.options) and not secret:
            raise E.EngineConfigError(f"Engine {engine_id!r} signs in with a client secret and needs it.")
        self.vault_url = self.options["vault_url"]
        self.hsm = self.options["hsm"] == "true"
        self._session = VaultSession(engine_id, self.options, secret)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.engine_id!r} {self.vault_url}>"

    @classmethod
    def validate_options(cls, options: dict[str, str]) -> dict[str, str]:
        options = dict(options)
        if options.get("hsm") is not None:
            options["hsm"] = str(options["hsm"]).strip().lower()
        return check_options(super().validate_options(options))

    @classmethod
    def needs_secret(cls, options: dict[str, str]) -> bool:
        return options.get("credential", "client-secret") == "client-secret"

    def supported_key_types(self) -> dict[str, tuple[int, ...]]:
        return dict(self.SUPPORTED)

    # --- keys ------------------------------------------------------------

    def check(self) -> None:
        client = self._session.client
        self._session.call(lambda: next(iter(client.list_properties_of_keys(max_page_size=1)), None), "list its keys")

    def get(self, ref: str) -> NativeKey:
        session = self._session
        return session.native(session.fetch(session.name(ref)))

    def inventory(self, known: Collection[str] = (), full: bool = False) -> Iterator[NativeKey]:
        """Every key of the vault, through the paged listing; unusable key types are skipped.

        A ``known`` key is a light entry (unless ``full``): the listing's properties say
        whether it is enabled, so no key is read again.
        """
        known = known if isinstance(known, (set, frozenset)) else frozenset(known)
        for props in self._session.properties():
            if props.name in known and not full:
                yield NativeKey.seen(props.name, None if props.enabled is not False else "Disabled")
                continue
            try:
                yield self.get(props.name)
            except E.KeyNotFoundInEngine:
                continue  # deleted while we were listing
            except E.UnsupportedKeyType as exc:
                log.warning("Skipped key %s in %s: %s", props.name, self.vault_url, exc.message)

    def create(self, algorithm: str, size: int) -> NativeKey:
        algorithm, size = A.validate_spec(algorithm, size, self.supported_key_types())
        session, name = self._session, str(uuid.uuid4())
        client = session.client
        kty = ("RSA" if algorithm == A.RSA else "EC") + ("-HSM" if self.hsm else "")
        rsa_size, curve = (size, None) if algorithm == A.RSA else (None, A.NIST_NAME[size])
        kv_key = session.call(
            lambda: client.create_key(name, kty, key_operations=KEY_OPS, size=rsa_size, curve=curve),
            f"create a key ({algorithm} {size})")
        native = session.native(kv_key)
        tags = {LAMASSU_TAG: native.key_id}  # the key id exists only now; Lamassu tags the version the same way
        try:
            session.call(lambda: client.update_key_properties(name, kv_key.properties.version, tags=tags),
                         f"tag key {name}")
        except E.KmsError:
            try:
                client.begin_delete_key(name)
            except Exception:  # left untagged; a sync adopts it by its public key
                log.warning("Untagged key %s could not be removed from %s.", name, self.vault_url)
            raise
        session.remember(kv_key, native)
        return native

    def import_key(self, key: K.ParsedKey) -> NativeKey:
        private = key.private_key
        if private is None:
            raise E.OperationNotSupported(
                "Azure Key Vault holds key pairs only; a public key is kept as a public-key-only entry."
            )
        if key.size not in self.SUPPORTED.get(key.algorithm, ()):
            raise E.UnsupportedKeyType(
                f"Azure Key Vault cannot hold {key.algorithm} {key.size} keys.",
                hint="It holds RSA 2048/3072/4096 and ECDSA P-256/P-384/P-521 keys.",
            )
        session, key_id, name = self._session, key.key_id, str(uuid.uuid4())
        # Names are random, so the tag is what tells whether the vault already holds this key.
        existing = next((p.name for p in session.properties() if (p.tags or {}).get(LAMASSU_TAG) == key_id), None)
        if existing:
            raise E.KeyExists(f"Key {key_id} is already in {self.vault_url} as key {existing}.")
        client = session.client
        kv_key = session.call(
            lambda: client.import_key(name, private_jwk(private), hardware_protected=self.hsm or None,
                                      tags={LAMASSU_TAG: key_id}),
            f"import a key ({key.algorithm} {key.size})",
        )
        native = session.native(kv_key)
        session.remember(kv_key, native)
        return native

    def _prepare(self, ref: str, sig_alg: A.SigningAlgorithm, data: bytes, message_type: A.MessageType
                 ) -> tuple[str, CryptographyClient, NativeKey, SignatureAlgorithm, bytes]:
        name = self._session.name(ref)
        crypto, native = self._session.crypto(name)
        A.check_fits(sig_alg, native.algorithm, native.size)
        alg, value = sign_parameters(sig_alg, native.size, A.prepare_digest(sig_alg, data, message_type))
        from azure.keyvault.keys.crypto import SignatureAlgorithm

        return name, crypto, native, SignatureAlgorithm(alg), value

    def sign(self, ref: str, sig_alg: A.SigningAlgorithm, data: bytes, message_type: A.MessageType) -> bytes:
        name, crypto, native, alg, value = self._prepare(ref, sig_alg, data, message_type)
        try:
            signature = self._session.call(lambda: crypto.sign(alg, value), f"sign with key {name}").signature
        except E.KeyNotFoundInEngine as exc:
            self._session.forget(name)
            raise self._session.missing(name, exc) from None
        if native.algorithm != A.ECDSA:
            return signature
        if len(signature) != 2 * ((native.size + 7) // 8):
            raise E.EngineError(f"Azure Key Vault returned a {len(signature)}-byte {alg} signature for key {name}.")
        return K.ecdsa_raw_to_der(signature)

    def verify(self, ref: str, sig_alg: A.SigningAlgorithm, data: bytes, message_type: A.MessageType,
               signature: bytes) -> bool:
        """Verify with the key as the vault holds it (the SDK checks locally once it has the public key)."""
        name, crypto, native, alg, value = self._prepare(ref, sig_alg, data, message_type)
        if native.algorithm == A.ECDSA:
            try:
                signature = K.ecdsa_der_to_raw(signature, native.size)
            except E.InvalidInput:
                return False
        return bool(self._session.call(lambda: crypto.verify(alg, value, signature), f"verify with key {name}").is_valid)

    def delete(self, ref: str, **options: str) -> str | None:
        """Soft delete: returns "Deleted" while the vault can recover the key, None when it is gone."""
        session = self._session
        name, client = session.name(ref), session.client
        session.forget(name)
        deleted = session.call(lambda: client.begin_delete_key(name).result(), f"delete key {name}")
        return "Deleted" if deleted.recovery_id else None

    def discard(self, ref: str) -> None:
        # A key that was never recorded must not linger in the vault's deleted keys.
        self.delete(ref)
        self.key_action(ref, "purge")

    def key_action(self, ref: str, action: str) -> NativeKey | None:
        if action not in self.KEY_ACTIONS:
            return super().key_action(ref, action)
        session = self._session
        name, client = session.name(ref), session.client
        session.forget(name)
        try:
            if action == "purge":
                session.call(lambda: client.purge_deleted_key(name), f"purge key {name}")
                return None
            poller = session.call(lambda: client.begin_recover_deleted_key(name), f"recover key {name}")
            # Wait until the key answers again (at once here; Azure takes a few seconds).
            session.call(lambda: poller.wait(timeout=float(self.options["read_timeout"])), f"recover key {name}")
            return session.native(poller.result())
        except E.KeyNotFoundInEngine:
            if session.exists(name):
                raise KeyNotDeleted(f"Key {name} is not deleted: {action} applies to a deleted key only.",
                                    hint="Delete it first." if action == "purge" else None) from None
            raise E.KeyNotFoundInEngine(f"Engine {self.engine_id!r} holds no deleted key {name}.") from None

    def close(self) -> None:
        self._session.close()
