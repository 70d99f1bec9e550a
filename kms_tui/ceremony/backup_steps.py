"""Ceremony steps ``backup-key`` and ``restore-key``: keys under M-of-N custody, handed out and brought back.

``backup-key`` backs up keys the script generated with a backup policy (``kms.backup.create``) into a
new file of the output directory and hands each custodian their SLIP-39 share through the front end's
``Custody``: on the controlling terminal, one custodian at a time, the screen cleared between them;
each custodian then acknowledges receipt with their initials. ``restore-key`` asks the custodians it
names for their shares (typed, not echoed), restores the file's key into the step's engine
(``kms.backup.restore``) and proves the copy: the same key id, and a fresh challenge signed by the
restored key verifies with the original key's public key.

The transcript names, for every share handed out or brought back, its custodian and its fingerprint:
the first 8 hex digits of the SHA-256 of the share's words, in lower case, one space apart
(``share_fingerprint``). No share and no key-encryption key ever reaches the transcript, an output
file, the log or the audit.

Before anything is generated, ``preflight`` checks that every key to back up can be wrapped where it
will be made (the engine wraps at all; the token wraps its algorithm — SoftHSM2 cannot wrap Ed25519)
and that the security officer's PIN a token's wrap needs is at hand and logs in, and that every restore
target can take the key in, at the source's security level or above unless the step says why
(``allow_lower_level``); any problem refuses the whole ceremony.

A rehearsal hands nothing to anyone: ``RehearsalCustody`` keeps the scratch backup's shares in this
process, never shows them, and feeds them to the rehearsal's own restore steps; the transcript marks
each share so. The Ceremony screen sets no custody, so a script with these steps is refused there
with the command that runs it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from typing import Protocol

from ..service import algorithms as A
from ..service import backup_policy
from ..service import types as K
from ..service.core import SecretRequest
from ..service.errors import KmsError
from .errors import CeremonyRefused
from .script import EngineSpec, Script, Step, Witness

ACTIONS = ("backup-key", "restore-key")
FINGERPRINT_RULE = "first 8 hex digits of SHA-256 of the share's words, lower case, one space apart"
OFFICER_PIN = "security officer PIN"
REHEARSED = "kept in memory by the rehearsal, never shown"
SHOWN = "shown on the controlling terminal"
TYPED = "typed on the controlling terminal, not shown"


def share_fingerprint(mnemonic: str) -> str:
    """What the transcript records of a share: ``FINGERPRINT_RULE``, never a word of it."""
    return hashlib.sha256(normalised(mnemonic).encode()).hexdigest()[:8]


def normalised(mnemonic: str) -> str:
    return " ".join(mnemonic.split()).lower()


def uses_custody(script: Script) -> bool:
    return any(step.action in ACTIONS for step in script.steps)


class Custody(Protocol):
    """How shares reach their custodians and come back: the front end's terminal, or a rehearsal."""

    how_out: str
    how_in: str

    def hand_out(self, file: str, person: Witness, number: int, count: int, share: str,
                 acknowledge: Callable[[str], bool]) -> None:
        """Show ``person`` their share (custodian ``number`` of ``count``) once and have them acknowledge
        receipt: ``acknowledge(initials)`` records it, False when the initials are not theirs."""

    def take(self, file: str, person: Witness, number: int, check: Callable[[str], str | None]) -> str:
        """The share ``person`` brings; ``check(share)`` is None when it is right, else why not."""


class RehearsalCustody:
    """A rehearsal's custodians: the shares stay in this process, unseen, and come back to its restores."""

    how_out = REHEARSED
    how_in = REHEARSED

    def __init__(self) -> None:
        self._shares: dict[tuple[str, str], str] = {}

    def hand_out(self, file: str, person: Witness, number: int, count: int, share: str,
                 acknowledge: Callable[[str], bool]) -> None:
        self._shares[(file, person.name)] = share

    def take(self, file: str, person: Witness, number: int, check: Callable[[str], str | None]) -> str:
        share = self._shares.get((file, person.name), "")
        problem = check(share)
        if problem is not None:
            raise CeremonyRefused(f"The rehearsal's share of {person.name[:80]!r} is refused: {problem}")
        return share


