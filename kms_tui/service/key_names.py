"""How a key is found and named: a reference resolved to its record, a new name or alias checked."""

from __future__ import annotations

from collections.abc import Iterable

from engines.errors import InvalidInput
from store import KeyRecord, Store
from store.errors import Conflict

from .errors import AmbiguousReference, KeyNotFound


def resolve(store: Store, ref: str) -> KeyRecord:
    """A key by key id, alias, name or PKCS#11 URI (any spelling that names a recorded key)."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput("A key reference is needed: a key id, alias, name or pkcs11: URI.")
    if ref[:7].lower() == "pkcs11:":
        return _resolve_uri(store, ref)
    return _resolve_text(store, ref)


def _resolve_uri(store: Store, ref: str) -> KeyRecord:
    """A ``pkcs11:`` reference: the key it names, else a key named or aliased by that very text.

    Errors never quote the reference itself: it may carry a ``pin-value``.
    """
    from . import key_uris
    try:
        record = key_uris.resolve_uri(store, ref)
    except InvalidInput:
        record = store.key_by_alias(ref) or store.key_by_name(ref)
        if record:
            return record
        raise
    record = record or store.key_by_alias(ref) or store.key_by_name(ref)
    if record is None:
        raise key_uris.not_found(ref)
    return record


def _resolve_text(store: Store, ref: str) -> KeyRecord:
    from engines.keys import is_key_id

    if is_key_id(ref.lower()):
        found = store.keys_by_key_id(ref.lower())
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise AmbiguousReference(
                f"Key id {ref.lower()[:16]}… is recorded on engines {', '.join(r.engine_id for r in found)}.",
                hint="Refer to it by name or alias instead.",
            )
    record = store.key_by_alias(ref) or store.key_by_name(ref)
    if record:
        return record
    shown = ref if len(ref) <= 80 else ref[:77] + "..."
    raise KeyNotFound(f"No key is known as {shown!r}.", hint="Try: kms-tui keys list --filter TEXT")


def aliases_detail(aliases: Iterable[str]) -> dict[str, list[str]]:
    """The audit detail keeping a key's aliases, so the log still knows it by them once it is deleted."""
    kept = list(aliases)
    return {"aliases": kept} if kept else {}


def check_names(store: Store, name: str, aliases: Iterable[str]) -> None:
    """Refuse a taken name or alias before any key material is made."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("A key needs a name.")
    if store.key_by_name(name) or store.key_by_alias(name):
        raise Conflict(f"The name {name[:80]!r} is already used by another key.")
    for alias in aliases:
        if alias == name:
            raise Conflict(f"Alias {alias[:80]!r} is the key's own name.")
        if store.key_by_alias(alias) or store.key_by_name(alias):
            raise Conflict(f"Alias {alias[:80]!r} is already used by another key.")


def check_alias(store: Store, alias: str) -> None:
    """Refuse an alias that is empty, looks like a key id, or is a key's name."""
    from engines.keys import is_key_id

    if not isinstance(alias, str) or not alias.strip():
        raise InvalidInput("An alias cannot be empty.")
    if is_key_id(alias.lower()):
        raise InvalidInput("An alias cannot look like a key id.")
    if store.key_by_name(alias):
        raise Conflict(f"Alias {alias[:80]!r} is the name of a key.")
