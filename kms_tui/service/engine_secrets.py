"""Engine secrets under custody (``kms.engines.secrets``): where one is, replacing, revealing, re-keying.

A secret that guards material still present (the software engine's at-rest
passphrase while encrypted key files exist) is never deleted or replaced
unchecked (DESIGN §7.1):

- a new secret is proved against the engine first (it decrypts a key file, logs
  in to the token, is accepted by the cloud API) and refused otherwise;
- changing the passphrase itself is a re-key (``rekey.py``): every file is
  re-encrypted, and both passphrases stay in the keyring until the last file is
  done, so an interruption is finished by the next command that opens the engine;
- forgetting an engine whose directory still holds encrypted files keeps its
  passphrase in the keyring, under the directory's name (``custody.py``).
"""

from __future__ import annotations

from typing import Any

import engines
from engines.base import EngineDriver
from engines.errors import InvalidInput, KmsError, OperationNotSupported, WrongPassphrase
from store import EngineRecord
from store.errors import CredentialsUnavailable, StoreError

from . import rekey
from .copies import SHARED_META
from .core import ServiceContext
from .custody import material_home
from .errors import Refused, SecretNeeded, Service

LOCATIONS = {
    "keyring": "kept in the OS keyring",
    "memory": "held in memory for this process only: not stored anywhere",
    "not set": "not set",
    "keyring unavailable": "not known: no keyring is usable (asked for when needed, kept in memory only)",
    "none needed": "none needed",
}


def check_new_secret(engine_type: str, secret: str, material: int | None) -> None:
    """A first secret (nothing guarded yet) must be long enough to guard keys."""
    cls = engines.driver_class(engine_type)
    spec = cls.SECRET
    if not isinstance(secret, str) or not secret:
        raise SecretNeeded("The secret is empty.")
    if spec is not None and not material and len(secret) < spec.min_length:
        raise InvalidInput(f"The {spec.label} must be at least {spec.min_length} characters long.",
                           hint="Choose a longer one (a phrase of several words is easy to type).")


def prove_secret(driver: EngineDriver, engine_id: str, material: int | None, thorough: bool = False) -> str:
    """Have a driver opened with a new secret prove it; what it was checked against, in words."""
    try:
        checked = driver.prove_secret(thorough=thorough)
    except WrongPassphrase:
        raise WrongPassphrase(
            f"The passphrase does not decrypt (all) the key files of engine {engine_id!r}; nothing was changed.",
            hint=f"Give the passphrase they were encrypted with. To change it, run: kms-tui engines rekey {engine_id}",
        ) from None
    return checked if material or checked else "nothing to check it against"