# --- the plan -------------------------------------------------------------------------------


def describe(step: Step) -> str:
    p = step.params
    if step.action == "backup-key":
        return (f"Back up {', '.join(repr(k) for k in p['keys'])} wrapped under a fresh key-encryption key to "
                f"{p['output']}; split that key {p['threshold']}-of-{len(p['custodians'])} into SLIP-39 shares and "
                f"hand one to each of {', '.join(p['custodians'])}, each on the terminal alone, each acknowledging "
                "receipt.")
    engine = p["engine"]
    return (f"Restore the key of {p['file']} into engine {engine['id']!r} as {p['name']!r} from the shares of "
            f"{', '.join(p['custodians'])}, then prove the copy: the same key id, and a challenge it signs verifies "
            "with the original public key" + (f"; a lower security level is allowed ({p['allow_lower_level']})."
                                              if p.get("allow_lower_level") else "."))


# --- the lint ------------------------------------------------------------------------------------


def _where(step: Step, name: str | None = None) -> str:
    return f"step {step.number} ({step.action}), line {step.line_of(name) if name else step.line}"


def _twice(step: Step, names: list[str]) -> list[str]:
    twice = sorted({n for n in names if names.count(n) > 1})
    return [f"{_where(step, 'custodians')}: {', '.join(twice)} is named twice."] if twice else []


def lint(script: Script) -> list[str]:
    """Every finding of the script's backup and restore steps, in step order."""
    findings: list[str] = []
    generated: dict[str, Step] = {}
    backups: dict[str, Step] = {}
    people = script.people()
    for step in script.steps:
        if step.action == "generate-key":
            generated[step.params["name"]] = step
        elif step.action == "backup-key":
            findings += _lint_backup(step, generated, people)
            backups[step.params["output"]] = step
        elif step.action == "restore-key":
            findings += _lint_restore(script, step, backups, generated)
    return findings


def _lint_backup(step: Step, generated: dict[str, Step], people: dict[str, Witness]) -> list[str]:
    p = step.params
    found = [f"{_where(step, 'custodians')}: custodian {name!r} is not a person of the script; list each "
             "custodian under roles.custodians (or roles.witnesses) with their initials."
             for name in p["custodians"] if name not in people]
    found += _twice(step, p["custodians"])
    try:
        policy = backup_policy.policy_text(*backup_policy.check_policy(p["threshold"], len(p["custodians"])))
    except KmsError as exc:
        return [*found, f"{_where(step, 'threshold')}: {exc.message}"]
    if not p["keys"]:
        found.append(f"{_where(step, 'keys')}: name at least one key to back up.")
    for name in p["keys"]:
        made = generated.get(name)
        if made is None:
            found.append(f"{_where(step, 'keys')}: key {name!r} is not generated by an earlier step of the script.")
        elif made.params.get("backup") != policy:
            had = f"with backup policy {made.params['backup']}" if made.params.get("backup") else \
                "without a backup policy (it can never leave its engine)"
            found.append(f"{_where(step, 'keys')}: key {name!r} is generated {had} in step {made.number}; this step "
                         f"backs it up {policy}.")
    return found


def _lint_restore(script: Script, step: Step, backups: dict[str, Step], generated: dict[str, Step]) -> list[str]:
    p = step.params
    backup = backups[p["file"]]  # the script's references already name an earlier backup-key step
    holders = backup.params["custodians"]
    found = [f"{_where(step, 'custodians')}: {name!r} holds no share of {p['file']} (its custodians: "
             f"{', '.join(holders)})." for name in p["custodians"] if name not in holders]
    found += _twice(step, p["custodians"])
    if len(set(p["custodians"])) < backup.params["threshold"]:
        found.append(f"{_where(step, 'custodians')}: {len(set(p['custodians']))} custodian(s) named; "
                     f"{p['file']} needs {backup.params['threshold']} shares.")
    if len(backup.params["keys"]) != 1:
        found.append(f"{_where(step, 'file')}: {p['file']} holds {len(backup.params['keys'])} keys; a restore-key "
                     "step restores a backup of one key.")
    if p["engine"]["id"] == script.engine.id:
        found.append(f"{_where(step, 'engine')}: engine {script.engine.id!r} is the ceremony's engine, which already "
                     "holds the key; restore into another one.")
    if p["name"] in generated:
        found.append(f"{_where(step, 'name')}: the name {p['name']!r} is a key the script generates.")
    return found


