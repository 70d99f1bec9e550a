"""Key rotation (``kms.rotation``): a successor made like any key, the aliases moved to it, the two linked.

``rotate`` commits ``key.rotate.intent`` first, makes the successor through ``kms.keys.create``,
then in one transaction moves every local alias to it (``store.move_aliases``), links the two
keys and marks the predecessor retired (metadata under ``kms-tui.io/rotation/``; the Lamassu
bindings entry is left as it is). The engine's own aliases (AWS KMS ``alias/NAME``) follow
right after, then ``key.rotate`` names the intent as done. A process killed in between leaves
the intent open: rotating that key (or its successor) again is refused, and ``doctor --repair``
completes the engine's alias moves (``rotation_doctor``) or records the rotation as abandoned
when its local part never committed.

A retired key still verifies; ``retirement.check_not_retired`` is what signing asks before it signs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engines.errors import InvalidInput, KmsError
from store import KeyRecord
from store.errors import StoreError
from store.records import utc_now

from .backup_policy import POLICY_KEY, parse_policy
from .core import ServiceContext
from .errors import Refused, Service, ServiceError
from .key_ops import KeyService
from .retirement import PREDECESSOR, RETIRED_TS, SUCCESSOR, day_of
from .rotation_links import ABANDONED, INTENT, ROTATE, RotationLinks, link_value, links_of, open_rotations

# A certificate binding names a certificate of the key's own public key: it stays with the key.
KEPT_BINDINGS = ("certificate",)
_VERSION = re.compile(r"^(.*)-v(\d{1,6})$")


class RotationIncomplete(ServiceError):
    title = "Rotation not finished"


@dataclass(frozen=True)
class RotationPlan:
    """What ``rotate`` would do, for a confirmation: the successor's spec and what moves to it."""

    predecessor: KeyRecord
    engine_id: str
    algorithm: str
    size: int
    name: str
    aliases: list[str]
    engine_aliases: list[str]  # the key's engine's own aliases: they move only to a successor on that engine
    bindings: list[dict[str, str]]

    @property
    def movable_bindings(self) -> list[dict[str, str]]:
        """The bindings ``--move-bindings`` moves: all but certificates, which certify this very key."""
        return [b for b in self.bindings if b.get("resource_type") not in KEPT_BINDINGS]

    def argv(self, move_bindings: bool = False) -> list[str]:
        """The equivalent ``kms-tui`` command's arguments, after the program name."""
        pred = self.predecessor
        words = ["keys", "rotate", pred.name, "--name", self.name]
        if self.engine_id != pred.engine_id:
            words += ["--engine", self.engine_id]
        if (self.algorithm, self.size) != (pred.algorithm, pred.size):
            words += ["--algorithm", self.algorithm, "--size", str(self.size)]
        if move_bindings:
            words.append("--move-bindings")
        return words


@dataclass
class RotationResult:
    """What a rotation did."""

    predecessor: KeyRecord
    successor: KeyRecord
    aliases: list[str]
    engine_aliases: list[str]
    engine_aliases_left: list[str] = field(default_factory=list)
    bindings_moved: list[dict[str, str]] = field(default_factory=list)
    bindings_left: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "predecessor": {"name": self.predecessor.name, "key_id": self.predecessor.key_id,
                            "engine_id": self.predecessor.engine_id},
            "successor": self.successor.to_json(), "aliases_moved": self.aliases,
            "engine_aliases_moved": self.engine_aliases, "engine_aliases_left": self.engine_aliases_left,
            "bindings_moved": self.bindings_moved, "bindings_left": self.bindings_left,
        }


def next_name(name: str, taken: Any) -> str:
    """``name-v2`` (``name-vN`` becomes ``name-vN+1``), the first such name ``taken(name)`` says is free."""
    found = _VERSION.match(name)
    base, version = (found.group(1), int(found.group(2))) if found else (name, 1)
    for n in range(version + 1, version + 1000):
        candidate = f"{base}-v{n}"
        if not taken(candidate):
            return candidate
    raise InvalidInput(f"No free name {base}-vN was found for the successor of {name[:80]!r}.",
                       hint="Name it with --name.")


