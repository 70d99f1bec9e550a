"""Re-keying a software engine: every key file re-encrypted under a new passphrase, crash-safe.

Both passphrases are in the keyring before the first file is touched (the new one
under ``pending_entry``) and a ``rekey:<engine id>`` meta row marks the re-key as
under way; the old passphrase is replaced only once the last file is done. A kill
at any point leaves each file under one of them, and the next command that opens
the engine (``ServiceContext.driver``) or doctor finishes the job (``resume``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import engines
from engines.base import EngineDriver
from engines.errors import KmsError
from store import EngineRecord, Store
from store.errors import CredentialsUnavailable

from .copies import REKEY_META, pending_entry

if TYPE_CHECKING:
    from .core import ServiceContext

RekeyProgress = Callable[[int, int], None]


def is_pending(store: Store, record: EngineRecord, cls: type[EngineDriver]) -> bool:
    """A re-key row that applies: the engine re-keys (an edited row on another engine is ignored)."""
    return (hasattr(cls, "rekey") and cls.needs_secret(record.config)
            and store.meta(REKEY_META + record.id) is not None)


def pending_engines(store: Store) -> list[str]:
    """The engines whose re-key was interrupted."""
    found = []
    engines_by_id = {e.id: e for e in store.list_engines()}
    for key in store.meta_with_prefix(REKEY_META):
        record = engines_by_id.get(key[len(REKEY_META):])
        if record is not None and engines.available(record.type) and \
                is_pending(store, record, engines.driver_class(record.type)):
            found.append(record.id)
    return found


def start(ctx: ServiceContext, record: EngineRecord, driver: Any, new_secret: str,
          progress: RekeyProgress | None) -> dict[str, Any]:
    """Keep the new passphrase beside the current one, mark the re-key, then re-encrypt every file."""
    # Every file opens under the current or the new passphrase, or nothing changes.
    material = driver.check_rekey(new_secret)
    ctx.credentials.set(pending_entry(record.id), new_secret)
    if ctx.credentials.get(pending_entry(record.id)) != new_secret:
        raise CredentialsUnavailable("The keyring did not keep the new passphrase; nothing was changed.")
    with ctx.store.transaction():
        ctx.store.set_meta(REKEY_META + record.id, json.dumps({"started": time.time(), "files": material}))
        ctx.store.audit.append("engine.rekey.start", engine_id=record.id, details={"encrypted_files": material})
    return complete(ctx, record, driver, new_secret, progress, resumed=False)


def complete(ctx: ServiceContext, record: EngineRecord, driver: Any, new_secret: str,
             progress: RekeyProgress | None, *, resumed: bool) -> dict[str, Any]:
    """Re-encrypt what is left, then make the new passphrase the engine's; the re-key's figures."""
    result = driver.rekey(new_secret, progress)
    ctx.credentials.set(record.id, new_secret)  # every file now opens under it
    if ctx.credentials.get(record.id) != new_secret:
        raise CredentialsUnavailable("The keyring did not keep the new passphrase; the re-key stays pending.")
    details: dict[str, Any] = {"reencrypted": result.reencrypted, "already": result.already,
                               "clear_files": result.clear}
    if resumed:
        details["resumed"] = True
    with ctx.store.transaction():
        ctx.store.delete_meta(REKEY_META + record.id)
        ctx.store.audit.append("engine.rekey", engine_id=record.id, details=details)
    try:
        ctx.credentials.delete(pending_entry(record.id))
    except CredentialsUnavailable:
        pass  # a spare copy of the current passphrase; harmless
    return details


def resume(ctx: ServiceContext, record: EngineRecord, cls: type[EngineDriver]) -> EngineDriver:
    """Finish a re-key a kill interrupted; returns the engine's driver, under the new passphrase."""
    new = ctx.credentials.get(pending_entry(record.id))
    old = ctx.credentials.get(record.id)
    if not new:
        return _abandon(ctx, record, cls, old)
    driver = cls(record.id, record.config, old or new)
    try:
        ctx.resumed_rekeys[record.id] = complete(ctx, record, driver, new, None, resumed=True)
    except BaseException:
        driver.close()
        raise
    return driver


def _abandon(ctx: ServiceContext, record: EngineRecord, cls: type[EngineDriver], old: str | None) -> EngineDriver:
    """A re-key marker with no new passphrase kept: none was ever written (it is kept before the
    marker), unless the marker was forged or the keyring lost it. Dropped only once every key file
    opens under the current passphrase."""
    driver = cls(record.id, record.config, old)
    rekeyable: Any = driver  # an engine that re-keys (``is_pending`` checked it)
    try:
        if not old or rekeyable.check_rekey(old) != 0:
            raise KmsError(
                f"A passphrase change of engine {record.id!r} was interrupted and its new passphrase is not "
                "in the keyring any more.",
                hint="Restore the keyring from its backup, then run any command on the engine again.")
        with ctx.store.transaction():
            ctx.store.delete_meta(REKEY_META + record.id)
            ctx.store.audit.append("engine.rekey.abandoned", engine_id=record.id,
                                   details={"why": "no new passphrase was kept; every file opens under the current one"})
    except BaseException:
        driver.close()
        raise
    return driver