# --- before anything starts -----------------------------------------------------------------------


def known_keys(ceremony) -> None:
    """The keys restore steps will make, by their new names, for the steps that use them later."""
    restored = {}
    for step in ceremony.steps:
        if step.action != "restore-key":
            continue
        name = step.params["name"]
        problem = ceremony.kms.keys.name_problem(name)
        if problem or name in restored:
            raise CeremonyRefused(f"Step {step.number} (line {step.line_of('name')}): "
                                  f"{problem or f'the name {name!r} is restored twice.'}",
                                  hint="A ceremony never reuses a key name; choose a new one.")
        original = _original(ceremony.script, step)
        if original in ceremony.key_info:
            restored[name] = ceremony.key_info[original]
    ceremony.key_info.update(restored)


def _original(script: Script, step: Step) -> str | None:
    """The name of the key a restore-key step brings back (None when its file holds no single key)."""
    made = script.outputs().get(step.params["file"])
    keys = made.params.get("keys") if made is not None else None
    return keys[0] if keys and len(keys) == 1 else None


def preflight(ceremony) -> None:
    """Refuse the ceremony, before anything is generated, when a backup or restore step could not finish."""
    if not uses_custody(ceremony.script):
        return
    if ceremony.custody is None:
        path = ceremony.script.path or "SCRIPT"
        raise CeremonyRefused("This ceremony hands backup shares to custodians, which happens on the controlling "
                              "terminal only.", hint=f"Run it with: kms-tui ceremony run {path}")
    checked: set[str] = set()  # engines whose security officer PIN logged in
    for step in ceremony.steps:
        if step.action == "backup-key":
            _check_backup(ceremony, step, checked)
        elif step.action == "restore-key":
            _check_restore(ceremony, step)


def _check_backup(ceremony, step: Step, checked: set[str]) -> None:
    engine_id = ceremony.engine_id
    for name in step.params["keys"]:
        info = ceremony.key_info.get(name)
        problem = ceremony.kms.ceremony.backup_problem(engine_id, info.algorithm) if info else None
        if problem:
            raise CeremonyRefused(f"Step {step.number} (line {step.line_of('keys')}): key {name!r} ({info.algorithm}) "
                                  f"cannot be backed up: {problem}", hint="Nothing was generated.")
    if ceremony.kms.ceremony.needs_officer(engine_id) and engine_id not in checked:
        pin = ceremony.officer_pins.get(engine_id) or _ask_officer(ceremony.kms, engine_id, step)
        if not pin:
            raise CeremonyRefused(f"Step {step.number} (backup-key) needs the security officer's PIN of engine "
                                  f"{engine_id!r}, and none was given.",
                                  hint="Give it with --so-pin-stdin (after the PIN with --pin-stdin), or type it "
                                       "when asked; never in the script. Nothing was generated.")
        problem = ceremony.kms.ceremony.officer_problem(engine_id, pin)
        if problem:
            raise CeremonyRefused(f"Step {step.number} (backup-key): {problem}.", hint="Nothing was generated.")
        ceremony.officer_pins[engine_id] = pin
        checked.add(engine_id)


def _ask_officer(kms, engine_id: str, step: Step) -> str | None:
    prompt = kms.prompt
    if prompt is None:
        return None
    return prompt(SecretRequest(engine_id, OFFICER_PIN, False,
                                f"Step {step.number} of the ceremony wraps keys of engine {engine_id!r} for a "
                                "backup, which needs its security officer."))


