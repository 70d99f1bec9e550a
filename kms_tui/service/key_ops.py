"""Key operations: look-up, list, create, import, export, delete, and edits."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterable
from typing import Any

from engines import algorithms as A
from engines import keys as K
from engines.base import NativeKey
from engines.errors import InvalidInput, KeyExists, KmsError, OperationNotSupported
from store import KeyQuery, KeyRecord
from store.errors import Conflict, NotFound
from store.models import BINDINGS_KEY
from store.records import check_metadata

from ..errors import AmbiguousReference, Cancelled, KeyNotFound
from .core import KmsCore

MAX_IMPORT_BYTES = K.MAX_KEY_FILE_BYTES


class KeyOps(KmsCore):
    # --- look-up -------------------------------------------------------------

    def resolve(self, ref: str) -> KeyRecord:
        """A key by key id, alias, name or PKCS#11 URI."""
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidInput("A key reference is needed: a key id, alias, name or pkcs11: URI.")
        if ref.startswith("pkcs11:"):
            record = self.store.key_by_pkcs11_uri(ref)
            if record:
                return record
        if K.is_key_id(ref.lower()):
            found = self.store.keys_by_key_id(ref.lower())
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise AmbiguousReference(
                    f"Key id {ref.lower()[:16]}… is recorded on engines {', '.join(r.engine_id for r in found)}.",
                    hint="Refer to it by name or alias instead.",
                )
        record = self.store.key_by_alias(ref) or self.store.key_by_name(ref)
        if record:
            return record
        shown = ref if len(ref) <= 80 else ref[:77] + "..."
        raise KeyNotFound(f"No key is known as {shown!r}.", hint="Try: kms-tui keys list --filter TEXT")

    def list_keys_by_id(self, key_id: str) -> list[KeyRecord]:
        """Every record of a key id (one per engine that holds it)."""
        return self.store.keys_by_key_id(key_id)

    def list_keys(self, query: KeyQuery | None = None) -> list[KeyRecord]:
        return self.store.list_keys(query or KeyQuery())

    def list_keys_json(self, query: KeyQuery | None = None) -> list[str]:
        """The same keys as ``list_keys``, each as JSON text (for large machine-readable listings)."""
        return self.store.list_keys_json(query or KeyQuery())

    def count_keys(self, query: KeyQuery | None = None) -> int:
        return self.store.count_keys(query or KeyQuery())

    # --- create and import -------------------------------------------------

    def name_problem(self, name: str, aliases: Iterable[str] = ()) -> str | None:
        """Why a new key could not take this name or these aliases, or None when it can."""
        try:
            self._check_names(name, list(aliases))
        except (InvalidInput, Conflict) as exc:
            return exc.message
        return None

    def inspect_key(self, data: bytes, passphrase: str | bytes | None = None) -> K.ParsedKey:
        """Parse key material without storing anything (the import wizard's preview)."""
        return K.parse_key(data, passphrase)

    def _engine_id(self, engine_id: str | None) -> str:
        if engine_id:
            return self.store.get_engine(engine_id).id
        default = self.store.default_engine()
        if default is None:
            raise NotFound("No engine is registered.", hint="Add one with: kms-tui engines add TYPE --id ID")
        return default.id

    def _check_names(self, name: str, aliases: Iterable[str]) -> None:
        """Refuse a taken name or alias before any key material is made."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("A key needs a name.")
        if self.store.key_by_name(name) or self.store.key_by_alias(name):
            raise Conflict(f"The name {name[:80]!r} is already used by another key.")
        for alias in aliases:
            if alias == name:
                raise Conflict(f"Alias {alias[:80]!r} is the key's own name.")
            if self.store.key_by_alias(alias) or self.store.key_by_name(alias):
                raise Conflict(f"Alias {alias[:80]!r} is already used by another key.")

    def create_key(
        self,
        algorithm: str,
        size: int,
        name: str,
        *,
        engine_id: str | None = None,
        aliases: Iterable[str] = (),
        tags: Iterable[str] = (),
        metadata: dict[str, Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> KeyRecord:
        """Generate a key in an engine, self-test it, then record it.

        Generation itself cannot be interrupted (RSA-4096 takes seconds); a
        ``cancel`` set meanwhile discards the new key before it is recorded.
        """
        aliases, tags = list(aliases), list(tags)
        engine_id = self._engine_id(engine_id)
        algorithm = A.normalise_algorithm(algorithm)
        self._check_names(name, aliases)
        check_metadata(metadata)  # refused before any key material is made
        driver = self.driver(engine_id)
        algorithm, size = A.validate_spec(algorithm, size, driver.supported_key_types())
        native = self.on_current_secret(engine_id, lambda d: d.create(algorithm, size))
        driver = self.driver(engine_id)  # reopened if another process had re-keyed the engine
        try:
            if cancel is not None and cancel.is_set():
                raise Cancelled("Key creation was cancelled; the generated key was discarded.")
            K.self_test(lambda alg, data, mt: driver.sign(native.ref, alg, data, mt), native.public_key, algorithm)
            record = self._record(native, engine_id, name, aliases, tags, metadata)
            with self.store.transaction():
                record = self._add_new(record)
                self.store.audit.append(
                    "key.create", engine_id=engine_id, key_id=record.key_id,
                    details={"name": name, "algorithm": algorithm, "size": size},
                )
        except BaseException:
            if not self._recorded(engine_id, native.key_id):  # never discard a key a record points at
                self._discard(driver, native)
            raise
        return record

    def _add_new(self, record: KeyRecord) -> KeyRecord:
        """Record a key just written to its engine (inside the caller's transaction).

        A sync in another process may have listed it between the engine write and
        now, and adopted it under a generated name: that record becomes the one
        asked for (an adoption carries no operator's name, alias, tag or metadata).
        """
        held = [r for r in self.store.keys_by_key_id(record.key_id) if r.engine_id == record.engine_id]
        if not held or not self._just_adopted(held[0]):
            return self.store.add_key(record)
        adopted = held[0]
        self.store.update_key(adopted.engine_id, adopted.key_id, name=record.name, tags=record.tags,
                              metadata=record.metadata)
        for alias in record.aliases:
            self.store.add_alias(adopted.engine_id, adopted.key_id, alias)
        return self.store.get_key(adopted.engine_id, adopted.key_id)

    @staticmethod
    def _just_adopted(record: KeyRecord) -> bool:
        generated = f"{record.engine_id}-{record.key_id[:12]}"
        return (record.name == generated or record.name.startswith(generated + "-")) and not (
            record.aliases or record.tags or record.metadata) and record.status == "ok"

    def _recorded(self, engine_id: str, key_id: str) -> bool:
        try:
            return any(r.engine_id == engine_id for r in self.store.keys_by_key_id(key_id))
        except Exception:  # the store failing too: the key is treated as unrecorded, as before
            return False

    def import_key(
        self,
        data: bytes,
        name: str,
        *,
        engine_id: str | None = None,
        passphrase: str | bytes | None = None,
        aliases: Iterable[str] = (),
        tags: Iterable[str] = (),
        metadata: dict[str, Any] | None = None,
    ) -> KeyRecord:
        """Import a private key into an engine, or record a public key for verification."""
        aliases, tags = list(aliases), list(tags)
        engine_id = self._engine_id(engine_id)
        self._check_names(name, aliases)
        check_metadata(metadata)
        parsed = K.parse_key(data, passphrase)
        if any(r.engine_id == engine_id for r in self.store.keys_by_key_id(parsed.key_id)):
            raise Conflict(f"Key {parsed.key_id[:16]}… is already recorded on engine {engine_id!r}.")
        driver = self.driver(engine_id)
        caps = driver.CAPABILITIES
        native: NativeKey | None = None
        held_before = False  # the engine already held this key: never discarded below
        if parsed.has_private_key:
            if not caps.can_import:
                raise OperationNotSupported(f"Engine {engine_id!r} ({driver.DISPLAY}) cannot import private keys.")
            try:
                native = self.on_current_secret(engine_id, lambda d: d.import_key(parsed))
            except KeyExists as exists:
                native, held_before = self._held_unrecorded(self.driver(engine_id), parsed, exists), True
            driver = self.driver(engine_id)  # reopened if another process had re-keyed the engine
        elif caps.can_import_public:
            native = driver.import_key(parsed)
        stored = native or NativeKey(
            ref=None, key_id=parsed.key_id, public_key=parsed.public_key,
            algorithm=parsed.algorithm, size=parsed.size, has_private_key=False,
        )
        try:
            record = self._record(stored, engine_id, name, aliases, tags, metadata)
            with self.store.transaction():
                record = self._add_new(record)
                self.store.audit.append(
                    "key.import", engine_id=engine_id, key_id=record.key_id,
                    details={"name": name, "algorithm": parsed.algorithm, "size": parsed.size,
                             "format": parsed.source_format, "has_private_key": parsed.has_private_key,
                             **({"already_in_engine": True} if held_before else {})},
                )
        except BaseException:
            if native is not None and not held_before and not self._recorded(engine_id, native.key_id):
                self._discard(driver, native)
            raise
        return record

    @staticmethod
    def _held_unrecorded(driver, parsed: K.ParsedKey, exists: KeyExists) -> NativeKey:
        """The engine already holds this very key but nothing records it (an import cut short
        by a crash, or a key not synced yet): record that one instead of refusing the retry."""
        try:
            native = driver.get(parsed.key_id)
        except KmsError:
            raise exists from None
        if native.key_id != parsed.key_id or not native.has_private_key:
            raise exists
        return native

    @staticmethod
    def _record(native: NativeKey, engine_id, name, aliases, tags, metadata) -> KeyRecord:
        return KeyRecord(
            key_id=native.key_id, engine_id=engine_id, name=name,
            algorithm=native.algorithm, size=native.size,
            strength=A.strength(native.algorithm, native.size),
            has_private_key=native.has_private_key, public_key=K.public_pem(native.public_key),
            native_ref=native.ref, pkcs11_uri=native.pkcs11_uri, tags=list(tags),
            metadata=dict(metadata or {}), aliases=list(aliases), state=native.state,
        )

    @staticmethod
    def _discard(driver, native: NativeKey) -> None:
        """Undo a key the engine made when it could not be recorded."""
        try:
            driver.discard(native.ref)
        except Exception:
            # Left in the engine; a later sync adopts it. Nothing else to do here.
            pass

    # --- export ---------------------------------------------------------------

    def public_key(self, ref: str):
        return K.load_public_pem(self.resolve(ref).public_key)

    def export_public(self, ref: str, fmt: str = "pem") -> bytes:
        return K.export_public(self.public_key(ref), fmt)

    # delete_key, key_actions and run_key_action: see deletion.py (announced, recoverable deletion)

    # --- edits ---------------------------------------------------------------

    def _edit(self, record: KeyRecord, action: str, details: dict[str, Any], **fields) -> KeyRecord:
        with self.store.transaction():
            if fields:
                self.store.update_key(record.engine_id, record.key_id, **fields)
            self.store.audit.append(action, engine_id=record.engine_id, key_id=record.key_id, details=details)
        return self.store.get_key(record.engine_id, record.key_id)

    @contextlib.contextmanager
    def _fresh(self, ref: str):
        """The key re-read under the write lock: an edit computed from it (tags, metadata,
        bindings) cannot overwrite one another process made in the meantime."""
        record = self.resolve(ref)
        with self.store.transaction():
            yield self.store.get_key(record.engine_id, record.key_id)

    def rename_key(self, ref: str, new_name: str) -> KeyRecord:
        record = self.resolve(ref)
        if new_name != record.name:
            self._check_names(new_name, ())
        return self._edit(record, "key.rename", {"from": record.name, "to": new_name}, name=new_name)

    def add_alias(self, ref: str, alias: str) -> KeyRecord:
        record = self.resolve(ref)
        if not isinstance(alias, str) or not alias.strip():
            raise InvalidInput("An alias cannot be empty.")
        if K.is_key_id(alias.lower()):
            raise InvalidInput("An alias cannot look like a key id.")
        if self.store.key_by_name(alias):
            raise Conflict(f"Alias {alias[:80]!r} is the name of a key.")
        with self.store.transaction():
            self.store.add_alias(record.engine_id, record.key_id, alias)
            self.store.audit.append("key.alias.add", engine_id=record.engine_id, key_id=record.key_id, details={"alias": alias})
        return self.store.get_key(record.engine_id, record.key_id)

    def remove_alias(self, ref: str, alias: str) -> KeyRecord:
        record = self.resolve(ref)
        if alias not in record.aliases:
            raise NotFound(f"Key {record.name[:80]!r} has no alias {alias[:80]!r}.")
        with self.store.transaction():
            self.store.remove_alias(alias)
            self.store.audit.append("key.alias.remove", engine_id=record.engine_id, key_id=record.key_id, details={"alias": alias})
        return self.store.get_key(record.engine_id, record.key_id)

    def add_tag(self, ref: str, tag: str) -> KeyRecord:
        if not isinstance(tag, str) or not tag.strip():
            raise InvalidInput("A tag cannot be empty.")
        with self._fresh(ref) as record:
            if tag in record.tags:
                return record
            return self._edit(record, "key.tag.add", {"tag": tag}, tags=[*record.tags, tag])

    def remove_tag(self, ref: str, tag: str) -> KeyRecord:
        with self._fresh(ref) as record:
            if tag not in record.tags:
                raise NotFound(f"Key {record.name[:80]!r} has no tag {tag[:80]!r}.")
            return self._edit(record, "key.tag.remove", {"tag": tag}, tags=[t for t in record.tags if t != tag])

    def set_metadata(self, ref: str, metadata: dict[str, Any]) -> KeyRecord:
        """Replace the free metadata; bindings are kept (edit them with bind/unbind)."""
        if not isinstance(metadata, dict):
            raise InvalidInput("Metadata must be a JSON object.")
        with self._fresh(ref) as record:
            merged = {k: v for k, v in metadata.items() if k != BINDINGS_KEY}
            if record.bindings:
                merged[BINDINGS_KEY] = record.bindings
            digest = hashlib.sha256(repr(sorted(merged)).encode()).hexdigest()[:16]
            return self._edit(record, "key.metadata", {"keys": sorted(merged)[:50], "digest": digest},
                              metadata=merged)

    def bind(self, ref: str, resource_type: str, resource_id: str) -> KeyRecord:
        for value, what in ((resource_type, "resource type"), (resource_id, "resource id")):
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(f"The {what} cannot be empty.")
        binding = {"resource_type": resource_type, "resource_id": resource_id}
        with self._fresh(ref) as record:
            if binding in record.bindings:
                raise Conflict(f"Key {record.name[:80]!r} is already bound to {resource_type}/{resource_id[:80]}.")
            metadata = {**record.metadata, BINDINGS_KEY: [*record.bindings, binding]}
            return self._edit(record, "key.bind", binding, metadata=metadata)

    def unbind(self, ref: str, resource_type: str, resource_id: str) -> KeyRecord:
        binding = {"resource_type": resource_type, "resource_id": resource_id}
        with self._fresh(ref) as record:
            if binding not in record.bindings:
                raise NotFound(f"Key {record.name[:80]!r} is not bound to {resource_type[:80]}/{resource_id[:80]}.")
            metadata = {**record.metadata, BINDINGS_KEY: [b for b in record.bindings if b != binding]}
            return self._edit(record, "key.unbind", binding, metadata=metadata)
