"""Crash injection: SIGKILL the service at random points of create, import, delete and purge.

Each round forks a worker from this (already imported) process; the worker opens
the data directory and loops over create / import / delete on the engines it is
given, until it is killed after a random short delay. Then a fresh process (a
forked checker: the "restart") syncs every engine and checks what must hold:

- every key the engine holds is recorded, or adopted by that sync;
- every record whose key is gone is flagged ``missing``;
- ``PRAGMA integrity_check`` says ``ok``;
- the audit chain verifies.

Everything that touches a PKCS#11 module runs in forked children only: a module
initialised in a parent must not be used after a fork. The SoftHSM2 library is
copied to a private path so that no other loaded copy is shared.

Run alone::

    .venv/bin/python -m tests.faults.crash --kills 300 [--no-pkcs11] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from engines import keys as K
from engines.errors import KmsError
from kms_tui.service import DEFAULT_ENGINE_ID, Kms
from store import CredentialStore, KeyQuery
from store.errors import StoreError
from tests.memory_keyring import MemoryKeyring

HSM_ENGINE = "hsm-crash"
HSM_TOKEN = "crash"
MAX_KEYS = 6  # per engine: deletes win above this, so a sync stays cheap
CHECK_TIMEOUT = 60.0


@dataclass
class Target:
    """Where the rounds run: a data directory, its keyring and the engines to exercise."""

    data_dir: Path
    keyring: MemoryKeyring
    engines: list[str]
    softhsm_conf: str | None = None
    pin: str | None = None
    import_pool: list[bytes] = field(default_factory=list)

    def open(self) -> Kms:
        """A Kms as a fresh process opens it: PINs come from the "operator" (a prompt)."""
        if self.softhsm_conf:
            os.environ["SOFTHSM2_CONF"] = self.softhsm_conf
        prompt = (lambda request: self.pin) if self.pin else None
        return Kms(self.data_dir, credentials=CredentialStore(backend=self.keyring), prompt=prompt)


@dataclass
class Tally:
    kills: int = 0
    rounds_checked: int = 0
    ops_completed: int = 0
    keys_checked: int = 0
    orphans_adopted: int = 0
    rows_flagged: int = 0
    rows_restored: int = 0
    half_made: int = 0  # peak of PKCS#11 private key objects without their public half (see _unreadable)
    damaged: int = 0  # peak of PKCS#11 private key objects SoftHSM2 could not read back
    half_made_seen: list[str] = field(default_factory=list)  # what inventory said of each
    tokens_lost: int = 0  # SoftHSM2 token stores a kill left unreadable (replaced by a new token)
    expected_errors: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(self.expected_errors.items())) or "none"
        return (f"kills {self.kills}, restarts checked {self.rounds_checked}, operations completed "
                f"{self.ops_completed}, keys checked {self.keys_checked}, orphans adopted {self.orphans_adopted}, "
                f"rows flagged missing {self.rows_flagged}, rows restored {self.rows_restored}, "
                f"half-made token objects {self.half_made}"
                + (f" (inventory said: {self.half_made_seen[0]!r})" if self.half_made_seen else "")
                + f", damaged token objects {self.damaged}, "
                f"tokens lost {self.tokens_lost}, "
                f"refusals seen {errors}, problems {len(self.problems)}")


# --------------------------------------------------------------------- children


def _fork(body: Callable[[int], None]) -> tuple[int, int]:
    """Fork a child running ``body(write_fd)``; returns (pid, read_fd). The child never returns."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            os.close(read_fd)
            body(write_fd)
        except BaseException:
            code = 3
            with _suppress():
                os.write(write_fd, b"E" + json.dumps(traceback.format_exc()[-2000:]).encode() + b"\n")
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


@contextmanager
def _suppress() -> Iterator[None]:
    try:
        yield
    except BaseException:
        pass


def _read_all(fd: int, timeout: float | None = None) -> bytes:
    chunks, deadline = [], None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            if deadline is not None:
                ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    raise TimeoutError("the child did not finish in time")
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def _worker(target: Target, seed: int, out: int) -> None:  # pragma: no cover - runs in the child
    """Loop over create / import / delete until killed; one byte per finished operation."""
    rng = random.Random(seed)
    kms = target.open()
    n = 0
    while True:
        n += 1
        engine_id = rng.choice(target.engines)
        records = kms.keys.list(KeyQuery(engine_id=engine_id))
        pending = [r for r in records if r.state == "PendingDeletion"]  # the software engine's trash
        records = [r for r in records if r.state != "PendingDeletion"]
        roll = rng.random()
        try:
            if pending and (roll < 0.15 or len(pending) >= MAX_KEYS):
                kms.keys.run_action(rng.choice(pending).name, "purge")
            elif records and (roll < 0.35 or len(records) >= MAX_KEYS):
                kms.keys.delete(rng.choice(records).name, force=True)
            elif roll < 0.7:
                algorithm, size = rng.choice((("ECDSA", 256), ("Ed25519", 256)))
                kms.keys.create(algorithm, size, f"c-{seed:x}-{n}", engine_id=engine_id)
            else:
                kms.keys.import_key(rng.choice(target.import_pool), f"i-{seed:x}-{n}", engine_id=engine_id)
            os.write(out, b".")
        except (KmsError, StoreError) as exc:
            os.write(out, b"R" + type(exc).__name__.encode() + b"\n")