def _check_restore(ceremony, step: Step) -> None:
    from .environment import check_engine

    spec = EngineSpec(**step.params["engine"])
    check_engine(ceremony.kms, ceremony.script, spec.id, ceremony.mode, spec)
    original = _original(ceremony.script, step)
    info = ceremony.key_info.get(original) if original else None
    problem = ceremony.kms.ceremony.backup_problem(spec.id, info.algorithm, restore=True) if info else None
    if problem:
        raise CeremonyRefused(f"Step {step.number} (line {step.line_of('engine')}): key {original!r} "
                              f"({info.algorithm}) cannot be restored into engine {spec.id!r}: {problem}",
                              hint="Nothing was generated.")
    source = ceremony.kms.engines.get(ceremony.engine_id).record.security_level
    target = ceremony.kms.engines.get(spec.id).record.security_level
    if target < source and not step.params.get("allow_lower_level"):
        raise CeremonyRefused(f"Step {step.number} (line {step.line_of('engine')}): engine {spec.id!r} is security "
                              f"level {target}, below the level {source} of engine {ceremony.engine_id!r} where the "
                              "key is made: restoring there lowers the protection of the key material.",
                              hint=f"Restore into an engine of level {source} or more, or say why in the step "
                                   '(allow_lower_level: "<reason>"). Nothing was generated.')


# --- running the steps -----------------------------------------------------------------------------


def backup_key(ceremony, step: Step, result) -> None:
    p = step.params
    handed: list[dict[str, object]] = []  # what the transcript keeps of each share handed out
    fd = ceremony.outputs.create(p["output"])
    with os.fdopen(fd, "wb") as out:
        done = ceremony.kms.backup.create(p["keys"], custodians=len(p["custodians"]), threshold=p["threshold"],
                                          out=out, hand_out=_hand_out(ceremony, step, handed),
                                          officer_pin=ceremony.officer_pins.get(ceremony.engine_id))
    ceremony.outputs.sync()
    item = {"file": p["output"], "sha256": ceremony.outputs.sha256(p["output"])}
    result.outputs.append(item)
    ceremony.written.append(item)
    result.details = {"file_sha256": done.sha256, "share_set": done.identifier, "threshold": done.threshold,
                      "custodians": handed, "share_fingerprint_rule": FINGERPRINT_RULE,
                      "keys": [{"name": r.name, "key_id": r.key_id} for r in done.keys]}
    if ceremony.mode != "run":
        result.details["rehearsal"] = "no share was shown to anyone: " + REHEARSED
    result.lines += [f"{p['output']}  SHA-256 {item['sha256']}",
                     f"{done.threshold}-of-{done.custodians} shares (share set {done.identifier}):"]
    result.lines += [f"  share {h['share']} to {h['custodian']}, fingerprint {h['share_fingerprint']}" for h in handed]


def _hand_out(ceremony, step: Step, handed: list[dict[str, object]]) -> Callable[..., None]:
    """What ``kms.backup.create`` calls with the shares once the file is written: one custodian at a time."""
    p = step.params
    people = ceremony.script.people()
    custodians = [people[name] for name in p["custodians"]]

    def hand_out(shares) -> None:
        count = len(shares.shares)
        # The file is complete and on disk: named in the transcript before anyone holds a share of it.
        ceremony.outputs.sync()
        ceremony._record("backup.written", step=step.number, file=p["output"],
                         sha256=ceremony.outputs.sha256(p["output"]), share_set=shares.identifier,
                         threshold=shares.threshold, custodians=count)
        for number, (person, share) in enumerate(zip(custodians, shares.shares, strict=True), 1):
            ceremony.custody.hand_out(p["output"], person, number, count, share,
                                      lambda initials, who=person: _acknowledged(ceremony, step, who, initials))
            item = {"custodian": person.name, "share": number, "share_fingerprint": share_fingerprint(share)}
            ceremony._record("share.handed", step=step.number, of=count, file=p["output"],
                             how=ceremony.custody.how_out, **item)
            handed.append(item)

    return hand_out


