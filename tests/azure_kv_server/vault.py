"""The key store of the test Key Vault: keys with versions, soft delete, and real crypto.

Semantics follow the Key Vault REST API (api-version 2025-07-01) for the calls kms-tui
makes: create and import add a version (a new key when the name is free), a deleted key
keeps its name until it is purged or recovered (409 Conflict meanwhile), names are
case-insensitive, and sign/verify follow ``signing``. Errors are
``VaultError`` (status, code, message), rendered as ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from . import jwk as J
from . import signing as S
from .errors import VaultError, bad

KEY_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
RSA_SIZES = (2048, 3072, 4096)
RECOVERABLE_DAYS = 90


@dataclass
class KeyVersion:
    version: str
    private_key: Any
    kty: str  # RSA, RSA-HSM, EC, EC-HSM
    key_ops: list[str]
    tags: dict[str, str]
    enabled: bool = True
    created: int = field(default_factory=lambda: int(time.time()))
    updated: int = field(default_factory=lambda: int(time.time()))


@dataclass
class KeyEntry:
    name: str
    versions: list[KeyVersion]  # oldest first
    deleted_date: int | None = None

    @property
    def latest(self) -> KeyVersion:
        return self.versions[-1]


class Vault:
    """Thread-safe state of one vault; ``base_url`` is set by the server once it has a port."""

    def __init__(self, page_size: int = 25):
        self.base_url = "https://127.0.0.1"
        self.page_size = page_size
        self._lock = threading.RLock()
        self._keys: dict[str, KeyEntry] = {}
        self._deleted: dict[str, KeyEntry] = {}

    def reset(self, page_size: int = 25) -> None:
        """No key, live or deleted: a new vault at the same address."""
        with self._lock:
            self.page_size = page_size
            self._keys.clear()
            self._deleted.clear()

    # --- bundles -----------------------------------------------------------

    def _kid(self, entry: KeyEntry, version: KeyVersion | None = None) -> str:
        kid = f"{self.base_url}/keys/{entry.name}"
        return f"{kid}/{version.version}" if version else kid

    @staticmethod
    def _attributes(version: KeyVersion) -> dict[str, Any]:
        return {
            "enabled": version.enabled, "created": version.created, "updated": version.updated,
            "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": RECOVERABLE_DAYS, "exportable": False,
        }

    def _bundle(self, entry: KeyEntry, version: KeyVersion) -> dict[str, Any]:
        key = J.public_jwk(version.private_key, version.kty)
        key.update(kid=self._kid(entry, version), key_ops=list(version.key_ops))
        bundle = {"key": key, "attributes": self._attributes(version)}
        if version.tags:
            bundle["tags"] = dict(version.tags)
        return bundle

    def _deleted_bundle(self, entry: KeyEntry) -> dict[str, Any]:
        bundle = self._bundle(entry, entry.latest)
        bundle.update(
            recoveryId=f"{self.base_url}/deletedkeys/{entry.name}",
            deletedDate=entry.deleted_date,
            scheduledPurgeDate=entry.deleted_date + RECOVERABLE_DAYS * 86400,
        )
        return bundle

    # --- look-up -----------------------------------------------------------

    @staticmethod
    def _check_name(name: str) -> str:
        if not KEY_NAME.match(name):
            raise bad(f"The key name '{name[:130]}' is invalid: use 1-127 letters, digits and dashes.")
        return name.lower()

    def _entry(self, name: str) -> KeyEntry:
        entry = self._keys.get(self._check_name(name))
        if entry is None:
            raise VaultError(404, "KeyNotFound", f"A key with (name/id) {name} was not found in this key vault.")
        return entry

    def _version(self, name: str, version: str) -> tuple[KeyEntry, KeyVersion]:
        entry = self._entry(name)
        if not version:
            return entry, entry.latest
        for candidate in entry.versions:
            if candidate.version == version.lower():
                return entry, candidate
        raise VaultError(404, "KeyNotFound", f"A key with (name/id) {name}/{version} was not found in this key vault.")

    def _deleted_entry(self, name: str) -> KeyEntry:
        entry = self._deleted.get(self._check_name(name))
        if entry is None:
            raise VaultError(404, "KeyNotFound", f"Deleted Key not found: {name}")
        return entry

    # --- writes ------------------------------------------------------------

    def _add_version(self, name: str, private_key, kty: str, body: dict[str, Any], key_ops) -> dict[str, Any]:
        key = self._check_name(name)
        tags = body.get("tags") or {}
        if not isinstance(tags, dict) or len(tags) > 15 or not all(isinstance(v, str) for v in tags.values()):
            raise bad("Tags must be an object of at most 15 string values.")
        attributes = body.get("attributes") or {}
        version = KeyVersion(uuid.uuid4().hex, private_key, kty, list(key_ops or J.default_ops(kty)), dict(tags),
                             enabled=attributes.get("enabled", True) is not False)
        with self._lock:
            if key in self._deleted:
                raise VaultError(
                    409, "Conflict",
                    f"Key {name} is currently in a deleted but recoverable state, and its name cannot be reused; "
                    "in this state, the key can only be recovered or purged.",
                )
            entry = self._keys.setdefault(key, KeyEntry(name, []))
            entry.versions.append(version)
            return self._bundle(entry, version)

    def create(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self._check_name(name)
        kty = body.get("kty")
        if kty in ("RSA", "RSA-HSM"):
            size = body.get("key_size") or 2048
            if size not in RSA_SIZES:
                raise bad(f"RSA key size {size} is not supported: use 2048, 3072 or 4096.")
            private = rsa.generate_private_key(public_exponent=body.get("public_exponent") or 65537, key_size=size)
        elif kty in ("EC", "EC-HSM"):
            crv = body.get("crv") or "P-256"
            if crv not in J.CURVES:
                raise bad(f"The curve {crv!r} is not supported.")
            private = ec.generate_private_key(J.CURVES[crv]())
        elif kty in ("oct", "oct-HSM"):
            raise bad("Symmetric keys are only supported by Managed HSM.")
        else:
            raise bad(f"The key type {kty!r} is invalid.")
        return self._add_version(name, private, kty, body, body.get("key_ops"))

    def import_key(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self._check_name(name)
        jwk = body.get("key")
        if not isinstance(jwk, dict):
            raise bad("The request must contain the key to import.")
        private = J.private_key_from_jwk(jwk)  # raises VaultError for anything unusable
        kty = "RSA" if isinstance(private, rsa.RSAPrivateKey) else "EC"
        if isinstance(private, rsa.RSAPrivateKey) and private.key_size not in RSA_SIZES:
            raise bad(f"RSA key size {private.key_size} is not supported: use 2048, 3072 or 4096.")
        if body.get("Hsm") or str(jwk.get("kty", "")).endswith("-HSM"):
            kty += "-HSM"
        return self._add_version(name, private, kty, body, jwk.get("key_ops"))

    def update(self, name: str, version: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            entry, found = self._version(name, version)
            if "tags" in body:
                tags = body["tags"] or {}
                if not isinstance(tags, dict) or len(tags) > 15:
                    raise bad("Tags must be an object of at most 15 string values.")
                found.tags = dict(tags)
            if isinstance(body.get("attributes"), dict) and "enabled" in body["attributes"]:
                found.enabled = bool(body["attributes"]["enabled"])
            if body.get("key_ops"):
                found.key_ops = list(body["key_ops"])
            found.updated = int(time.time())
            return self._bundle(entry, found)

    def delete(self, name: str) -> dict[str, Any]:
        with self._lock:
            entry = self._entry(name)
            del self._keys[name.lower()]
            entry.deleted_date = int(time.time())
            self._deleted[name.lower()] = entry
            return self._deleted_bundle(entry)

    def purge(self, name: str) -> None:
        with self._lock:
            self._deleted_entry(name)
            del self._deleted[name.lower()]

    def recover(self, name: str) -> dict[str, Any]:
        with self._lock:
            entry = self._deleted_entry(name)
            del self._deleted[name.lower()]
            entry.deleted_date = None
            self._keys[name.lower()] = entry
            return self._bundle(entry, entry.latest)

    # --- reads -------------------------------------------------------------

    def get(self, name: str, version: str = "") -> dict[str, Any]:
        with self._lock:
            return self._bundle(*self._version(name, version))

    def get_deleted(self, name: str) -> dict[str, Any]:
        with self._lock:
            return self._deleted_bundle(self._deleted_entry(name))

    def list(self, maxresults: int | None, offset: int) -> tuple[list[dict[str, Any]], int | None]:
        """One page of KeyItems and the offset of the next page (None on the last one)."""
        if maxresults is not None and not 1 <= maxresults <= 25:
            raise bad("maxresults must be between 1 and 25.")
        size = min(maxresults or self.page_size, self.page_size)
        with self._lock:
            entries = sorted(self._keys.values(), key=lambda e: e.name.lower())
            page = entries[offset: offset + size]
            items = []
            for entry in page:
                item = {"kid": self._kid(entry), "attributes": self._attributes(entry.latest)}
                if entry.latest.tags:
                    item["tags"] = dict(entry.latest.tags)
                items.append(item)
        following = offset + size
        return items, (following if following < len(entries) else None)

    # --- crypto ------------------------------------------------------------

    def _usable(self, name: str, version: str, operation: str) -> tuple[KeyEntry, KeyVersion]:
        with self._lock:
            entry, found = self._version(name, version)
            if not found.enabled:
                raise VaultError(403, "Forbidden", f"Operation {operation} is not allowed on a disabled key.")
            if operation not in found.key_ops:
                raise VaultError(403, "Forbidden", f"Operation {operation} is not permitted on this key.")
            return entry, found

    def sign(self, name: str, version: str, body: dict[str, Any]) -> dict[str, Any]:
        entry, found = self._usable(name, version, "sign")
        digest = J.b64u_decode(body.get("value"), "value")
        signature = S.sign(body.get("alg"), found.private_key, found.kty, digest)
        return {"kid": self._kid(entry, found), "value": J.b64u(signature)}

    def verify(self, name: str, version: str, body: dict[str, Any]) -> dict[str, Any]:
        _, found = self._usable(name, version, "verify")
        digest = J.b64u_decode(body.get("digest"), "digest")
        signature = J.b64u_decode(body.get("value"), "value")
        return {"value": S.verify(body.get("alg"), found.private_key, found.kty, digest, signature)}
