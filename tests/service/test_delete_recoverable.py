"""Deletion is recoverable and recorded first: the software trash through the Kms facade,
announced audit rows, doctor on an intent a kill left behind, and a durable store."""

from __future__ import annotations

import os
import signal
import sqlite3

import pytest

from engines.testing import verify_independently
from kms_tui.service import Kms
from kms_tui.service.errors import Refused
from store import CredentialStore

ENGINE = "golang-default"
DAY = 86_400
MESSAGE = b"the message"


def actions(kms, limit=50) -> list[str]:
    return [r.action for r in kms.audit.rows(limit=limit, newest_first=False)]


def key_dir(kms):
    return kms.data_dir / "keys" / ENGINE


def trashed(kms) -> list[str]:
    trash = key_dir(kms) / ".trash"
    return sorted(os.listdir(trash)) if trash.is_dir() else []


def test_delete_leaves_a_key_pending_deletion_that_restore_brings_back(kms):
    record = kms.keys.create("ECDSA", 256, "k")
    record = kms.keys.delete("k")
    assert record.state == "PendingDeletion" and record.status == "ok"
    assert [r.state for r in kms.keys.list()] == ["PendingDeletion"]
    assert not (key_dir(kms) / record.key_id).exists() and trashed(kms)[0].startswith(record.key_id)
    with pytest.raises(Refused, match="pending deletion"):
        kms.signing.sign("k", "ECDSA_SHA_256", MESSAGE)
    intent, done = kms.audit.rows(limit=2)[::-1]
    assert (intent.action, done.action) == ("key.delete.intent", "key.delete")
    assert done.details["intent"] == intent.seq and done.details["options"] == {"pending_window_days": "7"}
    restored = kms.keys.run_action("k", "restore")
    assert restored.state is None and trashed(kms) == []
    verify_independently(kms.keys.public_key("k"), "ECDSA_SHA_256", MESSAGE, kms.signing.sign("k", "ECDSA_SHA_256", MESSAGE))


def test_delete_twice_is_refused_and_announces_nothing(kms):
    kms.keys.create("ECDSA", 256, "k")
    kms.keys.delete("k")
    before = actions(kms)
    with pytest.raises(Refused, match="already pending deletion"):
        kms.keys.delete("k", force=True)
    assert actions(kms) == before and len(trashed(kms)) == 1


def test_sync_and_doctor_see_a_trashed_key_as_pending_not_missing(kms):
    record = kms.keys.create("ECDSA", 256, "k")
    kms.keys.delete("k")
    for full in (False, True):
        report = kms.inventory.sync(ENGINE, full=full)[0]
        assert (report.adopted, report.missing) == ([], [])
    assert [(r.key_id, r.state, r.status) for r in kms.keys.list()] == [(record.key_id, "PendingDeletion", "ok")]
    assert kms.doctor.run().clean


def test_a_trashed_key_without_a_record_is_adopted_once_as_pending(kms):
    record = kms.keys.create("ECDSA", 256, "k")
    kms.keys.delete("k")
    kms.context.store.delete_key(ENGINE, record.key_id)  # a database restored from before the key existed
    assert kms.inventory.sync(ENGINE)[0].adopted == [record.key_id]
    assert kms.inventory.sync(ENGINE)[0].adopted == []
    (adopted,) = kms.keys.list()
    assert adopted.state == "PendingDeletion"


def test_purge_is_announced_then_recorded_and_destroys(kms):
    record = kms.keys.create("ECDSA", 256, "k")
    kms.keys.delete("k")
    assert kms.keys.run_action("k", "purge") is None
    assert trashed(kms) == [] and kms.keys.list() == [] and not (key_dir(kms) / record.key_id).exists()
    intent, done = kms.audit.rows(limit=2)[::-1]
    assert (intent.action, done.action, done.details["intent"]) == ("key.action.purge.intent", "key.action.purge",
                                                                    intent.seq)


def test_purge_expired_dry_run_changes_nothing_and_purges_only_expired_keys(kms):
    old, young = kms.keys.create("ECDSA", 256, "old"), kms.keys.create("ECDSA", 256, "young")
    trash = kms.context.driver(ENGINE).trash
    now = 1_800_000_000
    trash.clock = lambda: now
    kms.keys.delete("old")
    kms.keys.delete("young", options={"pending_window_days": "30"})
    assert kms.keys.purge_expired() == []
    trash.clock = lambda: now + 10 * DAY
    files, rows = trashed(kms), actions(kms, 100)
    (listed,) = kms.keys.purge_expired(dry_run=True)
    assert (listed.name, listed.purged, listed.purge_after) == ("old", False, now + 7 * DAY)
    assert trashed(kms) == files and actions(kms, 100) == rows and len(kms.keys.list()) == 2
    (purged,) = kms.keys.purge_expired(ENGINE)
    assert purged.purged and purged.key_id == old.key_id
    assert [r.name for r in kms.keys.list()] == ["young"] and [n[:64] for n in trashed(kms)] == [young.key_id]
    assert actions(kms)[-2:] == ["key.purge_expired.intent", "key.purge_expired"]


def test_the_store_writes_with_synchronous_full(kms):
    assert kms.context.store._conn.db.execute("PRAGMA synchronous").fetchone()[0] == 2


# ---------------------------------------------------------------- killed between intent and completion


def _killed_delete(data_dir, keyring, when: str) -> None:
    """Fork a process that deletes key "k" and is SIGKILLed before or after the engine step."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            kms = Kms(data_dir, credentials=CredentialStore(backend=keyring))
            driver = kms.context.driver(ENGINE)
            real = driver.delete

            def delete(ref, **options):
                if when == "after":
                    real(ref, **options)
                os.kill(os.getpid(), signal.SIGKILL)

            driver.delete = delete
            kms.keys.delete("k")
        finally:
            os._exit(3)  # reached only if the kill did not happen
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_kill_between_intent_and_completion_is_named_and_repaired(data_dir, memory_keyring, when):
    credentials = CredentialStore(backend=memory_keyring)
    with Kms(data_dir, credentials=credentials) as kms:
        record = kms.keys.create("ECDSA", 256, "k")
    _killed_delete(data_dir, memory_keyring, when)
    with Kms(data_dir, credentials=credentials) as kms:
        assert actions(kms)[-1] == "key.delete.intent"
        assert kms.keys.resolve("k").state is None  # the completion never committed
        (finding,) = [f for f in kms.doctor.run().findings if "announced key.delete" in f.message]
        assert finding.repairable and not finding.repaired and finding.subject == "k"
        repaired = kms.doctor.run(repair=True)
        (finding,) = [f for f in repaired.findings if "announced key.delete" in f.message]
        assert finding.repaired
        last = kms.audit.rows(limit=1)[0]
        assert last.details["intent"] == kms.audit.rows(limit=1, action="key.delete.intent")[0].seq
        if when == "before":  # the engine never acted: the key is there and signs
            assert last.action == "key.delete.abandoned" and "still holds" in finding.message
            assert kms.keys.resolve("k").state is None
            kms.signing.sign("k", "ECDSA_SHA_256", MESSAGE)
        else:  # the key went to the trash: the delete is recorded as done, the record shows it
            assert last.action == "key.delete" and "pending deletion" in finding.message
            assert kms.keys.resolve("k").state == "PendingDeletion"
            assert trashed(kms)[0].startswith(record.key_id)
        assert kms.doctor.run().clean and kms.audit.verify().ok
    conn = sqlite3.connect(str(data_dir / "kms.db"))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