def _acknowledged(ceremony, step: Step, person: Witness, initials: str) -> bool:
    if initials.strip().upper() != person.initials.upper():
        return False
    ceremony._record("custodian.ack", step=step.number, custodian=person.name, initials=person.initials)
    return True


def restore_key(ceremony, step: Step, result) -> None:
    p = step.params
    kms = ceremony.kms
    data = ceremony.outputs.read(p["file"])
    written = next((w["sha256"] for w in ceremony.written if w["file"] == p["file"]), None)
    if hashlib.sha256(data).hexdigest() != written:
        raise CeremonyRefused(f"{p['file']} changed since it was written; nothing was restored.")
    backup = kms.backup.read(data)
    shares, given = _shares(ceremony, step, backup)
    try:
        done = kms.backup.restore(backup, shares, p["engine"]["id"], name=p["name"],
                                  confirm_lower_level=bool(p.get("allow_lower_level")))
    finally:
        del shares
    record = done.keys[0].record
    ceremony._record("key.restored", step=step.number, name=record.name, key_id=record.key_id,
                     engine=record.engine_id, pkcs11_uri=record.pkcs11_uri, file=p["file"])
    proof = _prove(kms, record, backup.keys[0])
    result.details = {"key_id": record.key_id, "engine": record.engine_id, "pkcs11_uri": record.pkcs11_uri,
                      "file_sha256": done.sha256, "custodians": given, "share_fingerprint_rule": FINGERPRINT_RULE,
                      "proof": proof, **({"lower_level": p["allow_lower_level"]} if p.get("allow_lower_level") else {})}
    result.lines += [f"restored {record.name!r} into {record.engine_id!r}, key id {record.key_id}",
                     f"proof {proof['algorithm']}: the restored key's signature verified with the original public key"]


def _shares(ceremony, step: Step, backup) -> tuple[list[str], list[dict[str, object]]]:
    """The shares of the custodians the step names, each checked and recorded by its fingerprint."""
    p = step.params
    holders = ceremony.script.outputs()[p["file"]].params["custodians"]
    people = ceremony.script.people()
    shares: list[str] = []
    given: list[dict[str, object]] = []
    for name in p["custodians"]:
        number = holders.index(name) + 1
        share = normalised(ceremony.custody.take(p["file"], people[name], number,
                                                 _checker(ceremony.kms, backup, shares, name, number)))
        item = {"custodian": name, "share": number, "share_fingerprint": share_fingerprint(share)}
        ceremony._record("share.given", step=step.number, file=p["file"], how=ceremony.custody.how_in, **item)
        shares.append(share)
        given.append(item)
    return shares, given


def _checker(kms, backup, taken: list[str], name: str, number: int) -> Callable[[str], str | None]:
    def check(share: str) -> str | None:
        try:
            got = kms.backup.check_share(backup, share, taken)
        except KmsError as exc:
            return exc.message
        if got != number:
            return f"This is custodian {got}'s share, not {name}'s (custodian {number})."
        return None
    return check


def _prove(kms, record, original) -> dict[str, object]:
    """The restored key is the original: the same key id, and its signature of a fresh challenge verifies
    with the public key the original was recorded with."""
    public = K.load_public_pem(original.public_key)
    if record.key_id != original.key_id or K.spki_der(K.load_public_pem(record.public_key)) != K.spki_der(public):
        raise CeremonyRefused(f"The restored key {record.name!r} is not the key the backup records.")
    challenge = secrets.token_bytes(32)
    algorithm = K.natural_algorithm(record.algorithm, record.size)
    signature = kms.signing.sign(record.name, algorithm, challenge, "RAW")
    if not K.verify_with(public, A.signing_algorithm(algorithm), challenge, "RAW", signature):
        raise CeremonyRefused(f"The restored key {record.name!r} signs, but its signature does not verify with the "
                              "original public key.")
    return {"same_key_id": True, "algorithm": algorithm, "challenge_sha256": hashlib.sha256(challenge).hexdigest(),
            "signature_sha256": hashlib.sha256(signature).hexdigest(), "verified_with": "original public key",
            "original_public_key_sha256": hashlib.sha256(K.spki_der(public)).hexdigest()}
