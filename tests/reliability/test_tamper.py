"""Tampering: audit rows edited, deleted or reordered, and key files replaced on disk."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from engines.errors import KeyIntegrityError

ROWS = 8  # audit rows before tampering (1 = the first-run engine registration)
COLUMNS = "ts, action, engine_id, key_id, details, prev_hash, hash"


@pytest.fixture
def chain(kms):
    """A Kms whose audit log holds ROWS rows, and a raw connection to tamper with it."""
    for n in range(2, ROWS + 1):
        kms.context.store.audit.append("test.event", details={"n": n})
    assert kms.audit.verify().ok
    conn = sqlite3.connect(str(kms.context.store.path), isolation_level=None)
    yield kms, conn
    conn.close()


def _broken(kms):
    check = kms.audit.verify()
    assert not check.ok
    return check


@pytest.mark.parametrize("seq", [1, 2, ROWS // 2, ROWS - 1, ROWS])
@pytest.mark.parametrize("column, value", [("details", '{"n":999}'), ("action", "key.delete"),
                                           ("ts", "2000-01-01T00:00:00.000000Z"), ("hash", "f" * 64)])
def test_an_edited_row_is_named(chain, seq, column, value):
    kms, conn = chain
    conn.execute(f"UPDATE audit SET {column} = ? WHERE seq = ?", (value, seq))
    check = _broken(kms)
    # An edited hash is caught by the row's own hash check, or (last row) by the recorded head.
    assert check.first_broken == seq
    assert f"{seq}" in check.reason


@pytest.mark.parametrize("seq", [1, 2, ROWS // 2, ROWS - 1])
def test_a_deleted_row_is_named(chain, seq):
    kms, conn = chain
    conn.execute("DELETE FROM audit WHERE seq = ?", (seq,))
    check = _broken(kms)
    assert check.first_broken == seq + 1  # the first row whose link is wrong
    assert f"row {seq} was removed" in check.reason


def test_a_deleted_last_row_is_named(chain):
    kms, conn = chain
    conn.execute("DELETE FROM audit WHERE seq = ?", (ROWS,))
    check = _broken(kms)
    assert check.first_broken == ROWS
    assert f"Row {ROWS} was removed at the end" in check.reason


def test_a_rewritten_tail_with_its_head_is_still_caught_in_the_middle(chain):
    """Deleting rows in the middle and renumbering the rest keeps the seqs dense: the links break."""
    kms, conn = chain
    conn.execute("DELETE FROM audit WHERE seq = 3")
    conn.execute("UPDATE audit SET seq = seq - 1 WHERE seq > 3")
    check = _broken(kms)
    assert check.first_broken == 3


@pytest.mark.parametrize("first, second", [(1, 2), (1, ROWS), (ROWS // 2, ROWS // 2 + 1), (ROWS - 1, ROWS), (2, 6)])
def test_reordered_rows_are_named(chain, first, second):
    kms, conn = chain
    rows = {seq: conn.execute(f"SELECT {COLUMNS} FROM audit WHERE seq = ?", (seq,)).fetchone()
            for seq in (first, second)}
    sets = ", ".join(f"{c} = ?" for c in COLUMNS.split(", "))
    conn.execute("BEGIN")
    conn.execute(f"UPDATE audit SET {sets} WHERE seq = ?", (*rows[second], first))
    conn.execute(f"UPDATE audit SET {sets} WHERE seq = ?", (*rows[first], second))
    conn.execute("COMMIT")
    check = _broken(kms)
    assert check.first_broken == first
    assert f"{first}" in check.reason


def test_cli_audit_verify_exits_1_and_names_the_row(chain, capsys):
    from argparse import Namespace

    from kms_tui.cli.misc_cmds import audit_verify

    kms, conn = chain
    conn.execute("UPDATE audit SET details = '{}' WHERE seq = 5")
    assert audit_verify(kms, Namespace(json=False)) == 1
    assert "BROKEN at row 5" in capsys.readouterr().out


# --------------------------------------------------------------- key files


def _key_file(kms, record):
    return kms.data_dir / "keys" / record.engine_id / record.native_ref


def test_a_key_file_replaced_by_another_key_is_refused_for_signing(kms):
    victim = kms.keys.create("ECDSA", 256, "victim")
    other = kms.keys.create("Ed25519", 256, "other")
    assert kms.signing.sign("victim", "ECDSA_SHA_256", b"before")
    kms.context.driver(victim.engine_id)._cache.clear()  # a fresh process: nothing decrypted yet
    shutil.copyfile(_key_file(kms, other), _key_file(kms, victim))
    with pytest.raises(KeyIntegrityError) as info:
        kms.signing.sign("victim", "ECDSA_SHA_256", b"after")
    assert victim.key_id[:16] in info.value.message and other.key_id[:16] in info.value.message
    assert info.value.title == "Key does not match its id"
    # The other key still signs; doctor names the replaced one.
    assert kms.signing.sign("other", "ED25519", b"x")
    report = kms.doctor.run()
    (finding,) = [f for f in report.findings if f.subject == "victim"]
    assert finding.severity == "error" and "replaced" in finding.message


def test_a_replaced_key_file_is_noticed_even_after_it_was_cached(kms):
    victim = kms.keys.create("ECDSA", 256, "victim")
    kms.signing.sign("victim", "ECDSA_SHA_256", b"warm the cache")
    outsider = kms.context.driver("golang-default")  # a key made elsewhere, copied in over the victim
    foreign = outsider.create("ECDSA", 256)
    path = _key_file(kms, victim)
    shutil.copyfile(path.with_name(foreign.ref), path)
    with pytest.raises(KeyIntegrityError):
        kms.signing.sign("victim", "ECDSA_SHA_256", b"after")


def test_a_replaced_key_file_is_not_adopted_by_sync(kms):
    victim = kms.keys.create("ECDSA", 256, "victim")
    foreign = kms.context.driver("golang-default").create("Ed25519", 256)
    path = _key_file(kms, victim)
    shutil.move(path.with_name(foreign.ref), path)
    report = kms.inventory.sync("golang-default")[0]
    assert report.adopted == []  # the foreign key is not taken in under the victim's name
    assert report.missing == [victim.key_id]
