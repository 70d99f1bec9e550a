"""One engine's connection to Azure Key Vault: credential, clients, key reads, error boundary.

``VaultSession.call`` is the driver's only way into the SDK: every exception leaves it
as a typed ``KmsError``. The session keeps one ``KeyClient`` and, per key name, a
``CryptographyClient`` built from the key version whose public key it read, so signing
needs one request and always uses the key it described.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol, TypeVar

from .. import errors as E
from .. import keys as K
from ..base import NativeKey
from .errors import Where, translate
from .support import (
    LAMASSU_TAG,
    client_options,
    enum_text,
    is_lamassu_name,
    make_credential,
    public_key_from_jwk,
)

if TYPE_CHECKING:
    from azure.keyvault.keys import KeyClient, KeyProperties, KeyVaultKey
    from azure.keyvault.keys.crypto import CryptographyClient

    from .support import Credential

log = logging.getLogger("engines.azure")
T = TypeVar("T")


class _Closable(Protocol):
    """A client or credential of the SDK: each holds connections until closed."""

    def close(self) -> None: ...


_NAME_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")
_CACHE_SIZE = 32  # CryptographyClients kept, each with its own connection pool


class VaultSession:
    def __init__(self, engine_id: str, options: dict[str, str], secret: str | None):
        self.engine_id = engine_id
        self.options = options
        self.vault_url = options["vault_url"]
        self._secret = secret
        self.where = Where(engine_id, self.vault_url,
                           options.get("authority_host", "https://login.microsoftonline.com"),
                           options.get("client_id"), options.get("tenant_id"), options["read_timeout"])
        self._lock = threading.Lock()
        self._connection: tuple[Credential, KeyClient] | None = None  # made on first use
        self._crypto: OrderedDict[str, tuple[CryptographyClient, NativeKey]] = OrderedDict()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.engine_id!r} {self.vault_url}>"

    def call(self, fn: Callable[[], T], doing: str) -> T:
        """Run an SDK call; ``doing`` completes "could not ..." in the error message."""
        try:
            return fn()
        except E.KmsError:
            raise
        except Exception as exc:
            log.debug("Azure Key Vault call failed while trying to %s", doing, exc_info=True)
            raise translate(exc, self.where, doing) from None

    @property
    def client(self) -> KeyClient:
        """The KeyClient, built (with its credential) on first use."""
        return self._connected()[1]

    def _connected(self) -> tuple[Credential, KeyClient]:
        """The credential and the KeyClient signing in with it, built on first use."""
        with self._lock:
            if self._connection is None:
                def build() -> tuple[Credential, KeyClient]:
                    from azure.keyvault.keys import KeyClient

                    credential = make_credential(self.options, self._secret)
                    return credential, KeyClient(self.vault_url, credential, **client_options(self.options))

                self._connection = self.call(build, "set up its client")
            return self._connection

    def name(self, ref: object) -> str:
        """Only a valid Key Vault key name ever reaches a URL."""
        if isinstance(ref, str) and 0 < len(ref) <= 127 and set(ref) <= _NAME_CHARS:
            return ref
        shown = repr(ref[:60] if isinstance(ref, str) else ref)
        raise E.KeyNotFoundInEngine(f"Engine {self.engine_id!r} holds no key {shown}: not a Key Vault key name.")

    def missing(self, name: str, exc: E.KeyNotFoundInEngine) -> E.KeyNotFoundInEngine:
        """Say whether a key that is not there is soft-deleted (and so recoverable)."""
        try:
            deleted = self.client.get_deleted_key(name)
        except Exception:  # the plain not-found is the answer then
            return exc
        until = deleted.scheduled_purge_date.date().isoformat() if deleted.scheduled_purge_date else "its purge date"
        return E.KeyNotFoundInEngine(
            f"Key {name} of engine {self.engine_id!r} is deleted; it can be recovered until {until}.",
            hint="Recover it with: kms-tui keys action REF recover",
        )

    def fetch(self, name: str) -> KeyVaultKey:
        """The KeyVaultKey (latest version); a deleted key's not-found says so."""
        client = self.client
        try:
            return self.call(lambda: client.get_key(name), f"read key {name}")
        except E.KeyNotFoundInEngine as exc:
            raise self.missing(name, exc) from None

    def native(self, kv_key: KeyVaultKey) -> NativeKey:
        public = public_key_from_jwk(kv_key.key)
        algorithm, size = K.describe(public)
        key_id = K.key_id_of(public)
        props = kv_key.properties
        tag = (props.tags or {}).get(LAMASSU_TAG)
        if tag and tag != key_id:
            log.warning("Key %s in %s is tagged %s=%s but holds key %s.", props.name, self.vault_url, LAMASSU_TAG,
                        tag[:80], key_id)
        return NativeKey(
            ref=props.name, key_id=key_id, public_key=public, algorithm=algorithm, size=size,
            state=None if props.enabled is not False else "Disabled",
            extra={"label": None if is_lamassu_name(props.name) else props.name, "kid": kv_key.id,
                   "version": props.version, "kty": enum_text(kv_key.key_type), "tagged": tag == key_id},
        )

    # --- CryptographyClients per key -----------------------------------------

    def remember(self, kv_key: KeyVaultKey, native: NativeKey) -> tuple[CryptographyClient, NativeKey]:
        """Keep a CryptographyClient for the key version whose public key ``native`` describes."""
        from azure.keyvault.keys.crypto import CryptographyClient

        credential = self._connected()[0]
        entry = (CryptographyClient(kv_key, credential, **client_options(self.options)), native)
        evicted: list[tuple[CryptographyClient, NativeKey]] = []
        with self._lock:
            if native.ref in self._crypto:
                evicted.append(self._crypto.pop(native.ref))
            self._crypto[native.ref] = entry
            while len(self._crypto) > _CACHE_SIZE:
                evicted.append(self._crypto.popitem(last=False)[1])
        for crypto, _ in evicted:
            crypto.close()
        return entry

    def forget(self, name: str) -> None:
        with self._lock:
            old = self._crypto.pop(name, None)
        if old is not None:
            old[0].close()

    def crypto(self, name: str) -> tuple[CryptographyClient, NativeKey]:
        """(CryptographyClient, NativeKey) of a key, reading the key on first use."""
        with self._lock:
            hit = self._crypto.get(name)
            if hit is not None:
                self._crypto.move_to_end(name)
                return hit
        kv_key = self.fetch(name)
        return self.remember(kv_key, self.native(kv_key))

    def properties(self) -> Iterator[KeyProperties]:
        """KeyProperties of every key, page after page (``nextLink``), errors translated."""
        client = self.client
        pages = self.call(lambda: iter(client.list_properties_of_keys()), "list its keys")
        while (props := self.call(lambda: next(pages, None), "list its keys")) is not None:
            yield props

    def exists(self, name: str) -> bool:
        try:
            self.call(lambda: self.client.get_key(name), f"read key {name}")
        except E.KeyNotFoundInEngine:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            crypto, self._crypto = list(self._crypto.values()), OrderedDict()
            connection, self._connection = self._connection, None
        things: list[_Closable] = [c for c, _ in crypto]
        if connection is not None:
            credential, client = connection
            things += [client, credential]
        for thing in things:
            try:
                thing.close()
            except Exception:  # closing must not mask the caller's outcome
                log.debug("closing an Azure client failed", exc_info=True)
