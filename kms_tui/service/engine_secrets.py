"""Engine secrets under custody: where one is, replacing one, revealing one, re-keying, keeping one.

A secret that guards material still present (the software engine's at-rest
passphrase while encrypted key files exist) is never deleted or replaced
unchecked (DESIGN §7.1):

- a new secret is proved against the engine first (it decrypts a key file, logs
  in to the token, is accepted by the cloud API) and refused otherwise;
- changing the passphrase itself is a re-key: every file is re-encrypted, and
  both passphrases stay in the keyring until the last file is done, so an
  interruption is finished by the next command that opens the engine;
- forgetting an engine whose directory still holds encrypted files keeps its
  passphrase in the keyring, under the directory's name, where registering an
  engine on that directory finds it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from typing import Any

import engines
from engines.errors import InvalidInput, KmsError, OperationNotSupported, WrongPassphrase
from store import EngineRecord
from store.errors import CredentialsUnavailable, StoreError

from ..errors import Refused, SecretNeeded
from .copies import KEPT_META, REKEY_META, SHARED_META, kept_entry, pending_entry
from .core import KmsCore

LOCATIONS = {
    "keyring": "kept in the OS keyring",
    "memory": "held in memory for this process only: not stored anywhere",
    "not set": "not set",
    "keyring unavailable": "not known: no keyring is usable (asked for when needed, kept in memory only)",
    "none needed": "none needed",
}


def material_home(config: dict[str, str]) -> str | None:
    """The real path of the directory whose files a secret guards, if the engine has one."""
    directory = config.get("directory")
    return os.path.realpath(os.path.expanduser(directory)) if directory else None


def home_hash(home: str) -> str:
    return hashlib.sha256(home.encode("utf-8", "surrogateescape")).hexdigest()[:24]


class EngineSecretOps(KmsCore):
    _resumed: dict[str, dict]  # figures of re-keys this process finished, for doctor

    def __init__(self, *args, **kwargs):
        self._resumed = {}
        super().__init__(*args, **kwargs)
    # --- where it is -----------------------------------------------------------

    def secret_location(self, engine_id: str) -> str:
        """One of LOCATIONS' keys: where this engine's secret really is now (never prompts)."""
        return self.secret_location_of(self.store.get_engine(engine_id))

    def secret_location_of(self, record: EngineRecord) -> str:
        """``secret_location`` for a record in hand (a listing: the engine may be gone meanwhile)."""
        if not engines.available(record.type) or not engines.driver_class(record.type).needs_secret(record.config):
            return "none needed"
        if self.credentials.held_in_memory(record.id):
            return "memory"
        try:
            return "keyring" if self.credentials.get(record.id) else "not set"
        except CredentialsUnavailable:
            return "keyring unavailable"

    # --- replacing and revealing -------------------------------------------------

    def check_new_secret(self, engine_type: str, secret: str, material: int) -> None:
        """A first secret (nothing guarded yet) must be long enough to guard keys."""
        cls = engines.driver_class(engine_type)
        spec = cls.SECRET
        if not isinstance(secret, str) or not secret:
            raise SecretNeeded("The secret is empty.")
        if spec is not None and not material and len(secret) < spec.min_length:
            raise InvalidInput(f"The {spec.label} must be at least {spec.min_length} characters long.",
                               hint="Choose a longer one (a phrase of several words is easy to type).")

    def set_engine_secret(self, engine_id: str, secret: str, *, memory_only: bool = False) -> str:
        """Replace an engine's secret after proving it against the engine; returns where it went.

        The new secret must open what the engine holds (decrypt a key file, log in,
        be accepted by the API): a mismatch is refused and nothing changes. Changing
        the at-rest passphrase of existing key files is ``rekey_engine``.
        """
        record = self.store.get_engine(engine_id)
        cls = engines.driver_class(record.type)
        if self._rekey_pending(record, cls):
            self.driver(engine_id)  # an interrupted re-key is finished before anything replaces its passphrase
        material = cls.guarded_material(record.config)
        if material is None and record.has_secret:
            raise Refused(
                f"The key directory of engine {engine_id!r} ({material_home(record.config)}) is not there, so "
                "the stored passphrase may still guard keys in it; nothing was changed.",
                hint="Mount or restore the directory first.")
        self.check_new_secret(record.type, secret, material)
        self.forget_driver(engine_id)
        driver = cls(record.id, record.config, secret)
        try:
            checked = self._prove(driver, engine_id, material, thorough=True)
            with self.store.transaction():
                self.store.audit.append("engine.secret", engine_id=engine_id, details={
                    "stored_in": "memory" if memory_only else "keyring", "checked": checked,
                    "encrypted_files": material})
            try:
                where = self.store_secret(engine_id, secret, memory_only=memory_only)
            except CredentialsUnavailable as exc:
                self.store.audit.append("engine.secret.failed", engine_id=engine_id, details={"why": exc.title})
                raise
        except BaseException:
            driver.close()
            raise
        if where == "keyring":
            self.store.update_engine(engine_id, has_secret=True)
        with self._drivers_lock:
            self._drivers[engine_id] = driver
        return where

    def _prove(self, driver, engine_id: str, material: int | None, thorough: bool = False) -> str:
        try:
            checked = driver.prove_secret(thorough=thorough)
        except WrongPassphrase:
            raise WrongPassphrase(
                f"The passphrase does not decrypt (all) the key files of engine {engine_id!r}; nothing was changed.",
                hint=f"Give the passphrase they were encrypted with. To change it, run: kms-tui engines rekey {engine_id}",
            ) from None
        return checked if material or checked else "nothing to check it against"

    def reveal_engine_secret(self, engine_id: str) -> str:
        """The engine's secret, for the operator to back it up; the audit row is written first."""
        record = self.store.get_engine(engine_id)
        secret = self.credentials.get(engine_id)
        if not secret:
            raise SecretNeeded(f"No secret of engine {record.id!r} is kept here.",
                               hint=f"Set it with: kms-tui engines secret {record.id} --secret-stdin")
        where = "memory" if self.credentials.held_in_memory(engine_id) else "keyring"
        self.store.audit.append("engine.secret.reveal", engine_id=engine_id, details={"from": where})
        return secret

    # --- re-key ---------------------------------------------------------------

    def rekey_engine(self, engine_id: str, new_secret: str,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Re-encrypt every key file of a software engine under a new passphrase (crash-safe).

        Both passphrases are in the keyring before the first file is touched and
        the old one is replaced only once the last file is done: a kill at any
        point leaves each file under one of them, and the next command that
        opens the engine (or doctor) finishes the job.
        """
        record = self.store.get_engine(engine_id)
        cls = engines.driver_class(record.type)
        if not hasattr(cls, "rekey") or not cls.needs_secret(record.config):
            raise OperationNotSupported(f"{cls.DISPLAY} engines keep no key encrypted under a passphrase of ours.")
        self.check_new_secret(record.type, new_secret, 0)
        if self.store.meta(SHARED_META + engine_id) is not None:
            raise Refused(
                f"This data directory is a copy, and engine {engine_id!r} uses a key directory outside it "
                f"({material_home(record.config)}) that the original data directory uses too: a re-key here "
                "would leave the original's keys under a passphrase its keyring entries do not hold.",
                hint="Re-key from the original, or remove the engine here and register it again to take the "
                "directory over.")
        driver = self.driver(engine_id)  # finishes an earlier, interrupted re-key first
        if self.credentials.held_in_memory(engine_id):
            raise OperationNotSupported(
                "A re-key keeps both passphrases in the keyring until it is done, so that an interruption can "
                "be finished; this engine's passphrase is held in memory only.",
                hint="Start a keyring (see kms-tui doctor), set the current passphrase there with "
                f"kms-tui engines secret {engine_id}, then re-key.")
        current = self.credentials.get(engine_id)
        if current == new_secret:
            raise InvalidInput("The new passphrase is the current one; nothing was changed.")
        # Every file opens under the current or the new passphrase, or nothing changes.
        material = driver.check_rekey(new_secret)
        self.credentials.set(pending_entry(engine_id), new_secret)
        if self.credentials.get(pending_entry(engine_id)) != new_secret:
            raise CredentialsUnavailable("The keyring did not keep the new passphrase; nothing was changed.")
        with self.store.transaction():
            self.store.set_meta(REKEY_META + engine_id, json.dumps({"started": time.time(), "files": material}))
            self.store.audit.append("engine.rekey.start", engine_id=engine_id, details={"encrypted_files": material})
        return self._complete_rekey(record, driver, new_secret, progress, resumed=False)

    def _complete_rekey(self, record: EngineRecord, driver, new_secret: str, progress, *, resumed: bool) -> dict:
        result = driver.rekey(new_secret, progress)
        self.credentials.set(record.id, new_secret)  # every file now opens under it
        if self.credentials.get(record.id) != new_secret:
            raise CredentialsUnavailable("The keyring did not keep the new passphrase; the re-key stays pending.")
        details = {"reencrypted": result.reencrypted, "already": result.already, "clear_files": result.clear}
        if resumed:
            details["resumed"] = True
        with self.store.transaction():
            self.store.delete_meta(REKEY_META + record.id)
            self.store.audit.append("engine.rekey", engine_id=record.id, details=details)
        try:
            self.credentials.delete(pending_entry(record.id))
        except CredentialsUnavailable:
            pass  # a spare copy of the current passphrase; harmless
        return details

    def _resume_rekey(self, record: EngineRecord, cls):
        """Finish a re-key a kill interrupted; returns the engine's driver, under the new passphrase."""
        new = self.credentials.get(pending_entry(record.id))
        old = self.credentials.get(record.id)
        if not new:
            return self._abandon_rekey(record, cls, old)
        driver = cls(record.id, record.config, old or new)
        try:
            self._resumed[record.id] = self._complete_rekey(record, driver, new, None, resumed=True)
        except BaseException:
            driver.close()
            raise
        return driver

    def _abandon_rekey(self, record: EngineRecord, cls, old: str | None):
        """A re-key marker with no new passphrase kept: none was ever written (it is kept before the
        marker), unless the marker was forged or the keyring lost it. Dropped only once every key file
        opens under the current passphrase."""
        driver = cls(record.id, record.config, old)
        try:
            if not old or driver.check_rekey(old) != 0:
                raise KmsError(
                    f"A passphrase change of engine {record.id!r} was interrupted and its new passphrase is not "
                    "in the keyring any more.",
                    hint="Restore the keyring from its backup, then run any command on the engine again.")
            with self.store.transaction():
                self.store.delete_meta(REKEY_META + record.id)
                self.store.audit.append("engine.rekey.abandoned", engine_id=record.id,
                                        details={"why": "no new passphrase was kept; every file opens under the current one"})
        except BaseException:
            driver.close()
            raise
        return driver

    def _rekey_pending(self, record: EngineRecord, cls) -> bool:
        """A re-key row that applies: the engine re-keys (an edited row on another engine is ignored)."""
        return (hasattr(cls, "rekey") and cls.needs_secret(record.config)
                and self.store.meta(REKEY_META + record.id) is not None)

    def pending_rekeys(self) -> list[str]:
        found = []
        engines_by_id = {e.id: e for e in self.store.list_engines()}
        for key in self.store.meta_with_prefix(REKEY_META):
            record = engines_by_id.get(key[len(REKEY_META):])
            if record is not None and engines.available(record.type) and \
                    self._rekey_pending(record, engines.driver_class(record.type)):
                found.append(record.id)
        return found

    def finish_pending_rekeys(self) -> list[tuple[str, dict | str]]:
        """Finish every interrupted re-key: (engine id, the completion's figures, or why it could not)."""
        done: list[tuple[str, dict | str]] = []
        for engine_id in self.pending_rekeys():
            self.forget_driver(engine_id)
            try:
                self.driver(engine_id)  # opening it finishes the re-key
            except (KmsError, StoreError) as exc:
                done.append((engine_id, exc.message))
                continue
            done.append((engine_id, self._resumed.pop(engine_id, {"reencrypted": 0, "already": 0})))
        return done

    # --- keeping a passphrase when its engine goes ------------------------------------

    def _keep_guarding_secret(self, record: EngineRecord) -> tuple[str | None, bool]:
        """Before an engine is forgotten: keep the passphrase its remaining encrypted files need.

        Returns (what was done, for the operator and the audit row, or None when
        the secret guards nothing; whether the engine's own entry may be deleted).
        """
        if not engines.available(record.type):
            return "its engine type cannot be loaded here, so its secret is kept", False
        cls = engines.driver_class(record.type)
        material = cls.guarded_material(record.config) if cls.SECRET else 0
        home = material_home(record.config)
        if home is None or material == 0 or (material is None and not record.has_secret):
            return None, True
        what = (f"the {material} encrypted key file(s) in {home}" if material is not None
                else f"{home}, which is not there now (an unmounted disk?)")
        digest = home_hash(home)
        try:
            held = self.credentials.get(record.id)
            earlier = self.credentials.get(kept_entry(digest))
            if held and earlier and earlier != held:
                return (f"another passphrase is already kept for {home}: this one stays under the engine's own "
                        "entry"), False
            kept = bool(held) and self.credentials.copy_entry(kept_entry(digest), from_id=record.id)
        except CredentialsUnavailable:
            kept = False
        if not kept:
            return f"no passphrase for {what} is in the keyring: keep the one you typed", False
        self.store.set_meta(KEPT_META + digest, home)
        return (f"its passphrase stays in the keyring for {what}; an engine registered on that directory "
                "finds it again"), True

    def _kept_secret(self, config: dict[str, str]) -> tuple[str | None, str | None]:
        """(passphrase kept for this directory, its digest) or (None, None)."""
        home = material_home(config)
        if home is None:
            return None, None
        digest = home_hash(home)
        if self.store.meta(KEPT_META + digest) is None:
            return None, None
        try:
            return self.credentials.get(kept_entry(digest)), digest
        except CredentialsUnavailable:
            return None, None

    def _adopt_kept_secret(self, record: EngineRecord, cls) -> str | None:
        """The passphrase kept for this engine's directory, if it opens the files; it becomes the engine's."""
        secret, digest = self._kept_secret(record.config)
        if not secret:
            return None
        probe = cls(record.id, record.config, secret)
        try:
            probe.prove_secret()
        except KmsError:
            return None
        finally:
            probe.close()
        self.store.audit.append("engine.secret", engine_id=record.id, details={
            "stored_in": "keyring", "checked": "the passphrase kept for its directory, found again"})
        self.credentials.set(record.id, secret)
        if self.credentials.get(record.id) == secret:
            self.store.update_engine(record.id, has_secret=True)
            self._release_kept(digest)
        return secret

    def _release_kept(self, digest: str) -> None:
        """The kept passphrase now lives under an engine again (stored and read back first)."""
        self.store.delete_meta(KEPT_META + digest)
        try:
            self.credentials.delete(kept_entry(digest))
        except CredentialsUnavailable:
            pass
