"""Rotation under SIGKILL: a process rotating keys over and over is killed at seeded random points.

After every kill, every alias is still on exactly one key, and that key is not retired (the aliases,
the links and the retired mark move in one transaction, so a kill leaves either all of a rotation's
local part or none of it); the doctor's repair closes every rotation the kill left open, and the
keys rotate again. ``KMS_TUI_ROTATE_SEED`` replays a run.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from kms_tui.service import Kms
from kms_tui.service.rotation_doctor import rotation_findings
from kms_tui.service.rotation_links import links_of, open_rotations
from store import CredentialStore
from tests.file_keyring import FileKeyring

pytestmark = pytest.mark.slow

CHAINS = 4
KILLS = 20


def _kms(data_dir: Path, keyring: FileKeyring) -> Kms:
    return Kms(data_dir, credentials=CredentialStore(backend=keyring))


def _rotate_in_child(data_dir: Path, keyring: FileKeyring, seed: int) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            rng = random.Random(seed)
            with _kms(data_dir, keyring) as kms:
                rotation_findings(kms.context, repair=True)  # what the last kill left open
                while True:
                    kms.rotation.rotate(f"chain-{rng.randrange(CHAINS)}-a")
        finally:
            os._exit(0)
    return pid


def _check(kms: Kms, aliases: set[str]) -> None:
    keys = kms.keys.list()
    holders = {alias: [k for k in keys if alias in k.aliases] for alias in aliases}
    assert {a: len(h) for a, h in holders.items()} == dict.fromkeys(aliases, 1), "an alias lost or doubled"
    for alias, (key,) in holders.items():
        links = links_of(kms.context.store, key)
        assert links.retired_ts is None and links.successor is None, f"{alias} is on a retired key {key.name}"
    for key in keys:
        successor = links_of(kms.context.store, key).successor
        if successor is not None:  # a retired key's successor is recorded and names it back
            assert successor.record is not None
            assert links_of(kms.context.store, successor.record).predecessor.key_id == key.key_id


def test_sigkill_during_rotations_leaves_every_alias_on_one_live_key(tmp_path, record_property):
    seed = int(os.environ.get("KMS_TUI_ROTATE_SEED", "20261205"))
    rng = random.Random(seed)
    keyring = FileKeyring(tmp_path / "keyring.json")
    data_dir = tmp_path / "data"
    aliases = {f"chain-{n}-{s}" for n in range(CHAINS) for s in "ab"}
    with _kms(data_dir, keyring) as kms:
        for n in range(CHAINS):
            kms.keys.create("ECDSA", 256, f"key-{n}", aliases=[f"chain-{n}-a", f"chain-{n}-b"])
    left_open = 0
    for _ in range(KILLS):
        pid = _rotate_in_child(data_dir, keyring, rng.randrange(1 << 30))
        time.sleep(rng.uniform(0.03, 0.12))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        with _kms(data_dir, keyring) as kms:
            _check(kms, aliases)
            left_open += len(open_rotations(kms.context.store))
    with _kms(data_dir, keyring) as kms:
        findings = rotation_findings(kms.context, repair=True)
        assert all(f.repaired for f in findings) and not open_rotations(kms.context.store)
        for n in range(CHAINS):
            assert kms.rotation.rotate(f"chain-{n}-a").successor.aliases == sorted([f"chain-{n}-a", f"chain-{n}-b"])
        _check(kms, aliases)
        rotated = sum(1 for r in kms.audit.rows(limit=100_000) if r.action == "key.rotate")
    assert rotated > KILLS, "the kills left too few rotations finished to mean anything"
    record_property("figure", f"rotation kills: {KILLS}, rotations finished {rotated}, left open by a kill {left_open}")