def _checker(target: Target, out: int) -> None:  # pragma: no cover - runs in the child
    """The restart: open, sync, and check every invariant; one JSON line back."""
    from engines.pkcs11.errors import TokenNotFound

    result: dict[str, Any] = {"keys": 0, "adopted": 0, "flagged": 0, "restored": 0, "half_made": 0, "damaged": 0,
                              "problems": []}
    problems = result["problems"]
    with target.open() as kms:
        for engine_id in target.engines:
            try:
                report = kms.inventory.sync(engine_id)[0]
            except TokenNotFound:
                result["token_lost"] = True  # SoftHSM2's token file was being rewritten when killed
                continue
            result["adopted"] += len(report.adopted)
            result["flagged"] += len(report.missing)
            result["restored"] += len(report.restored)
            held = {native.key_id for native in kms.context.driver(engine_id).inventory()}
            records = list(kms.context.store.iter_keys(engine_id))
            recorded = {r.key_id for r in records if r.status != "missing"}
            result["keys"] += len(held)
            if engine_id == HSM_ENGINE:
                driver = kms.context.driver(engine_id)
                result["half_made"], result["damaged"], said = _unreadable(driver)
                reported = [what for what, _, _ in driver.unusable()]  # what doctor shows the operator
                result["half_made_listed"] = said
                if len(reported) < result["half_made"]:
                    problems.append(f"{engine_id}: {result['half_made']} half-made objects, "
                                    f"{len(reported)} reported by doctor")
            for key_id in sorted(held - recorded):
                problems.append(f"{engine_id}: key {key_id[:16]} is in the engine but not recorded after sync")
            for r in records:
                if r.native_ref is not None and r.key_id not in held and r.status != "missing":
                    problems.append(f"{engine_id}: record {r.name!r} points at a gone key and is not flagged")
        check = kms.audit.verify()
        if not check.ok:
            problems.append(f"audit chain broken at row {check.first_broken}: {check.reason}")
    conn = sqlite3.connect(str(target.data_dir / "kms.db"))
    try:
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    if integrity != ["ok"]:
        problems.append(f"PRAGMA integrity_check: {integrity[:5]}")
    os.write(out, json.dumps(result).encode() + b"\n")


def _unreadable(driver) -> tuple[int, int, list[str]]:  # pragma: no cover - runs in the child
    """(half-made, damaged, what was said of the half-made): private key objects on the
    token that inventory cannot read.

    Half-made: the object's attributes read back, but it has no public half to
    derive its key id from. Create and import write the public object first and
    never rewrite it (see ``Pkcs11Engine._generate`` and ``_import``); SoftHSM2's
    file store is not crash-safe (it loses whole tokens too): a process killed while
    it writes a private object's attributes leaves a private key with only some of
    them (no label, no id), and such an object must then be reported
    by ``doctor`` (``EngineDriver.unusable``). Damaged: SoftHSM2 cannot read the
    private object's own attributes back.
    """
    from pkcs11 import Attribute, ObjectClass

    from engines.pkcs11 import lookup as L

    def count(shared) -> tuple[int, int, list[str]]:
        half_made = damaged = 0
        seen: list[str] = []
        index = L.PublicIndex(shared.session)
        for obj in shared.session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}):
            try:
                L.describe_private(shared.session, obj, index)
            except L.NoPublicHalf as exc:
                half_made += 1
                seen.append(exc.message[:200])
            except Exception:  # noqa: BLE001 - the module could not read the object back
                damaged += 1
        return half_made, damaged, seen

    return driver._link.run("read every private key object", count)


def _setup_hsm_engine(target: Target, module: str, out: int) -> None:  # pragma: no cover - in the child
    with target.open() as kms:
        kms.engines.register("PKCS11", HSM_ENGINE, options={"module": module, "token": HSM_TOKEN}, secret=target.pin)
    os.write(out, b"ok\n")


# --------------------------------------------------------------------- parent


def _check(target: Target, tally: Tally) -> None:
    result = _check_once(target, tally)
    if result is not None and result.get("token_lost"):
        # SoftHSM2's file store is not crash-safe: a kill while it rewrites a token's
        # file loses the token. A new token takes its place, and the next restart must
        # flag every record of the lost one as missing (checked by the same invariants).
        tally.tokens_lost += 1
        _replace_token(target)
        _check_once(target, tally)