class EngineSecrets(Service):
    """Where each engine's secret is, and every change to one."""

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    # --- where it is -----------------------------------------------------------

    def location(self, engine_id: str) -> str:
        """One of LOCATIONS' keys: where this engine's secret really is now (never prompts)."""
        return self.location_of(self._ctx.store.get_engine(engine_id))

    def location_of(self, record: EngineRecord) -> str:
        """``location`` for a record in hand (a listing: the engine may be gone meanwhile)."""
        if not engines.available(record.type) or not engines.driver_class(record.type).needs_secret(record.config):
            return "none needed"
        credentials = self._ctx.credentials
        if credentials.held_in_memory(record.id):
            return "memory"
        try:
            return "keyring" if credentials.get(record.id) else "not set"
        except CredentialsUnavailable:
            return "keyring unavailable"

    # --- replacing and revealing -------------------------------------------------

    def set(self, engine_id: str, secret: str, *, memory_only: bool = False) -> str:
        """Replace an engine's secret after proving it against the engine; returns where it went.

        The new secret must open what the engine holds (decrypt a key file, log in,
        be accepted by the API): a mismatch is refused and nothing changes. Changing
        the at-rest passphrase of existing key files is ``rekey``.
        """
        ctx, store = self._ctx, self._ctx.store
        record = store.get_engine(engine_id)
        cls = engines.driver_class(record.type)
        if rekey.is_pending(store, record, cls):
            ctx.driver(engine_id)  # an interrupted re-key is finished before anything replaces its passphrase
        material = cls.guarded_material(record.config)
        if material is None and record.has_secret:
            raise Refused(
                f"The key directory of engine {engine_id!r} ({material_home(record.config)}) is not there, so "
                "the stored passphrase may still guard keys in it; nothing was changed.",
                hint="Mount or restore the directory first.")
        check_new_secret(record.type, secret, material)
        ctx.forget_driver(engine_id)
        driver = cls(record.id, record.config, secret)
        try:
            checked = prove_secret(driver, engine_id, material, thorough=True)
            with store.transaction():
                store.audit.append("engine.secret", engine_id=engine_id, details={
                    "stored_in": "memory" if memory_only else "keyring", "checked": checked,
                    "encrypted_files": material})
            try:
                where = ctx.store_secret(engine_id, secret, memory_only=memory_only)
            except CredentialsUnavailable as exc:
                store.audit.append("engine.secret.failed", engine_id=engine_id, details={"why": exc.title})
                raise
        except BaseException:
            driver.close()
            raise
        if where == "keyring":
            store.update_engine(engine_id, has_secret=True)
        ctx.keep_driver(engine_id, driver)
        return where

    def reveal(self, engine_id: str) -> str:
        """The engine's secret, for the operator to back it up; the audit row is written first."""
        record = self._ctx.store.get_engine(engine_id)
        credentials = self._ctx.credentials
        secret = credentials.get(engine_id)
        if not secret:
            raise SecretNeeded(f"No secret of engine {record.id!r} is kept here.",
                               hint=f"Set it with: kms-tui engines secret {record.id} --secret-stdin")
        where = "memory" if credentials.held_in_memory(engine_id) else "keyring"
        self._ctx.store.audit.append("engine.secret.reveal", engine_id=engine_id, details={"from": where})
        return secret

    # --- re-key ---------------------------------------------------------------

    def rekey(self, engine_id: str, new_secret: str,
              progress: rekey.RekeyProgress | None = None) -> dict[str, Any]:
        """Re-encrypt every key file of a software engine under a new passphrase (crash-safe, see rekey.py).

        Returns the figures of the re-key (files re-encrypted, already done, in clear).
        """
        ctx = self._ctx
        record = ctx.store.get_engine(engine_id)
        cls = engines.driver_class(record.type)
        if not hasattr(cls, "rekey") or not cls.needs_secret(record.config):
            raise OperationNotSupported(f"{cls.DISPLAY} engines keep no key encrypted under a passphrase of ours.")
        check_new_secret(record.type, new_secret, 0)
        if ctx.store.meta(SHARED_META + engine_id) is not None:
            raise Refused(
                f"This data directory is a copy, and engine {engine_id!r} uses a key directory outside it "
                f"({material_home(record.config)}) that the original data directory uses too: a re-key here "
                "would leave the original's keys under a passphrase its keyring entries do not hold.",
                hint="Re-key from the original, or remove the engine here and register it again to take the "
                "directory over.")
        driver = ctx.driver(engine_id)  # finishes an earlier, interrupted re-key first
        if ctx.credentials.held_in_memory(engine_id):
            raise OperationNotSupported(
                "A re-key keeps both passphrases in the keyring until it is done, so that an interruption can "
                "be finished; this engine's passphrase is held in memory only.",
                hint="Start a keyring (see kms-tui doctor), set the current passphrase there with "
                f"kms-tui engines secret {engine_id}, then re-key.")
        if ctx.credentials.get(engine_id) == new_secret:
            raise InvalidInput("The new passphrase is the current one; nothing was changed.")
        return rekey.start(ctx, record, driver, new_secret, progress)

    def pending(self) -> list[str]:
        """The engines whose re-key was interrupted (finished when they are next opened)."""
        return rekey.pending_engines(self._ctx.store)

    def finish_pending(self) -> list[tuple[str, dict[str, Any] | str]]:
        """Finish every interrupted re-key: (engine id, the completion's figures, or why it could not)."""
        ctx = self._ctx
        done: list[tuple[str, dict[str, Any] | str]] = []
        for engine_id in self.pending():
            ctx.forget_driver(engine_id)
            try:
                ctx.driver(engine_id)  # opening it finishes the re-key
            except (KmsError, StoreError) as exc:
                done.append((engine_id, exc.message))
                continue
            done.append((engine_id, ctx.resumed_rekeys.pop(engine_id, {"reencrypted": 0, "already": 0})))
        return done
