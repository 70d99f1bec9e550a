"""HashiCorp Vault KV v2 engine (Lamassu ``HASHICORP_VAULT_KV_V2``): private keys as KV v2 secrets.

Layout, as Lamassu's Vault engine writes it: secret ``<mount>/data/<prefix><key_id>`` whose
data is ``{"key": base64(PEM PKCS#8)}`` (clear PKCS#8, base64 of the whole PEM text). Lamassu
uses no prefix; the ``prefix`` option (e.g. ``kms/``) keeps this tool's keys apart when a
mount is shared. A key's native reference is its name under the prefix (the key id for keys
written here or by Lamassu). Keys are generated and used here: a sign fetches the private key,
signs with ``cryptography`` and drops it; nothing is cached. Create, import, signing and the
integrity proof are ``StoredKeyEngine``'s (engines.stored); this module names, reads, writes,
lists and deletes the secrets.

Decisions:
- Create and import never overwrite: they write with check-and-set 0.
- Inventory lists ``<mount>/metadata/<prefix>`` once and reads every entry. Folders are not
  followed (Lamassu keeps keys at the top of its mount), and entries whose latest version is
  deleted are left out; secrets that are not keys are skipped with a logged warning. Reads
  that Vault refuses are errors, so a sync never takes every key for gone.
- Delete is Vault's soft delete of the latest version (returns ``"SoftDeleted"``); a
  soft-deleted key is reported as missing by ``get`` and ``inventory`` until the ``undelete``
  action restores it. ``destroy`` removes every version and the metadata for good.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Collection, Iterator
from typing import Any

from .. import errors as E
from .. import keys as K
from ..base import NativeKey, SecretSpec
from ..stored import StoredKeyEngine
from . import options as settings
from .client import VaultSession
from .errors import VaultSecretNotAKey, deleted_note

log = logging.getLogger("engines.vault")

SOFT_DELETED = "SoftDeleted"


class VaultKvEngine(StoredKeyEngine):
    TYPE = "HASHICORP_VAULT_KV_V2"
    DISPLAY = "HashiCorp Vault KV v2"
    PROVIDER = "HashiCorp Vault"
    SECURITY_LEVEL = 0  # the default; the security_level option records 1 for an HSM-backed Vault
    OPTIONS = settings.OPTIONS
    SECRET = SecretSpec("Vault token or AppRole secret id", required=False)
    HOLDER = "A Vault KV v2 engine"
    KEY_ACTIONS = {
        "undelete": "restore the soft-deleted latest version of the key's secret",
        "destroy": "destroy every version and the metadata of the key's secret (cannot be undone)",
    }

    def __init__(self, engine_id: str, options: dict[str, str], secret: str | None):
        super().__init__(engine_id, options, secret)
        if self.needs_secret(self.options) and not secret:
            what = "token" if self.options["auth"] == "token" else "AppRole secret id"
            raise E.EngineConfigError(f"Engine {engine_id!r} needs its Vault {what}.")
        self.mount = self.options["mount"]
        self.prefix = self.options.get("prefix", "")
        self._session = VaultSession(engine_id, self.options, secret if self.needs_secret(self.options) else None)

    def __repr__(self) -> str:
        return f"VaultKvEngine({self.engine_id!r}, {self.options['address']!r}, mount={self.mount!r})"

    # --- configuration ---------------------------------------------------

    @classmethod
    def validate_options(cls, options: dict[str, str]) -> dict[str, str]:
        return settings.check(super().validate_options(settings.normalise(options)))

    @classmethod
    def needs_secret(cls, options: dict[str, str]) -> bool:
        return settings.needs_secret(options)

    # --- paths -----------------------------------------------------------

    def _path(self, ref: object) -> str:
        """The secret's path inside the mount; a reference that is not one plain name is never a path."""
        if not isinstance(ref, str) or not settings.NAME.fullmatch(ref):
            raise self._not_found(ref)
        return self.prefix + ref

    def _shown(self, path: str, kind: str = "data") -> str:
        return f"{self.mount}/{kind}/{path}"

    # --- reading ---------------------------------------------------------

    def _read(self, ref: str) -> dict[str, Any]:
        """The latest version's data; a deleted or destroyed latest version counts as missing."""
        path = self._path(ref)
        answer = self._session.call(
            lambda c: c.secrets.kv.v2.read_secret_version(path, mount_point=self.mount, raise_on_deleted_version=True),
            "read", self._shown(path), missing=lambda exc: self._not_found(ref, deleted_note(exc)),
        )
        data = (answer.get("data") or {}).get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise self._not_found(ref)
        return data

    def _private(self, ref: str, data: dict[str, Any]) -> K.PrivateKey:
        """The private key object in a secret's data, parsed as Lamassu reads it."""
        where = f"Vault secret {self._shown(self.prefix + ref)}"
        value = data.get("key")
        if not isinstance(value, str):
            raise VaultSecretNotAKey(f"{where} has no 'key' field holding a base64 PEM private key.")
        try:
            pem = base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            raise VaultSecretNotAKey(f"{where}: its 'key' field is not base64.") from None
        try:
            parsed = K.parse_key(pem)
        except E.WrongPassphrase:
            raise VaultSecretNotAKey(f"{where} holds an encrypted key; Lamassu's layout is clear PKCS#8.") from None
        except E.KmsError:
            raise VaultSecretNotAKey(f"{where}: its 'key' field is not a readable PEM private key.") from None
        if parsed.private_key is None:
            raise VaultSecretNotAKey(f"{where} holds a public key only.")
        return parsed.private_key

    def _read_private(self, ref: str, *, signing: bool = False) -> K.PrivateKey:
        # Nothing is cached: the private key exists only for the operation (or batch) that read it.
        return self._private(ref, self._read(ref))

    def _native(self, ref: str, private: K.PrivateKey) -> NativeKey:
        native = super()._native(ref, private)
        native.extra = {"label": ref, "path": self._shown(self.prefix + ref)}
        return native

    def _names(self) -> list[str]:
        folder, _, leaf = self.prefix.rpartition("/")
        folder = f"{folder}/" if folder else ""
        answer = self._session.call(
            lambda c: c.secrets.kv.v2.list_secrets(folder, mount_point=self.mount),
            "list keys under", self._shown(folder, "metadata"), missing=lambda exc: None,
        )
        data = answer.get("data") if isinstance(answer, dict) else None
        entries = data.get("keys") if isinstance(data, dict) else None
        names = []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, str) or not entry.startswith(leaf):
                continue  # outside the prefix: another application's secret
            name = entry[len(leaf):]
            if name.endswith("/"):
                log.info("Engine %s does not follow folder %s.", self.engine_id, self._shown(folder + entry, "metadata"))
            elif not settings.NAME.fullmatch(name):
                log.warning("Engine %s skipped Vault entry %r: its name cannot be a key reference.",
                            self.engine_id, (folder + entry)[:100])
            else:
                names.append(name)
        return sorted(names)

    def inventory(self, known: Collection[str] = (), full: bool = False) -> Iterator[NativeKey]:
        """One LIST, then one read per key, ``known`` or not: a LIST names soft-deleted keys too."""
        for name in self._names():
            try:
                yield self.get(name)
            except E.KeyNotFoundInEngine:
                continue  # soft-deleted, destroyed, or removed while we were listing
            except (VaultSecretNotAKey, E.UnsupportedKeyType) as exc:
                log.warning("Engine %s skipped Vault secret %s: %s", self.engine_id, self._shown(self.prefix + name),
                            exc.title)

    # --- writing ---------------------------------------------------------

    def _write_private(self, key_id: str, private: K.PrivateKey) -> str:
        path, shown = self.prefix + key_id, self._shown(self.prefix + key_id)
        value = base64.b64encode(K.private_pkcs8_pem(private)).decode("ascii")

        def put(cas: int) -> None:
            self._session.call(
                lambda c: c.secrets.kv.v2.create_or_update_secret(path, {"key": value}, cas=cas, mount_point=self.mount),
                "write", shown,
                conflict=lambda: E.KeyExists(f"Key {key_id} already exists in engine {self.engine_id!r} ({shown})."),
            )

        try:
            put(0)  # check-and-set 0: only when nothing is there
        except E.KeyExists:
            version, info = self._latest(key_id)
            if not (info.get("deletion_time") or info.get("destroyed")):
                raise
            # Same key id, same key pair: writing it over its own deleted version revives it.
            put(version)
        return key_id

    # --- delete and actions ------------------------------------------------

    def _latest(self, ref: str) -> tuple[int, dict[str, Any]]:
        """(current version number, its metadata) of the key's secret."""
        path = self._path(ref)
        answer = self._session.call(
            lambda c: c.secrets.kv.v2.read_secret_metadata(path, mount_point=self.mount),
            "read the metadata of", self._shown(path, "metadata"), missing=lambda exc: self._not_found(ref),
        )
        meta = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(meta, dict) or not meta.get("current_version"):
            raise self._not_found(ref)
        version = int(meta["current_version"])
        return version, (meta.get("versions") or {}).get(str(version)) or {}

    def delete(self, ref: str, **options: str) -> str:
        _, info = self._latest(ref)
        if info.get("destroyed") or info.get("deletion_time"):
            raise self._not_found(ref, " (its latest version is already deleted)")
        path = self._path(ref)
        self._session.call(
            lambda c: c.secrets.kv.v2.delete_latest_version_of_secret(path, mount_point=self.mount),
            "delete", self._shown(path), missing=lambda exc: self._not_found(ref),
        )
        return SOFT_DELETED

    def discard(self, ref: str) -> None:
        # A key that was never recorded must not linger as a recoverable soft-deleted secret.
        self.key_action(ref, "destroy")

    def key_action(self, ref: str, action: str) -> NativeKey | None:
        path = self._path(ref)
        if action == "destroy":
            self._latest(ref)  # a missing key is reported as such, not destroyed silently
            self._session.call(
                lambda c: c.secrets.kv.v2.delete_metadata_and_all_versions(path, mount_point=self.mount),
                "destroy", self._shown(path, "metadata"), missing=lambda exc: self._not_found(ref),
            )
            return None
        if action == "undelete":
            version, info = self._latest(ref)
            if info.get("destroyed"):
                raise E.EngineError(
                    f"The latest version of {self._shown(path)} was destroyed; it cannot be restored.",
                    title="Key cannot be restored",
                )
            if info.get("deletion_time"):
                self._session.call(
                    lambda c: c.secrets.kv.v2.undelete_secret_versions(path, [version], mount_point=self.mount),
                    "undelete", self._shown(path), missing=lambda exc: self._not_found(ref),
                )
            return self.get(ref)
        return super().key_action(ref, action)

    # --- engine ------------------------------------------------------------

    def check(self) -> None:
        """Log in, check the mount is KV v2, and that the key folder may be listed."""
        self._names()

    def close(self) -> None:
        self._session.close()
