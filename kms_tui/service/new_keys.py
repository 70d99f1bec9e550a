"""Recording a key an engine has just made or imported, and undoing it when it cannot be recorded.

Plain functions over the store and a driver, shared by key creation and import
(``key_ops``) and by sync's adoption of unknown keys (``inventory``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from engines import algorithms as A
from engines.base import EngineDriver, NativeKey
from engines.errors import KeyExists, KmsError
from store import KeyRecord, Store

if TYPE_CHECKING:
    from engines import keys as K


def key_record(native: NativeKey, engine_id: str, name: str, aliases: Iterable[str], tags: Iterable[str],
               metadata: dict[str, Any] | None) -> KeyRecord:
    """The record of a key an engine holds, under the name, aliases, tags and metadata given."""
    from engines import keys as K

    return KeyRecord(
        key_id=native.key_id, engine_id=engine_id, name=name,
        algorithm=native.algorithm, size=native.size,
        strength=A.strength(native.algorithm, native.size),
        has_private_key=native.has_private_key, public_key=K.public_pem(native.shown_public_key()),
        native_ref=native.ref, pkcs11_uri=native.pkcs11_uri, tags=list(tags),
        metadata=dict(metadata or {}), aliases=list(aliases), state=native.state,
    )


def public_record(parsed: K.ParsedKey, engine_id: str, name: str, aliases: Iterable[str], tags: Iterable[str],
                  metadata: dict[str, Any] | None) -> KeyRecord:
    """The record of a public key kept for verification only: no engine object holds it."""
    from engines import keys as K

    return KeyRecord(
        key_id=parsed.key_id, engine_id=engine_id, name=name,
        algorithm=parsed.algorithm, size=parsed.size,
        strength=A.strength(parsed.algorithm, parsed.size),
        has_private_key=False, public_key=K.public_pem(parsed.public_key),
        native_ref=None, pkcs11_uri=None, tags=list(tags),
        metadata=dict(metadata or {}), aliases=list(aliases), state=None,
    )


def add_new(store: Store, record: KeyRecord) -> KeyRecord:
    """Record a key just written to its engine (inside the caller's transaction).

    A sync in another process may have listed it between the engine write and
    now, and adopted it under a generated name: that record becomes the one
    asked for (an adoption carries no operator's name, alias, tag or metadata).
    """
    held = [r for r in store.keys_by_key_id(record.key_id) if r.engine_id == record.engine_id]
    if not held or not _just_adopted(held[0]):
        return store.add_key(record)
    adopted = held[0]
    store.update_key(adopted.engine_id, adopted.key_id, name=record.name, tags=record.tags,
                     metadata=record.metadata)
    for alias in record.aliases:
        store.add_alias(adopted.engine_id, adopted.key_id, alias)
    return store.get_key(adopted.engine_id, adopted.key_id)


def _just_adopted(record: KeyRecord) -> bool:
    generated = f"{record.engine_id}-{record.key_id[:12]}"
    return (record.name == generated or record.name.startswith(generated + "-")) and not (
        record.aliases or record.tags or record.metadata) and record.status == "ok"


def recorded(store: Store, engine_id: str, key_id: str) -> bool:
    """Whether a record of this key on this engine exists (a store failing too: treated as not)."""
    try:
        return any(r.engine_id == engine_id for r in store.keys_by_key_id(key_id))
    except Exception:  # the store failing too: the key is treated as unrecorded, as before
        return False


def held_unrecorded(driver: EngineDriver, parsed: K.ParsedKey, exists: KeyExists) -> NativeKey:
    """The engine already holds this very key but nothing records it (an import cut short
    by a crash, or a key not synced yet): record that one instead of refusing the retry."""
    try:
        native = driver.get(parsed.key_id)
    except KmsError:
        raise exists from None
    if native.key_id != parsed.key_id or not native.has_private_key:
        raise exists
    return native


def discard(driver: EngineDriver, native: NativeKey) -> None:
    """Undo a key the engine made when it could not be recorded."""
    try:
        driver.discard(native.ref)
    except Exception:
        # Left in the engine; a later sync adopts it. Nothing else to do here.
        pass