class RotationService(Service):
    """Rotation: plan, rotate, and the links a detail view shows."""

    def __init__(self, context: ServiceContext, keys: KeyService) -> None:
        self._ctx = context
        self._keys = keys

    def links(self, ref: str) -> RotationLinks:
        """The key's successor, predecessor and retirement as its metadata records them."""
        return links_of(self._ctx.store, self._keys.resolve(ref))

    def links_of(self, record: KeyRecord) -> RotationLinks:
        return links_of(self._ctx.store, record)

    def links_at(self, engine_id: str, key_id: str) -> RotationLinks:
        """The links of the record of ``key_id`` on ``engine_id`` (a detail view's key)."""
        return links_of(self._ctx.store, self._ctx.store.get_key(engine_id, key_id))

    def _refuse(self, record: KeyRecord) -> None:
        """Refused with the reason: retired, already rotated, half-rotated, or not a key that signs."""
        name = record.name[:80]
        for row in open_rotations(self._ctx.store):
            mine = (row.engine_id, row.key_id) == (record.engine_id, record.key_id)
            if mine or row.details.get("successor_name") == record.name:  # the key, or the successor it was making
                what = f"key {name!r}" if mine else f"key {str(row.details.get('name'))[:80]!r} (to {name!r})"
                raise Refused(f"A rotation of {what} started at {row.ts} (audit row {row.seq}) and did not "
                              "finish: nothing was made.", hint="Run: kms-tui doctor --repair")
        links = links_of(self._ctx.store, record)
        if links.successor is not None and links.successor.missing:
            raise Refused(
                f"Key {name!r} is recorded as rotated to key {links.successor.key_id[:16]}… on engine "
                f"{links.successor.engine_id[:40]!r}, which is not recorded here (the successor was deleted, or the "
                "record edited): nothing was made.",
                hint="A retired key stays retired; make a new key with kms-tui keys create.")
        if links.successor is not None:
            raise Refused(f"Key {name!r} was already rotated to {links.successor.label[:80]!r} on "
                          f"{day_of(links.retired_ts or links.successor.ts)}: nothing was made.",
                          hint=f"Rotate its successor instead: kms-tui keys rotate {links.successor.label[:80]}")
        if links.retired_ts is not None:
            raise Refused(f"Key {name!r} is retired (since {day_of(links.retired_ts)}): nothing was made.")
        if not record.has_private_key or record.native_ref is None:
            raise Refused(f"Key {name!r} is public-key only: there is nothing to rotate.")
        if record.state == "PendingDeletion":
            raise Refused(f"Key {name!r} is pending deletion: it is not rotated.")

    def plan(self, ref: str, *, engine_id: str | None = None, algorithm: str | None = None,
             size: int | None = None, name: str | None = None) -> RotationPlan:
        """What ``rotate`` would do with these options, checked as ``rotate`` checks them (nothing changes)."""
        from engines import algorithms as A

        record = self._keys.resolve(ref)
        self._refuse(record)
        store = self._ctx.store
        engine_id = store.get_engine(engine_id).id if engine_id else record.engine_id
        algorithm = A.normalise_algorithm(algorithm) if algorithm else record.algorithm
        if size is None:
            size = record.size if algorithm == record.algorithm else (256 if algorithm == A.ED25519 else None)
        if size is None:
            raise InvalidInput(f"Say the size of the {algorithm} successor (--size).")
        algorithm, size = A.validate_spec(algorithm, size, self._ctx.driver(engine_id).supported_key_types())
        if name is None:
            name = next_name(record.name, lambda n: self._keys.name_problem(n) is not None)
        else:
            problem = self._keys.name_problem(name)
            if problem:
                raise InvalidInput(problem)
        engine_aliases = self._ctx.driver(record.engine_id).engine_aliases(record.native_ref or "")
        if engine_aliases:
            prove_record(self._ctx, record)  # the aliases listed are this very key's
        return RotationPlan(record, engine_id, algorithm, size, name, list(record.aliases), engine_aliases,
                            list(record.bindings))

    def rotate(self, ref: str, *, engine_id: str | None = None, algorithm: str | None = None,
               size: int | None = None, name: str | None = None, move_bindings: bool = False) -> RotationResult:
        """Make a successor, move every alias to it, link the two and retire the predecessor (module docstring)."""
        plan = self.plan(ref, engine_id=engine_id, algorithm=algorithm, size=size, name=name)
        store, pred = self._ctx.store, plan.predecessor
        with store.transaction():  # checked again under the write lock: two rotations never both start
            pred = store.get_key(pred.engine_id, pred.key_id)
            self._refuse(pred)
            intent = store.audit.append(ROTATE + INTENT, engine_id=pred.engine_id, key_id=pred.key_id, details={
                "name": pred.name, "successor_name": plan.name, "successor_engine": plan.engine_id,
                "algorithm": plan.algorithm, "size": plan.size})
        try:
            # A key kept under a backup policy hands it on: its successor is made wrappable under the same M-of-N.
            policy = parse_policy(pred.metadata[POLICY_KEY]) if isinstance(pred.metadata.get(POLICY_KEY), str) else None
            successor = self._keys.create(plan.algorithm, plan.size, plan.name, engine_id=plan.engine_id, backup=policy)
        except KmsError as exc:
            store.audit.append(ROTATE + ABANDONED, engine_id=pred.engine_id, key_id=pred.key_id,
                               details={"intent": intent.seq, "outcome": f"the successor was not made: {exc.title}"})
            raise
        try:
            moved = self._link_and_move(pred, successor, intent.seq)
        except (KmsError, StoreError) as exc:  # rolled back: every alias is still on the predecessor
            store.audit.append(ROTATE + ABANDONED, engine_id=pred.engine_id, key_id=pred.key_id, details={
                "intent": intent.seq, "outcome": f"no alias moved ({exc.title}); {successor.name[:80]} is an "
                "ordinary key"})
            raise
        result = RotationResult(store.get_key(pred.engine_id, pred.key_id),
                                store.get_key(successor.engine_id, successor.key_id), moved, [])
        if plan.engine_id == pred.engine_id:
            result.engine_aliases = self._move_engine_aliases(pred, successor, intent.seq)
        else:
            result.engine_aliases_left = plan.engine_aliases  # an engine's alias cannot name another engine's key
        store.audit.append(ROTATE, engine_id=pred.engine_id, key_id=pred.key_id, details={
            "intent": intent.seq, "name": pred.name, "successor": successor.name,
            "successor_key_id": successor.key_id, "successor_engine": successor.engine_id,
            "aliases": len(moved), "engine_aliases": len(result.engine_aliases)})
        self._bindings(result, move_bindings)
        return result

    def _link_and_move(self, pred: KeyRecord, successor: KeyRecord, intent: int) -> list[str]:
        """One transaction: the aliases moved, both keys linked, the predecessor retired, each audited."""
        store, ts = self._ctx.store, utc_now()
        with store.transaction():
            pred = store.get_key(pred.engine_id, pred.key_id)
            successor = store.get_key(successor.engine_id, successor.key_id)
            moved = store.move_aliases(
                pred.engine_id, pred.key_id, successor.engine_id, successor.key_id,
                metadata={**pred.metadata, SUCCESSOR: link_value(successor, ts), RETIRED_TS: ts},
                to_metadata={**successor.metadata, PREDECESSOR: link_value(pred, ts)})
            for alias in moved:
                store.audit.append("key.alias.move", engine_id=successor.engine_id, key_id=successor.key_id,
                                   details={"alias": alias, "from": pred.key_id, "from_engine": pred.engine_id,
                                            "intent": intent})
            store.audit.append("key.retire", engine_id=pred.engine_id, key_id=pred.key_id,
                               details={"name": pred.name, "successor": successor.name, "intent": intent})
        return moved

    def _move_engine_aliases(self, pred: KeyRecord, successor: KeyRecord, intent: int) -> list[str]:
        try:
            return move_engine_aliases(self._ctx, pred, successor, intent)
        except KmsError as exc:
            raise RotationIncomplete(
                f"Key {pred.name[:80]!r} was rotated to {successor.name[:80]!r} here, but the engine's own aliases "
                f"did not all move ({exc.title}: {exc.message[:200]}).",
                hint="Fix that, then run kms-tui doctor --repair: it moves the rest.") from exc

    def _bindings(self, result: RotationResult, move: bool) -> None:
        pred, successor = result.predecessor, result.successor
        if not move:
            result.bindings_left = list(pred.bindings)
            return
        result.bindings_left = [b for b in pred.bindings if b.get("resource_type") in KEPT_BINDINGS]
        for binding in [b for b in pred.bindings if b.get("resource_type") not in KEPT_BINDINGS]:
            self._keys.bind(successor.name, binding["resource_type"], binding["resource_id"])
            self._keys.unbind(pred.name, binding["resource_type"], binding["resource_id"])
            result.bindings_moved.append(binding)
        result.predecessor = self._ctx.store.get_key(pred.engine_id, pred.key_id)
        result.successor = self._ctx.store.get_key(successor.engine_id, successor.key_id)


