"""Sync at scale: the store work per adopted key does not grow, writes go in batches, a cancel keeps whole batches."""

from __future__ import annotations

import os
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engines import keys as K
from kms_tui.cli import misc_cmds
from kms_tui.cli.parser import build_parser
from kms_tui.service import inventory
from kms_tui.service.errors import Cancelled


def lamassu_files(directory, count: int) -> set[str]:
    """``count`` clear EC P-256 key files named by their key ids, as Lamassu writes them."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    made = set()
    for _ in range(count):
        private = ec.generate_private_key(ec.SECP256R1())
        key_id = K.key_id_of(private.public_key())
        fd = os.open(os.path.join(directory, key_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        made.add(key_id)
    return made


def traced_sync(kms, engine_id: str) -> tuple[list[str], object]:
    """The SQL statements a sync runs, and its report."""
    statements: list[str] = []
    raw = kms.context.store._conn._raw
    raw.set_trace_callback(statements.append)
    try:
        (report,) = kms.inventory.sync(engine_id)
    finally:
        raw.set_trace_callback(None)
    return statements, report


def test_store_work_per_adopted_key_does_not_grow_and_commits_are_batched(kms, tmp_path):
    per_key = {}
    for n in (40, 160):
        directory = tmp_path / f"keys-{n}"
        made = lamassu_files(directory, n)
        kms.engines.register("GOLANG", f"soft-{n}", options={"directory": str(directory), "encrypt": "false"})
        statements, report = traced_sync(kms, f"soft-{n}")
        assert set(report.adopted) == made
        per_key[n] = len(statements) / n
        commits = sum(s.strip().upper() == "COMMIT" for s in statements)
        assert commits <= 2, f"{commits} commits for {n} keys: adoption is not batched"  # one batch, the audit row
    assert per_key[160] <= per_key[40], per_key  # fixed costs spread thinner; nothing per key grows with N
    statements, again = traced_sync(kms, "soft-160")
    assert (again.unchanged, again.adopted) == (160, [])
    assert sum(s.lstrip().upper().startswith(("INSERT", "UPDATE")) for s in statements) <= 2  # the audit row only


def test_a_cancelled_sync_keeps_what_it_adopted_and_the_next_one_finishes(kms, tmp_path, monkeypatch):
    monkeypatch.setattr(inventory, "_WRITE_BATCH", 25)
    made = lamassu_files(tmp_path / "keys", 70)
    kms.engines.register("GOLANG", "soft", options={"directory": str(tmp_path / "keys"), "encrypt": "false"})
    cancel = threading.Event()

    def progress(done, total, engine_id):
        if done == 60:
            cancel.set()

    with pytest.raises(Cancelled) as info:
        kms.inventory.sync("soft", progress=progress, cancel=cancel)
    assert "60 key(s) adopted" in str(info.value)
    recorded = {r.key_id for r in kms.keys.list()}
    assert len(recorded) == 60 and recorded < made  # every adoption reported was written, none more
    assert kms.audit.verify().ok
    (report,) = kms.inventory.sync("soft")
    assert (len(report.adopted), report.unchanged, report.missing) == (10, 60, [])
    assert {r.key_id for r in kms.keys.list()} == made


def test_cli_sync_full_reaches_the_service(kms, tmp_path, capsys):
    lamassu_files(tmp_path / "keys", 2)
    kms.engines.register("GOLANG", "soft", options={"directory": str(tmp_path / "keys"), "encrypt": "false"})
    args = build_parser().parse_args(["sync", "soft", "--full", "--json"])
    assert args.handler is misc_cmds.sync and args.full
    assert misc_cmds.sync(kms, args) == 0
    assert '"adopted"' in capsys.readouterr().out
    assert kms.audit.rows(limit=1)[0].details["full"] is True
    assert build_parser().parse_args(["sync"]).full is False


def test_a_key_recorded_by_another_process_during_a_sync_is_not_adopted_twice(kms, tmp_path, memory_keyring):
    """The race the concurrency test found: sync lists a key that a create in another process records first."""
    from kms_tui.service import Kms
    from store import CredentialStore

    directory = tmp_path / "keys-race"
    made = lamassu_files(directory, 30)
    kms.engines.register("GOLANG", "soft-race", options={"directory": str(directory), "encrypt": "false"})
    other = Kms(kms.data_dir, credentials=CredentialStore(backend=memory_keyring))
    driver = kms.context.driver("soft-race")
    listing = driver.inventory

    def inventory_meanwhile_recorded(known=(), full=False):
        entries = list(listing(known, full))
        # Between the listing and the writes, another process records one of them itself.
        key_id = sorted(made)[0]
        with open(directory / key_id, "rb") as f:
            other.keys.import_key(f.read(), "recorded-elsewhere", engine_id="soft-race")
        yield from entries

    driver.inventory = inventory_meanwhile_recorded
    try:
        (report,) = kms.inventory.sync("soft-race")
    finally:
        other.close()
    assert sorted(made)[0] not in report.adopted and len(report.adopted) == 29
    assert kms.keys.resolve("recorded-elsewhere").key_id == sorted(made)[0]
    assert {r.key_id for r in kms.context.store.iter_keys("soft-race")} == made
    assert kms.audit.verify().ok


def test_a_created_key_that_a_concurrent_sync_adopted_first_is_claimed_not_refused(kms, tmp_path, memory_keyring):
    """The other side of that race: a sync adopts the new key file before its create records it."""
    from kms_tui.service import Kms
    from store import CredentialStore

    kms.engines.register("GOLANG", "soft-claim", options={"directory": str(tmp_path / "claim"), "encrypt": "false"})
    other = Kms(kms.data_dir, credentials=CredentialStore(backend=memory_keyring))
    driver = kms.context.driver("soft-claim")
    create = driver.create

    def create_then_sync_elsewhere(algorithm, size):
        native = create(algorithm, size)
        (report,) = other.inventory.sync("soft-claim")  # another process adopts it under a generated name
        assert report.adopted == [native.key_id]
        return native

    driver.create = create_then_sync_elsewhere
    try:
        record = kms.keys.create("ECDSA", 256, "claimed", engine_id="soft-claim", aliases=["c-alias"], tags=["t"],
                                metadata={"owner": "pki"})
    finally:
        other.close()
    assert (record.name, record.aliases, record.tags, record.metadata) == ("claimed", ["c-alias"], ["t"],
                                                                            {"owner": "pki"})
    assert [r.name for r in kms.context.store.iter_keys("soft-claim")] == ["claimed"]
    assert (tmp_path / "claim" / record.key_id).exists()  # the key was kept, not discarded
    assert kms.signing.sign("claimed", "ECDSA_SHA_256", b"still there")
    assert kms.audit.verify().ok


def test_a_key_listed_at_two_references_in_one_listing_is_adopted_once(kms, tmp_path):
    """An engine may list one key twice (a copy at another reference): one record, and the sync completes."""
    from dataclasses import replace

    directory = tmp_path / "keys-twice"
    made = lamassu_files(directory, 1)
    kms.engines.register("GOLANG", "soft-twice", options={"directory": str(directory), "encrypt": "false"})
    driver = kms.context.driver("soft-twice")
    listing = driver.inventory

    def listed_twice(known=(), full=False):
        for native in listing(known, full):
            yield native
            yield replace(native, ref=native.ref + "-copy")

    driver.inventory = listed_twice
    (report,) = kms.inventory.sync("soft-twice")
    assert report.adopted == sorted(made) and report.seen == 2 and report.unchanged == 1
    assert [r.key_id for r in kms.context.store.iter_keys("soft-twice")] == sorted(made)
