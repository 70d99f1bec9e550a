"""The key service (``kms.keys``): look-up, list, create, import, export, edits and deletion.

Deletion (announced, recoverable where the engine keeps deleted keys) is done by
``deletion.KeyDeletion``; this service resolves the reference first.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from engines import algorithms as A
from engines.base import NativeKey
from engines.errors import InvalidInput, KeyExists, OperationNotSupported
from engines.limits import MAX_KEY_FILE_BYTES
from store import KeyQuery, KeyRecord
from store.errors import Conflict, NotFound
from store.models import BINDINGS_KEY
from store.records import check_metadata

from . import key_names
from .core import ServiceContext
from .errors import Cancelled, Service

if TYPE_CHECKING:
    from engines import keys as K
    from engines.keys import PublicKey

    from . import compat
    from .deletion import ExpiredKey, KeyDeletion

# engines.keys (and so cryptography) is imported by the methods that handle key material:
# listing and reading records never load it. Deletion, compatibility and new records are
# imported by the methods that use them: a one-shot sign or list loads none of them.
MAX_IMPORT_BYTES = MAX_KEY_FILE_BYTES


class KeyService(Service):
    """Every operation on keys; engine I/O goes through the context's drivers."""

    def __init__(self, context: ServiceContext, deletion: KeyDeletion | None = None) -> None:
        self._ctx = context
        self._given_deletion = deletion

    @property
    def _deletion(self) -> KeyDeletion:
        if self._given_deletion is None:
            from .deletion import KeyDeletion

            self._given_deletion = KeyDeletion(self._ctx)
        return self._given_deletion

    # --- look-up -------------------------------------------------------------

    def resolve(self, ref: str) -> KeyRecord:
        """A key by key id, alias, name or PKCS#11 URI (any RFC 7512 spelling, or Lamassu's ``token-id`` form)."""
        return key_names.resolve(self._ctx.store, ref)

    def by_name(self, name: str) -> KeyRecord | None:
        """The key with exactly this name, or None (no alias, id or URI is tried)."""
        return self._ctx.store.key_by_name(name)

    def by_key_id(self, key_id: str) -> builtins.list[KeyRecord]:
        """Every record of a key id (one per engine that holds it)."""
        return self._ctx.store.keys_by_key_id(key_id)

    def list(self, query: KeyQuery | None = None) -> builtins.list[KeyRecord]:
        return self._ctx.store.list_keys(query or KeyQuery())

    def list_json(self, query: KeyQuery | None = None) -> builtins.list[str]:
        """The same keys as ``list``, each as JSON text (for large machine-readable listings)."""
        return self._ctx.store.list_keys_json(query or KeyQuery())

    def iter(self, query: KeyQuery | None = None, *, page: int = 500) -> Iterator[KeyRecord]:
        """The same keys as ``list``, read ``page`` at a time: memory stays flat at any count.

        A generator of its own (not the store's), so an error met while reading is a ``KmsError`` too."""
        yield from self._ctx.store.iter_keys_matching(query or KeyQuery(), page)

    def iter_json(self, query: KeyQuery | None = None, *, page: int = 500) -> Iterator[str]:
        """The same texts as ``list_json``, read ``page`` at a time: memory stays flat at any count."""
        yield from self._ctx.store.iter_keys_json(query or KeyQuery(), page)

    def count(self, query: KeyQuery | None = None) -> int:
        return self._ctx.store.count_keys(query or KeyQuery())

    # --- create and import -------------------------------------------------

    def name_problem(self, name: str, aliases: Iterable[str] = ()) -> str | None:
        """Why a new key could not take this name or these aliases, or None when it can."""
        try:
            self._check_names(name, aliases)
        except (InvalidInput, Conflict) as exc:
            return exc.message
        return None

    def compatibility(self, engine_id: str | None, algorithm: str, size: int) -> compat.Compatibility:
        """Which clients of the engine's backend could use a key of this spec (``compat.check``)."""
        from engines import lamassu

        from . import compat

        engine = self._ctx.store.get_engine(self._engine_id(engine_id))
        return compat.check(engine.type, lamassu.shared(engine.config), algorithm, size)

    @staticmethod
    def inspect(data: bytes, passphrase: str | bytes | None = None) -> K.ParsedKey:
        """Parse key material without storing anything (the import wizard's preview)."""
        from engines import keys as K

        return K.parse_key(data, passphrase)

    def _engine_id(self, engine_id: str | None) -> str:
        if engine_id:
            return self._ctx.store.get_engine(engine_id).id
        default = self._ctx.store.default_engine()
        if default is None:
            raise NotFound("No engine is registered.", hint="Add one with: kms-tui engines add TYPE --id ID")
        return default.id

    def _check_names(self, name: str, aliases: Iterable[str]) -> None:
        key_names.check_names(self._ctx.store, name, aliases)

    def create(self, algorithm: str, size: int, name: str, *, engine_id: str | None = None,
               aliases: Iterable[str] = (), tags: Iterable[str] = (), metadata: dict[str, Any] | None = None,
               cancel: threading.Event | None = None, backup: tuple[int, int] | None = None) -> KeyRecord:
        """Generate a key in an engine, self-test it, then record it.

        Generation itself cannot be interrupted (RSA-4096 takes seconds); a
        ``cancel`` set meanwhile discards the new key before it is recorded.
        ``backup=(m, n)``: the key may be backed up under an M-of-N share split
        (``kms.backup``); made wrappable, refused on engines whose material never leaves.
        """
        from engines import keys as K

        ctx, store = self._ctx, self._ctx.store
        aliases, tags = builtins.list(aliases), builtins.list(tags)
        engine_id = self._engine_id(engine_id)
        algorithm = A.normalise_algorithm(algorithm)
        self._check_names(name, aliases)
        check_metadata(metadata)  # refused before any key material is made
        from . import compat, new_keys

        compat.refuse_unusable(self.compatibility(engine_id, algorithm, size), engine_id)
        driver = ctx.driver(engine_id)
        algorithm, size = A.validate_spec(algorithm, size, driver.supported_key_types())
        from . import backup_policy as B

        B.refuse_own_keys(metadata)
        if backup is not None:
            metadata = B.with_policy(metadata, backup, driver)
        native = ctx.on_current_secret(
            engine_id, lambda d: d.create_wrappable(algorithm, size) if backup else d.create(algorithm, size))
        driver = ctx.driver(engine_id)  # reopened if another process had re-keyed the engine
        try:
            if cancel is not None and cancel.is_set():
                raise Cancelled("Key creation was cancelled; the generated key was discarded.")
            K.self_test(lambda alg, data, mt: driver.sign(native.ref, alg, data, mt), native.shown_public_key(), algorithm)
            record = new_keys.key_record(native, engine_id, name, aliases, tags, metadata)
            with store.transaction():
                record = new_keys.add_new(store, record)
                store.audit.append(
                    "key.create", engine_id=engine_id, key_id=record.key_id,
                    details={"name": name, "algorithm": algorithm, "size": size, **key_names.aliases_detail(aliases)},
                )
        except BaseException:
            if not new_keys.recorded(store, engine_id, native.key_id):  # never discard a key a record points at
                new_keys.discard(driver, native)
            raise
        return record

    def import_key(self, data: bytes, name: str, *, engine_id: str | None = None,
                   passphrase: str | bytes | None = None, aliases: Iterable[str] = (), tags: Iterable[str] = (),
                   metadata: dict[str, Any] | None = None,
                   escrow: Callable[[K.ParsedKey, str], dict[str, Any]] | None = None) -> KeyRecord:
        """Import a private key into an engine, or record a public key for verification.

        ``escrow(parsed, engine_id)``: called once every check passed and before the engine sees
        the key (a backup made first); the metadata it returns is recorded with the key.
        """
        from engines import keys as K

        ctx, store = self._ctx, self._ctx.store
        aliases, tags = builtins.list(aliases), builtins.list(tags)
        engine_id = self._engine_id(engine_id)
        self._check_names(name, aliases)
        check_metadata(metadata)
        from . import backup_policy as B

        B.refuse_own_keys(metadata)  # a backup state is kms-tui's record, never an importer's claim
        from . import compat, new_keys

        parsed = K.parse_key(data, passphrase)
        if parsed.has_private_key:
            compat.refuse_unusable(self.compatibility(engine_id, parsed.algorithm, parsed.size), engine_id)
        if any(r.engine_id == engine_id for r in store.keys_by_key_id(parsed.key_id)):
            raise Conflict(f"Key {parsed.key_id[:16]}… is already recorded on engine {engine_id!r}.")
        driver = ctx.driver(engine_id)
        caps = driver.CAPABILITIES
        native: NativeKey | None = None
        held_before = False  # the engine already held this key: never discarded below
        if parsed.has_private_key:
            if not caps.can_import:
                raise OperationNotSupported(f"Engine {engine_id!r} ({driver.DISPLAY}) cannot import private keys.")
            if escrow is not None:
                metadata = {**(metadata or {}), **escrow(parsed, engine_id)}
            try:
                native = ctx.on_current_secret(engine_id, lambda d: d.import_key(parsed))
            except KeyExists as exists:
                native, held_before = new_keys.held_unrecorded(ctx.driver(engine_id), parsed, exists), True
            driver = ctx.driver(engine_id)  # reopened if another process had re-keyed the engine
        elif escrow is not None:
            raise InvalidInput("An escrow backs up a private key; this file holds a public key only.")
        elif caps.can_import_public:
            native = driver.import_key(parsed)
        try:
            if native is None:  # recorded for verification only: no engine object
                record = new_keys.public_record(parsed, engine_id, name, aliases, tags, metadata)
            else:
                record = new_keys.key_record(native, engine_id, name, aliases, tags, metadata)
            with store.transaction():
                record = new_keys.add_new(store, record)
                store.audit.append(
                    "key.import", engine_id=engine_id, key_id=record.key_id,
                    details={"name": name, "algorithm": parsed.algorithm, "size": parsed.size,
                             "format": parsed.source_format, "has_private_key": parsed.has_private_key,
                             **({"already_in_engine": True} if held_before else {}), **key_names.aliases_detail(aliases)},
                )
        except BaseException:
            if native is not None and not held_before and not new_keys.recorded(store, engine_id, native.key_id):
                new_keys.discard(driver, native)
            raise
        return record

    # --- export ---------------------------------------------------------------

    def public_key(self, ref: str) -> PublicKey:
        from engines import keys as K

        public_key: PublicKey = K.load_public_pem(self.resolve(ref).public_key)
        return public_key

    def export_public(self, ref: str, fmt: str = "pem") -> bytes:
        from engines import keys as K

        exported: bytes = K.export_public(self.public_key(ref), fmt)
        return exported

    # --- edits ---------------------------------------------------------------

    def _edit(self, record: KeyRecord, action: str, details: dict[str, Any], **fields: Any) -> KeyRecord:
        store = self._ctx.store
        with store.transaction():
            if fields:
                store.update_key(record.engine_id, record.key_id, **fields)
            store.audit.append(action, engine_id=record.engine_id, key_id=record.key_id, details=details)
        return store.get_key(record.engine_id, record.key_id)

    @contextlib.contextmanager
    def _fresh(self, ref: str) -> Iterator[KeyRecord]:
        """The key re-read under the write lock: an edit computed from it (tags, metadata,
        bindings) cannot overwrite one another process made in the meantime."""
        record = self.resolve(ref)
        with self._ctx.store.transaction():
            yield self._ctx.store.get_key(record.engine_id, record.key_id)

    def rename(self, ref: str, new_name: str) -> KeyRecord:
        record = self.resolve(ref)
        if new_name != record.name:
            self._check_names(new_name, ())
        return self._edit(record, "key.rename", {"from": record.name, "to": new_name}, name=new_name)

    def add_alias(self, ref: str, alias: str) -> KeyRecord:
        record = self.resolve(ref)
        store = self._ctx.store
        key_names.check_alias(store, alias)
        with store.transaction():
            store.add_alias(record.engine_id, record.key_id, alias)
            store.audit.append("key.alias.add", engine_id=record.engine_id, key_id=record.key_id, details={"alias": alias})
        return store.get_key(record.engine_id, record.key_id)

    def remove_alias(self, ref: str, alias: str) -> KeyRecord:
        record = self.resolve(ref)
        if alias not in record.aliases:
            raise NotFound(f"Key {record.name[:80]!r} has no alias {alias[:80]!r}.")
        store = self._ctx.store
        with store.transaction():
            store.remove_alias(alias)
            store.audit.append("key.alias.remove", engine_id=record.engine_id, key_id=record.key_id,
                               details={"alias": alias})
        return store.get_key(record.engine_id, record.key_id)

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
        """Replace the free metadata; bindings, rotation links and backup records are kept (edit them with
        bind/unbind, rotate, backup)."""
        if not isinstance(metadata, dict):
            raise InvalidInput("Metadata must be a JSON object.")
        kept = ("kms-tui.io/rotation/", "kms-tui.io/backup/")  # rotation's and backup's NAMESPACE
        with self._fresh(ref) as record:
            merged = {k: v for k, v in metadata.items() if k != BINDINGS_KEY and not k.startswith(kept)}
            merged.update({k: v for k, v in record.metadata.items() if k.startswith(kept)})
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

    # --- deletion (deletion.py) -------------------------------------------------

    def deletion_notice(self, record: KeyRecord) -> str:
        """What deleting this key does to its material, in a sentence for the typed confirmation."""
        return self._deletion.notice(record)

    def delete(self, ref: str, *, force: bool = False, options: dict[str, str] | None = None) -> KeyRecord:
        """Delete a key, announced and recorded; refused while bound unless forced (``KeyDeletion.delete``)."""
        return self._deletion.delete(self.resolve(ref), force=force, options=options)

    def actions(self, ref: str) -> dict[str, str]:
        """Engine-specific actions for a key (e.g. restore, cancel-deletion, purge): name -> description."""
        return self._deletion.actions(self.resolve(ref))

    def run_action(self, ref: str, action: str) -> KeyRecord | None:
        """Run an engine-specific action; the key as it is now, or None when it is gone."""
        return self._deletion.run_action(self.resolve(ref), action)

    def purge_expired(self, engine_id: str | None = None, *, dry_run: bool = False) -> builtins.list[ExpiredKey]:
        """Destroy the keys whose pending window has ended (``KeyDeletion.purge_expired``)."""
        return self._deletion.purge_expired(engine_id, dry_run=dry_run)