def _replace_token(target: Target) -> None:
    from tests.engines.pkcs11.softhsm import SO_PIN, USER_PIN, run

    tokens = Path(target.softhsm_conf).parent / "tokens"
    for entry in tokens.iterdir():
        shutil.rmtree(entry)
    env = {**os.environ, "SOFTHSM2_CONF": target.softhsm_conf}
    run(["softhsm2-util", "--init-token", "--free", "--label", HSM_TOKEN, "--so-pin", SO_PIN, "--pin", USER_PIN], env)


def _check_once(target: Target, tally: Tally) -> dict[str, Any] | None:
    pid, fd = _fork(lambda out: _checker(target, out))
    try:
        data = _read_all(fd, CHECK_TIMEOUT)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        data = b"Etimeout\n"
    os.waitpid(pid, 0)
    tally.rounds_checked += 1
    line = data.strip().splitlines()[-1] if data.strip() else b"Eno answer"
    if line.startswith(b"E"):
        tally.problems.append(f"restart {tally.rounds_checked} failed: {line[1:].decode(errors='replace')}")
        return None
    result = json.loads(line)
    tally.keys_checked += result["keys"]
    tally.orphans_adopted += result["adopted"]
    tally.rows_flagged += result["flagged"]
    tally.rows_restored += result["restored"]
    tally.half_made = max(tally.half_made, result["half_made"])  # standing counts: their peaks
    tally.damaged = max(tally.damaged, result["damaged"])
    for text in result.get("half_made_listed", ()):
        if text not in tally.half_made_seen:
            tally.half_made_seen.append(text)
    tally.problems.extend(f"restart {tally.rounds_checked}: {p}" for p in result["problems"])
    return result


def _one_kill(target: Target, tally: Tally, rng: random.Random, delay: tuple[float, float]) -> None:
    pid, fd = _fork(lambda out: _worker(target, rng.randrange(1 << 32), out))
    time.sleep(rng.uniform(*delay))
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    data = _read_all(fd)
    tally.kills += 1
    tally.ops_completed += data.count(b".")
    for line in data.split(b"\n"):
        line = line.lstrip(b".")
        if line.startswith(b"R"):
            name = line[1:].decode()
            tally.expected_errors[name] = tally.expected_errors.get(name, 0) + 1
        elif line.startswith(b"E"):
            tally.problems.append(f"worker died of its own: {json.loads(line[1:])}")
    if os.WIFEXITED(status):
        tally.problems.append(f"worker exited with {os.WEXITSTATUS(status)} before it was killed")


def prepare(base: Path, *, softhsm: bool, pool_size: int = 6) -> Target:
    """A data directory with the default software engine (and a SoftHSM2 engine) ready to use."""
    keyring = MemoryKeyring()
    pool = [K.private_pkcs8_pem(ed25519.Ed25519PrivateKey.generate()) for _ in range(pool_size // 2)]
    pool += [K.private_pkcs8_pem(ec.generate_private_key(ec.SECP256R1())) for _ in range(pool_size - len(pool))]
    target = Target(base / "data", keyring, [DEFAULT_ENGINE_ID], import_pool=pool)
    with target.open() as kms:
        kms.context.driver(DEFAULT_ENGINE_ID).check()  # makes and keeps its at-rest passphrase (in the parent's keyring)
    if softhsm:
        from tests.engines.pkcs11.softhsm import MODULE, USER_PIN, make_softhsm

        hsm = make_softhsm(base / "softhsm", tokens=(HSM_TOKEN,))
        module = base / "softhsm" / "libsofthsm2-crash.so"  # never loaded by this process
        shutil.copyfile(os.path.realpath(MODULE), module)
        target.softhsm_conf, target.pin = str(hsm.conf), USER_PIN
        pid, fd = _fork(lambda out: _setup_hsm_engine(target, str(module), out))
        answer = _read_all(fd, CHECK_TIMEOUT)
        os.waitpid(pid, 0)
        if answer.strip() != b"ok":
            raise RuntimeError(f"registering the SoftHSM2 engine failed: {answer.decode(errors='replace')}")
        target.engines.append(HSM_ENGINE)
    return target


def run(
    target: Target,
    kills: int,
    *,
    seed: int = 0,
    delay: tuple[float, float] = (0.002, 0.04),
    check_every: int = 1,
) -> Tally:
    """``kills`` rounds of fork / random delay / SIGKILL, each followed by a checked restart."""
    rng = random.Random(seed)
    tally = Tally()
    for i in range(kills):
        _one_kill(target, tally, rng, delay)
        if (i + 1) % check_every == 0 or i + 1 == kills:
            _check(target, tally)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--no-pkcs11", action="store_true", help="the software engine only")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="kms-crash-"))
    try:
        target = prepare(base, softhsm=not args.no_pkcs11)
        started = time.monotonic()
        tally = run(target, args.kills, seed=args.seed)
        print(f"seed {args.seed}: {tally.summary()} in {time.monotonic() - started:.1f}s")
        for problem in tally.problems[:10]:
            print("  PROBLEM", problem[-600:])
        return 1 if tally.problems else 0
    finally:
        if args.keep:
            print(f"data kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
