"""A copied data directory gets keyring entries of its own before it can touch the original's.

Keyring entries are named by the database's instance id, and ``cp -a A B``
copies that id: without this, removing an engine or changing a passphrase in B
would delete or replace the very entries A's keys need. The directory's identity
(real path, device, inode) is recorded beside the instance id; when a database
opens somewhere else, it takes a new instance id and copies every entry it
uses into it, checked, before anything else runs. The original's entries are
never touched. When no keyring is usable nothing is copied and the copy keeps
its old id until a later start can copy (without a keyring it cannot change
any entry either).
"""

from __future__ import annotations

import logging
import os
import secrets

from store import CredentialStore, Store
from store.errors import CredentialsUnavailable

log = logging.getLogger("kms_tui.service")

IDENTITY = "data_dir_identity"
# meta rows of engine_secrets; the first two name keyring entries other than an engine's own
REKEY_META = "rekey:"  # + engine id: a re-key under way (its new passphrase is pending_entry)
KEPT_META = "kept_secret:"  # + directory digest: a passphrase kept for a directory with no engine
SHARED_META = "shared_dir:"  # + engine id: in a copy, a key directory the original uses too


def claim(store: Store, credentials: CredentialStore) -> None:
    """Record where this database lives; a copy takes its own keyring namespace (see the module doc)."""
    here = store.directory_identity()
    recorded = store.meta(IDENTITY)
    if recorded == here:
        return
    if recorded is None:
        store.set_meta(IDENTITY, here)
        return
    old = credentials.namespace
    if old != store.instance_id:
        return  # the caller chose the namespace: not ours to move
    new = secrets.token_hex(8)
    target = credentials.sibling(new)
    try:
        copied = [entry for entry in _entries(store) if target.copy_entry(entry, from_namespace=old)]
    except CredentialsUnavailable as exc:
        log.warning("data directory copied or moved; keyring entries not copied yet: %s", exc.title)
        return
    was = recorded.split("|", 1)[0]
    with store.transaction():
        if store.meta(IDENTITY) == here:  # another process opening the copy claimed it first
            credentials.namespace = store.instance_id
            return
        moved, shared = _follow_key_directories(store, was, here.split("|", 1)[0])
        store.set_meta("instance_id", new)
        store.set_meta(IDENTITY, here)
        for engine_id in shared:
            store.set_meta(SHARED_META + engine_id, was)
        store.audit.append("store.copy", details={"was": was[:300], "keyring_entries": len(copied),
                                                  "engines_following": moved, "directories_shared": shared})
    credentials.namespace = new


def _follow_key_directories(store: Store, was: str, now: str) -> tuple[list[str], list[str]]:
    """(engines now using the copy's own key directory, engines sharing one with the original).

    The default engine keeps its keys in ``<data dir>/keys/<id>``, recorded as an
    absolute path: left alone, the copy would sign with, delete and re-key the
    original's files. A key directory outside the data directory (or not copied
    with it) stays shared; the copy refuses to re-key it (engine_secrets).
    """
    moved, shared = [], []
    for engine in store.list_engines():
        directory = engine.config.get("directory")
        if not directory or not os.path.isabs(directory):
            continue
        real = os.path.realpath(directory)
        mirrored = os.path.join(now, os.path.relpath(real, was))
        inside = os.path.commonpath([real, was]) == was
        if inside and (os.path.isdir(mirrored) or not os.path.exists(real)):
            store.update_engine(engine.id, config={**engine.config, "directory": mirrored})
            moved.append(engine.id)
        elif os.path.exists(real) and os.path.exists(was):  # a copy (a move leaves no original behind)
            shared.append(engine.id)
    return moved, shared


def _entries(store: Store) -> list[str]:
    """Every keyring entry this database may use: engines' secrets, kept ones, pending re-keys."""
    entries = [e.id for e in store.list_engines()]
    for key in store.meta_with_prefix(KEPT_META):
        entries.append(kept_entry(key[len(KEPT_META):]))
    for key in store.meta_with_prefix(REKEY_META):
        entries.append(pending_entry(key[len(REKEY_META):]))
    return entries


def kept_entry(directory_hash: str) -> str:
    """The keyring entry (engine-id slot) of a passphrase kept for a key directory with no engine."""
    return f"kept/{directory_hash}"


def pending_entry(engine_id: str) -> str:
    """The keyring entry of the new passphrase while a re-key of ``engine_id`` is under way."""
    return f"{engine_id}/rekey"
