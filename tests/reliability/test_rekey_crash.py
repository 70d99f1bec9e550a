"""Re-key under SIGKILL: 100+ kills at seeded random points over 50 keys, zero keys lost.

Each round forks a process that opens the data directory (which finishes any
re-key a kill interrupted) and re-keys the software engine to a new passphrase;
the parent kills it after a random delay drawn from the seed. After every kill,
every key file (listed and in the trash) must open under a passphrase the
keyring holds for the engine, the current one or the pending new one, and hold
the same key as before. At the end, one more open finishes whatever is pending
and every key signs. ``KMS_TUI_REKEY_SEED`` replays a run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import time
from pathlib import Path

import pytest

from engines import keys as K
from engines.software import rekey as R
from kms_tui.service import DEFAULT_ENGINE_ID, Kms
from store import CredentialStore
from tests.file_keyring import FileKeyring

KEYS = 50
KILLS = 100
MAX_ROUNDS = 300


def _kms(data_dir: Path, keyring: FileKeyring) -> Kms:
    return Kms(data_dir, credentials=CredentialStore(backend=keyring))


def _rekey_in_child(data_dir: Path, keyring: FileKeyring, passphrase: str) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            with _kms(data_dir, keyring) as kms:
                kms.engines.secrets.rekey(DEFAULT_ENGINE_ID, passphrase)
            code = 0
        finally:
            os._exit(code)
    return pid


def _passphrases(keyring: FileKeyring) -> list[str]:
    """Every passphrase the keyring holds for the engine: its own entry and a pending re-key's."""
    return [v for k, v in keyring.entries().items() if k.endswith(f"/engine/{DEFAULT_ENGINE_ID}")
            or k.endswith(f"/engine/{DEFAULT_ENGINE_ID}/rekey")]


def _open(data: bytes, passphrase: bytes):
    try:
        return K.parse_key(data, passphrase)
    except Exception:
        return None


def _lost(directory: Path, expected: dict[str, str], keyring: FileKeyring) -> list[str]:
    """Key files that open under no passphrase the keyring holds, or hold another key; missing files."""
    candidates = [p.encode() for p in _passphrases(keyring)]
    seen, lost = {}, []
    for path in R.key_files(str(directory)):
        data = R.read(path)[0]
        opened = next((k for k in (_open(data, p) for p in candidates) if k is not None), None)
        name = os.path.basename(path).split(".", 1)[0]
        seen[name] = True
        if opened is None or opened.key_id != expected.get(name):
            lost.append(name)
    return lost + [name for name in expected if name not in seen]


@pytest.mark.slow
def test_rekey_survives_sigkill_at_any_point(tmp_path, record_property):
    seed = int(os.environ.get("KMS_TUI_REKEY_SEED") or random.randrange(2**31))
    rng = random.Random(seed)
    keyring = FileKeyring(tmp_path / "keyring.json")
    data_dir = tmp_path / "data"
    with _kms(data_dir, keyring) as kms:
        for i in range(KEYS - 1):
            kms.keys.create("ECDSA", 256, f"k{i}")
        trashed_ref = kms.keys.create("ECDSA", 256, "trashed").native_ref
        directory = Path(kms.engines.get(DEFAULT_ENGINE_ID).record.config["directory"])
    trashed = directory / trashed_ref  # a key pending deletion is guarded by the passphrase too
    (directory / R.TRASH_DIR).mkdir(mode=0o700, exist_ok=True)
    shutil.move(trashed, directory / R.TRASH_DIR / f"{trashed.name}.1700000000")
    expected = {os.path.basename(p).split(".", 1)[0]: K.key_id_of(
        K.parse_key(R.read(p)[0], _passphrases(keyring)[0].encode()).private_key.public_key())
        for p in R.key_files(str(directory))}
    assert len(expected) == KEYS

    started = time.monotonic()
    pid = _rekey_in_child(data_dir, keyring, "calibration passphrase 0")
    os.waitpid(pid, 0)
    full = time.monotonic() - started  # one whole round: open, resume if needed, re-key every file

    kills = completed = rounds = 0
    problems: list[str] = []
    while kills < KILLS and rounds < MAX_ROUNDS:
        rounds += 1
        pid = _rekey_in_child(data_dir, keyring, f"passphrase {seed} {rounds}")
        time.sleep(rng.uniform(0.0, full * 0.9))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            kills += 1
        elif os.WEXITSTATUS(status) == 0:
            completed += 1
        else:
            problems.append(f"round {rounds}: the re-key failed (exit {os.WEXITSTATUS(status)})")
        lost = _lost(directory, expected, keyring)
        if lost:
            problems.append(f"round {rounds}: {len(lost)} key(s) open under no kept passphrase: {lost[:3]}")
            break
    elapsed = time.monotonic() - started

    with _kms(data_dir, keyring) as kms:  # the next command finishes what a kill left
        for i in range(KEYS - 1):
            kms.signing.sign(f"k{i}", "ECDSA_SHA_256", b"after the kills")
        assert kms.engines.secrets.pending() == []
        rekeys = kms.context.store._conn.scalar("SELECT count(*) FROM audit WHERE action = 'engine.rekey'")
    final = _passphrases(keyring)
    assert len(set(final)) == 1
    lost = _lost(directory, expected, keyring)
    record_property("figure", f"re-key under SIGKILL: {kills} kills at seeded random points (seed {seed}) over "
                              f"{KEYS} keys, {completed} re-keys completed, {rekeys} recorded, {len(lost)} keys lost, "
                              f"{elapsed:.1f} s")
    print(json.dumps({"seed": seed, "kills": kills, "rounds": rounds, "full": round(full, 3), "elapsed": round(elapsed, 1)}))
    assert problems == [], f"seed {seed}"
    assert lost == []
    assert kills >= KILLS, f"seed {seed}: only {kills} kills landed in {rounds} rounds"