def move_engine_aliases(ctx: ServiceContext, pred: KeyRecord, successor: KeyRecord, intent: int) -> list[str]:
    """The predecessor's own engine aliases pointed at the successor, one audit row each."""
    driver = ctx.driver(pred.engine_id)
    aliases = driver.engine_aliases(pred.native_ref or "")
    for record in (pred, successor) if aliases else ():  # a record pointed at another key never moves its aliases
        prove_record(ctx, record)
    moved = []
    for alias in aliases:
        driver.move_alias(alias, successor.native_ref or "")
        ctx.store.audit.append("key.alias.move", engine_id=successor.engine_id, key_id=successor.key_id,
                               details={"engine_alias": alias, "from": pred.key_id, "intent": intent})
        moved.append(alias)
    return moved


def prove_record(ctx: ServiceContext, record: KeyRecord) -> None:
    """``KeyIntegrityError`` unless the record's key id names its public key and its engine object holds it."""
    from engines import integrity as I
    from engines import keys as K
    from engines.errors import KeyIntegrityError

    from .integrity import engine_ref

    public = K.load_public_pem(record.public_key)
    if not I.key_id_matches(record.key_id, public):
        raise KeyIntegrityError(f"The record of key {record.name[:80]!r} on {record.engine_id!r} does not agree with "
                                "itself: its key id does not name its public key. Nothing was moved.",
                                hint="The database was changed outside kms-tui; kms-tui doctor lists such records.")
    ctx.driver(record.engine_id).prove(engine_ref(record), public)
