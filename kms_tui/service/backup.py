"""Backup and restore under M-of-N custody (``kms.backup``).

A key made with a backup policy (``kms.keys.create(..., backup=(m, n))``) may leave its engine,
wrapped only: ``create`` makes a fresh AES-256 key-encryption key (KEK), has each key's engine
wrap the key under it (RFC 5649), splits the KEK into N SLIP-39 shares of which any M rebuild
it, writes the wrapped keys to a new authenticated file (``backup_file``) and hands the shares
to the front end, which shows each custodian theirs once. ``restore`` rebuilds the KEK from M
shares, checks the file's MAC before anything of the file is used, then per key unwraps it into
the target engine and proves it is the recorded key (key id, a signature verified with the
recorded public key), and records every key in one transaction: when any key fails, every key
this restore unwrapped is discarded and none is recorded.

The KEK and the shares live in this process only, as long as the wrap, the split and the
hand-out take; they never reach the store, the log, the audit or an error's text.
"""

from __future__ import annotations

import builtins
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from engines.errors import InvalidInput, KeyExists, KmsError
from store import KeyRecord
from store.models import BINDINGS_KEY

from . import backup_file as F
from . import backup_policy as P
from . import key_names, new_keys
from .core import SecretRequest, ServiceContext
from .errors import Conflict, Refused, SecretNeeded, Service

if TYPE_CHECKING:
    from engines import keys as K
    from engines.base import EngineDriver, NativeKey
    from engines.keys import PublicKey

    from .key_ops import KeyService


def _new_kek() -> bytes:
    return secrets.token_bytes(32)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _share_problem(error: Exception) -> str:
    """SLIP-39's own sentence about a share, with any words it quotes left out."""
    text = str(error)
    text = re.sub(r'"[^"]*"', "(words not shown)", text)
    return re.sub(r"'[^']*'", "(not shown)", text)[:200]


@dataclass(frozen=True)
class ShareSet:
    """The shares to hand out: ``shares[k - 1]`` is custodian k's."""

    identifier: int
    threshold: int
    shares: tuple[str, ...]


HandOut = Callable[[ShareSet], None]


@dataclass(frozen=True)
class BackupResult:
    keys: builtins.list[KeyRecord]
    sha256: str
    threshold: int
    custodians: int
    identifier: int


@dataclass(frozen=True)
class RestoredKey:
    record: KeyRecord
    aliases_left: builtins.list[str]  # taken here: not carried over


@dataclass(frozen=True)
class RestoreResult:
    keys: builtins.list[RestoredKey]
    sha256: str


class BackupService(Service):
    """Backups of keys made with a backup policy, and their restore into any wrapping engine."""

    def __init__(self, context: ServiceContext, keys: KeyService) -> None:
        self._ctx = context
        self._keys = keys

    # --- policy and state ------------------------------------------------------------

    def parse_policy(self, text: str) -> tuple[int, int]:
        """``"3-of-5"`` → (3, 5); a clear error for anything else or out of SLIP-39's bounds."""
        return P.parse_policy(text)

    def state(self, record: KeyRecord) -> str:
        """The key's backup state in one line."""
        return P.state(record)

    # --- backup ----------------------------------------------------------------------

    def create(self, refs: Iterable[str], *, custodians: int, threshold: int, out: IO[bytes],
               hand_out: HandOut, officer_pin: str | None = None) -> BackupResult:
        """Back up keys to ``out`` (a new file the caller opened) and hand the shares out.

        Every key must have been made with this very M-of-N policy. ``officer_pin``: the
        security officer's PIN for engines whose wrap needs it (asked through the context's
        prompt when None). Nothing is recorded unless the hand-out finishes.
        """
        threshold, custodians = P.check_policy(threshold, custodians)
        records = self._backup_keys(refs, threshold, custodians)
        pins: dict[str, str] = {}  # engine id -> the officer PIN typed for it, for this backup only
        kek = _new_kek()
        try:
            entries = [self._wrapped(record, kek, pins, officer_pin) for record in records]
            shares, identifier = _split(kek, threshold, custodians)
            draft = F.BackupFile(_now(), identifier, threshold, custodians, tuple(entries), b"", "")
            backup, data = F.sealed(draft, kek)
        finally:
            del kek, pins
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
        hand_out(ShareSet(identifier, threshold, shares))
        del shares
        self._record_backup(records, backup)
        return BackupResult([self._ctx.store.get_key(r.engine_id, r.key_id) for r in records], backup.sha256,
                            threshold, custodians, identifier)

    def _backup_keys(self, refs: Iterable[str], threshold: int, custodians: int) -> builtins.list[KeyRecord]:
        records: dict[tuple[str, str], KeyRecord] = {}
        for ref in refs:
            record = self._keys.resolve(ref)
            records.setdefault((record.engine_id, record.key_id), record)
        if not records:
            raise InvalidInput("Name at least one key to back up.")
        for record in records.values():
            policy = P.policy_of(record)
            if policy != (threshold, custodians):
                raise Refused(
                    f"Key {record.name[:80]!r} was made to be backed up {P.policy_text(*policy)}, not "
                    f"{P.policy_text(threshold, custodians)}.",
                    hint=f"Use --threshold {policy[0]} --custodians {policy[1]}.")
            if not record.has_private_key or not record.native_ref:
                raise Refused(f"Key {record.name[:80]!r} has no private key in an engine to back up.")
        return builtins.list(records.values())

    def _wrapped(self, record: KeyRecord, kek: bytes, pins: dict[str, str], officer_pin: str | None) -> F.BackupKey:
        from engines import keys as K

        driver = self._ctx.driver(record.engine_id)
        public = K.load_public_pem(record.public_key)
        ref = record.native_ref or ""
        driver.prove(ref, public)  # the material wrapped is the recorded key
        pin = None
        if driver.BACKUP_NEEDS_OFFICER:
            pin = pins[record.engine_id] = pins.get(record.engine_id) or self._officer_pin(driver, officer_pin)
        wrapped = driver.wrap_key(ref, kek, officer_pin=pin)
        engine = self._ctx.store.get_engine(record.engine_id)
        return F.BackupKey(
            key_id=record.key_id, name=record.name, algorithm=record.algorithm, size=record.size,
            aliases=tuple(record.aliases), tags=tuple(record.tags),
            bindings=tuple({"resource_type": str(b.get("resource_type")), "resource_id": str(b.get("resource_id"))}
                           for b in record.bindings),
            public_key=record.public_key, engine_id=engine.id, engine_type=engine.type,
            security_level=engine.security_level, wrapped=wrapped,
        )

    def _officer_pin(self, driver: EngineDriver, given: str | None) -> str:
        if given:
            return given
        prompt = self._ctx.prompt
        asked = prompt(SecretRequest(driver.engine_id, "security officer PIN", False,
                                     f"Wrapping a key of engine {driver.engine_id!r} needs its security officer.")
                       ) if prompt is not None else None
        if not asked:
            raise SecretNeeded(f"Backing up a key of engine {driver.engine_id!r} needs its security officer's PIN.",
                               hint="Type it when asked, or give it with --so-pin-stdin.")
        return asked

    def _record_backup(self, records: Sequence[KeyRecord], backup: F.BackupFile) -> None:
        store = self._ctx.store
        last = {"date": backup.created, "custodians": backup.custodians, "threshold": backup.threshold,
                "file_sha256": backup.sha256, "share_set": backup.identifier}
        with store.transaction():
            store.audit.append("key.backup", engine_id=records[0].engine_id, key_id=records[0].key_id, details={
                "key_ids": [r.key_id for r in records], "count": len(records), "file_sha256": backup.sha256,
                "custodians": backup.custodians, "threshold": backup.threshold, "share_set": backup.identifier,
            })
            for record in records:
                fresh = store.get_key(record.engine_id, record.key_id)
                store.update_key(record.engine_id, record.key_id, metadata={**fresh.metadata, P.LAST_KEY: last})

    # --- escrow at import (bring your own key) ---------------------------------------

    def escrow_import(self, data: bytes, name: str, *, engine_id: str | None = None,
                      passphrase: str | bytes | None = None, aliases: Iterable[str] = (), tags: Iterable[str] = (),
                      metadata: dict[str, Any] | None = None, custodians: int, threshold: int, out: IO[bytes],
                      hand_out: HandOut) -> KeyRecord:
        """Import a private key into an engine that never gives it back (AWS KMS), escrowed first.

        The key is parsed and checked; then backed up under M-of-N to ``out`` (a new file the
        caller opened), every custodian handed their share and the escrow audited; only then is
        it imported and recorded (``key.import`` after ``key.escrow``). An escrow that fails
        stops before the engine sees the key; an import that fails after it leaves the escrow
        file complete, restorable with ``restore``.
        """
        from . import backup_escrow as X

        P.check_policy(threshold, custodians)
        request = X.EscrowRequest(threshold, custodians, out, hand_out)
        aliases, tags = builtins.list(aliases), builtins.list(tags)

        def escrow(parsed: K.ParsedKey, target: str) -> dict[str, Any]:
            return X.escrow(self._ctx, target, parsed, name, aliases, tags, request).metadata()

        return self._keys.import_key(data, name, engine_id=engine_id, passphrase=passphrase, aliases=aliases,
                                     tags=tags, metadata=metadata, escrow=escrow)

    # --- restore ---------------------------------------------------------------------

    def read(self, data: bytes) -> F.BackupFile:
        """A backup file's bytes, read and checked for shape (its MAC needs the shares)."""
        return F.parse(data)

    def check_share(self, backup: F.BackupFile, mnemonic: str, taken: Sequence[str] = ()) -> int:
        """Custodian number of one share of this backup; a clear error for a mistyped or foreign one."""
        from shamir_mnemonic import MnemonicError, Share
        from shamir_mnemonic.wordlist import WORD_INDEX_MAP

        words = (mnemonic or "").split()
        if not words:
            raise InvalidInput("The share is empty.")
        unknown = [n for n, word in enumerate(words, 1) if word.lower() not in WORD_INDEX_MAP]
        if unknown:
            raise InvalidInput(f"Word {unknown[0]} of the share is not a SLIP-39 word (words not shown).")
        try:
            share = Share.from_mnemonic(" ".join(words))
        except MnemonicError as exc:
            raise InvalidInput(f"The share is wrong: {_share_problem(exc)}",
                               hint="A word is mistyped; check each against the written share.") from None
        if share.identifier != backup.identifier:
            raise InvalidInput("This share belongs to another backup (its share set differs from the file's).")
        if (share.member_threshold, share.group_count) != (backup.threshold, 1):
            raise InvalidInput("This share was made for another threshold than the backup file's.")
        for other in taken:
            if Share.from_mnemonic(other).index == share.index:
                raise InvalidInput(f"Custodian {share.index + 1}'s share was already given.")
        return int(share.index) + 1

    def restore(self, backup: F.BackupFile, shares: Sequence[str], engine_id: str, *,
                name: str | Mapping[str, str] | None = None, confirm_lower_level: bool = False) -> RestoreResult:
        """Rebuild the KEK from ``shares``, check the file, then unwrap, prove and record each key.

        ``name``: the restored key's name (a one-key backup), or original name → new name.
        """
        kek = self._kek(backup, shares)
        made: builtins.list[NativeKey] = []  # every object this restore made: all recorded, or all discarded
        try:
            try:
                backup.check_mac(kek)  # before anything of the file is used
                plan = self._restore_plan(backup, engine_id, _new_names(backup, name), confirm_lower_level)
                driver = self._ctx.driver(engine_id)
                for key, new_name, _ in plan:
                    made.append(self._unwrap_one(driver, key, engine_id, new_name, kek))
            finally:
                del kek
            restored = self._record_restored(backup, plan, made, engine_id)
        except BaseException:
            for native in made:
                if not new_keys.recorded(self._ctx.store, engine_id, native.key_id):
                    new_keys.discard(driver, native)  # only the objects this restore just made
            raise
        return RestoreResult(restored, backup.sha256)

    def lower_levels(self, backup: F.BackupFile, engine_id: str) -> builtins.list[str]:
        """One sentence per key the restore would keep at a lower security level than its source's."""
        level = self._ctx.store.get_engine(engine_id).security_level
        return [f"Key {k.name[:80]!r} comes from security level {k.security_level} ({k.engine_type} engine "
                f"{k.engine_id[:40]!r}); engine {engine_id!r} is level {level}."
                for k in backup.keys if k.security_level > level]

    def _restore_plan(self, backup: F.BackupFile, engine_id: str, new_names: Mapping[str, str],
                      confirm_lower_level: bool) -> builtins.list[tuple[F.BackupKey, str, builtins.list[str]]]:
        store = self._ctx.store
        engine_id = store.get_engine(engine_id).id
        lower = self.lower_levels(backup, engine_id)
        if lower and not confirm_lower_level:
            raise Refused(" ".join(lower[:3]) + " Restoring lowers the protection of the key material.",
                          hint="Confirm it (--confirm-lower-level), or restore into an engine of the source's level.")
        if not self._ctx.driver(engine_id).BACKUP_WRAP:
            raise Refused(f"Engine {engine_id!r} cannot take in wrapped key material.",
                          hint="Restore into a software, PKCS#11, Vault KV or Secrets Manager engine.")
        plan, names = [], set()
        for key in backup.keys:
            if any(r.engine_id == engine_id for r in store.keys_by_key_id(key.key_id)):
                raise Conflict(f"Key {key.key_id[:16]}… ({key.name[:80]!r}) is already in engine {engine_id!r}; "
                               "nothing was restored.")
            new_name = new_names.get(key.name, key.name)
            if store.key_by_name(new_name) or store.key_by_alias(new_name) or new_name in names:
                shown = "NEW" if len(backup.keys) == 1 else f"{key.name[:80]}=NEW"
                raise Conflict(f"The name {new_name[:80]!r} is still recorded here.",
                               hint=f"Give the restored key another name with --name {shown}.")
            names.add(new_name)
            aliases = [a for a in key.aliases if a != new_name and not store.key_by_alias(a)
                       and not store.key_by_name(a) and a not in names]
            names.update(aliases)
            key_names.check_names(store, new_name, aliases)
            plan.append((key, new_name, aliases))
        return plan

    def _kek(self, backup: F.BackupFile, shares: Sequence[str]) -> bytes:
        from shamir_mnemonic import MnemonicError, combine_mnemonics

        taken: builtins.list[str] = []
        for share in shares:
            self.check_share(backup, share, taken)
            taken.append(" ".join(share.split()).lower())
        if len(taken) < backup.threshold:
            raise InvalidInput(f"{len(taken)} share(s) given; this backup needs {backup.threshold} of its "
                               f"{backup.custodians} custodians' shares.")
        try:
            kek: bytes = combine_mnemonics(taken)
            return kek
        except MnemonicError as exc:
            raise InvalidInput(f"The shares do not rebuild the backup's key: {_share_problem(exc)}") from None
        finally:
            del taken

    def _unwrap_one(self, driver: EngineDriver, key: F.BackupKey, engine_id: str, name: str,
                    kek: bytes) -> NativeKey:
        """The key unwrapped into the engine and proven the recorded key (not recorded yet)."""
        from engines import keys as K

        public = K.load_public_pem(key.public_key)
        if K.key_id_of(public) != key.key_id:
            raise F.BackupFileError(f"The backup's key {key.name[:80]!r} has a public key of another key id.")
        try:
            native = driver.unwrap_key(key.wrapped, kek, public, label=name)
        except KeyExists:
            raise Conflict(
                f"Engine {engine_id!r} already holds key {key.key_id[:16]}… ({key.name[:80]!r}) though nothing here "
                "records it (a restore cut short, or a key not synced yet); nothing was restored.",
                hint=f"Record it with: kms-tui sync {engine_id}") from None
        try:
            self._prove_restored(driver, native.ref, native.key_id, key, public)
        except BaseException:
            if not new_keys.recorded(self._ctx.store, engine_id, native.key_id):
                new_keys.discard(driver, native)
            raise
        return native

    def _record_restored(self, backup: F.BackupFile, plan: Sequence[tuple[F.BackupKey, str, builtins.list[str]]],
                         made: Sequence[NativeKey], engine_id: str) -> builtins.list[RestoredKey]:
        """Every restored key recorded and audited in one transaction: all of them, or none."""
        store = self._ctx.store
        restored = []
        with store.transaction():
            for (key, name, aliases), native in zip(plan, made, strict=True):
                restored.append(self._record_one(backup, key, native, engine_id, name, aliases))
        return restored

    def _record_one(self, backup: F.BackupFile, key: F.BackupKey, native: NativeKey, engine_id: str, name: str,
                    aliases: builtins.list[str]) -> RestoredKey:
        store = self._ctx.store
        metadata: dict[str, Any] = {
            P.RESTORED_KEY: {"file_sha256": backup.sha256, "date": _now(), "source_engine_id": key.engine_id}}
        if key.bindings:
            metadata[BINDINGS_KEY] = [dict(b) for b in key.bindings]
        left = sorted(set(key.aliases) - set(aliases))
        record = new_keys.add_new(store, new_keys.key_record(native, engine_id, name, aliases, key.tags, metadata))
        store.audit.append("key.restore", engine_id=engine_id, key_id=record.key_id, details={
            "name": name, "file_sha256": backup.sha256, "source_engine_id": key.engine_id,
            "source_security_level": key.security_level, "custodians": backup.custodians,
            "threshold": backup.threshold, "share_set": backup.identifier,
            **key_names.aliases_detail(aliases), **({"aliases_left": left} if left else {}),
        })
        return RestoredKey(record, left)

    def _prove_restored(self, driver: EngineDriver, ref: str, key_id: str, key: F.BackupKey,
                        public: PublicKey) -> None:
        from engines import keys as K
        from engines.errors import KeyIntegrityError

        if key_id != key.key_id:
            raise KeyIntegrityError(f"The restored key {key.name[:80]!r} is not the key the backup records.")
        driver.prove(ref, public)
        try:
            K.self_test(lambda alg, data, mt: driver.sign(ref, alg, data, mt), public, key.algorithm)
        except KmsError as exc:
            raise KeyIntegrityError(f"The restored key {key.name[:80]!r} failed its signature check: "
                                    f"{exc.message}") from None


def _new_names(backup: F.BackupFile, name: str | Mapping[str, str] | None) -> dict[str, str]:
    """Original name → restored name, checked against the keys the backup holds."""
    if name is None:
        return {}
    if isinstance(name, str):
        if len(backup.keys) != 1:
            raise InvalidInput(f"The backup holds {len(backup.keys)} keys; name each as ORIGINAL=NEW.")
        return {backup.keys[0].name: name}
    unknown = sorted(set(name) - {k.name for k in backup.keys})
    if unknown:
        raise InvalidInput(f"The backup holds no key named {unknown[0][:80]!r}.",
                           hint="Its keys: " + ", ".join(k.name[:40] for k in backup.keys[:10]) + ".")
    return dict(name)


def _split(kek: bytes, threshold: int, custodians: int) -> tuple[tuple[str, ...], int]:
    from shamir_mnemonic import Share, generate_mnemonics

    group = generate_mnemonics(1, [(threshold, custodians)], kek)[0]
    return tuple(group), Share.from_mnemonic(group[0]).identifier
