"""The hash-chained audit log: appending, reading, and detecting tampering."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3

import pytest

from store import AuditLog, InvalidValue

GENESIS = "0" * 64


def expected_hash(row) -> str:
    body = json.dumps(
        {
            "seq": row.seq,
            "ts": row.ts,
            "action": row.action,
            "engine_id": row.engine_id,
            "key_id": row.key_id,
            "details": row.details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((row.prev_hash + body).encode()).hexdigest()


def tamper(store, sql, *params) -> None:
    """Edit the database behind the store's back, as an attacker with file access would."""
    con = sqlite3.connect(store.path)
    try:
        with con:
            con.execute(sql, params)
    finally:
        con.close()


@pytest.fixture
def five(store):
    for i in range(1, 6):
        store.audit.append("key.sign", engine_id="e", key_id=f"k{i}", details={"n": i, "note": "über"})
    return store


def test_append_builds_a_chain(store):
    assert isinstance(store.audit, AuditLog)
    first = store.audit.append("engine.add", engine_id="soft", details={"z": 1, "a": [1, "ü"]})
    second = store.audit.append("key.create", engine_id="soft", key_id="ab" * 32)
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash
    assert first.hash == expected_hash(first) and second.hash == expected_hash(second)
    assert second.details == {}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first.ts)
    assert store.audit.list() == [second, first]  # newest first by default
    assert store._conn.scalar("SELECT value FROM meta WHERE key = 'audit_head'") == f"2:{second.hash}"


def test_list_and_count_filters(five):
    audit = five.audit
    five.audit.append("engine.remove", engine_id="other")
    assert audit.count() == 6
    assert [r.seq for r in audit.list(newest_first=False)] == [1, 2, 3, 4, 5, 6]
    assert [r.seq for r in audit.list(limit=2)] == [6, 5]
    assert [r.seq for r in audit.list(limit=2, offset=2, newest_first=False)] == [3, 4]
    assert [r.seq for r in audit.list(key_id="k3")] == [3]
    assert [r.seq for r in audit.list(engine_id="other")] == [6]
    assert audit.count(action="key.sign") == 5 and audit.count(action="key.sign", key_id="k1") == 1
    assert audit.count(engine_id="nobody") == 0
    assert audit.list(key_id="k2")[0].details == {"n": 2, "note": "über"}
    with pytest.raises(InvalidValue):
        audit.list(limit=-1)


def test_bad_appends_are_refused_and_leave_no_row(store):
    with pytest.raises(InvalidValue):
        store.audit.append("x", details={"when": object()})
    with pytest.raises(InvalidValue):
        store.audit.append("  ")
    with pytest.raises(InvalidValue):
        store.audit.append("x", details=["not", "a", "dict"])
    assert store.audit.count() == 0 and store.audit.verify().ok


def test_intact_chain_verifies(five):
    check = five.audit.verify()
    assert check.ok and check.rows == 5 and check.first_broken is None and check.reason is None


def test_empty_log_verifies(store):
    check = store.audit.verify()
    assert check.ok and check.rows == 0


def test_altered_details_are_detected_at_that_row(five):
    tamper(five, "UPDATE audit SET details = ? WHERE seq = 3", json.dumps({"n": 300, "note": "über"}))
    check = five.audit.verify()
    assert not check.ok and check.first_broken == 3 and "Row 3 was altered" in check.reason


@pytest.mark.parametrize(
    ("column", "value"), [("action", "key.delete"), ("key_id", "k9"), ("ts", "2000-01-01T00:00:00.000000Z")]
)
def test_any_altered_column_is_detected(five, column, value):
    tamper(five, f"UPDATE audit SET {column} = ? WHERE seq = 2", value)
    check = five.audit.verify()
    assert (check.ok, check.first_broken) == (False, 2)


def test_unreadable_details_count_as_altered(five):
    tamper(five, "UPDATE audit SET details = 'not json' WHERE seq = 4")
    assert five.audit.verify().first_broken == 4


def test_deleted_middle_row_is_named_at_the_break(five):
    tamper(five, "DELETE FROM audit WHERE seq = 3")
    check = five.audit.verify()
    assert not check.ok and check.first_broken == 4 and check.rows == 4
    assert "row 3 was removed before it" in check.reason


def test_deleted_first_rows_are_detected(five):
    tamper(five, "DELETE FROM audit WHERE seq IN (1, 2)")
    check = five.audit.verify()
    assert check.first_broken == 3 and "rows 1-2 were removed" in check.reason


def test_deleted_last_row_is_detected_through_the_head(five):
    tamper(five, "DELETE FROM audit WHERE seq = 5")
    check = five.audit.verify()
    assert not check.ok and check.first_broken == 5
    assert "Row 5 was removed at the end" in check.reason


def test_deleted_tail_of_two_rows(five):
    tamper(five, "DELETE FROM audit WHERE seq >= 4")
    check = five.audit.verify()
    assert check.first_broken == 4 and "Rows 4-5 were removed" in check.reason


def test_all_rows_deleted_is_detected(five):
    tamper(five, "DELETE FROM audit")
    check = five.audit.verify()
    assert not check.ok and check.first_broken == 1 and check.rows == 0


def test_appending_after_a_truncation_does_not_hide_it(five):
    tamper(five, "DELETE FROM audit WHERE seq = 5")
    row = five.audit.append("key.create")
    assert row.seq == 6  # chained off the recorded head, not the surviving rows
    check = five.audit.verify()
    assert not check.ok and check.first_broken == 6 and "row 5 was removed" in check.reason


def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_next_link(five):
    (row,) = [r for r in five.audit.list(newest_first=False) if r.seq == 2]
    row.details = {"n": 999}
    tamper(
        five,
        "UPDATE audit SET details = ?, hash = ? WHERE seq = 2",
        json.dumps(row.details),
        expected_hash(row),
    )
    check = five.audit.verify()
    assert check.first_broken == 3 and "removed or replaced" in check.reason


def test_rows_added_behind_the_logs_back_are_reported(five):
    (last,) = five.audit.list(limit=1)
    forged = last.__class__(6, last.ts, "key.delete", None, None, {}, last.hash, "")
    forged.hash = expected_hash(forged)  # a perfectly chained forgery, but the head was not moved
    tamper(
        five,
        "INSERT INTO audit (seq, ts, action, engine_id, key_id, details, prev_hash, hash) "
        "VALUES (?, ?, ?, NULL, NULL, '{}', ?, ?)",
        forged.seq,
        forged.ts,
        forged.action,
        forged.prev_hash,
        forged.hash,
    )
    check = five.audit.verify()
    assert not check.ok and check.first_broken == 6 and "Row 6 was added" in check.reason


def test_a_rewritten_last_row_is_caught_by_the_head(five):
    (last,) = five.audit.list(limit=1)
    last.details = {"n": 0}
    last.hash = expected_hash(last)
    tamper(five, "UPDATE audit SET details = '{\"n\":0}', hash = ? WHERE seq = 5", last.hash)
    check = five.audit.verify()
    assert not check.ok and check.first_broken == 5 and "replaced" in check.reason


def test_a_missing_head_is_reported(five):
    tamper(five, "DELETE FROM meta WHERE key = 'audit_head'")
    check = five.audit.verify()
    assert not check.ok and "audit_head" in check.reason


def test_append_joins_an_outer_transaction(store):
    store.audit.append("first")
    with pytest.raises(KeyError), store.transaction():
        store.audit.append("second")
        raise KeyError("the state change failed")
    assert [r.action for r in store.audit.list()] == ["first"]
    assert store.audit.verify().ok
    assert store.audit.append("third").seq == 2
    assert store.audit.verify().ok


# --- keys as the log knows them (deleted ones too) ----------------------------------

KID = "ab" * 32


@pytest.fixture
def renamed(store):
    """Key KID on engine e: created as old-name, renamed, given an alias, deleted; also on engine f."""
    log = store.audit
    log.append("key.create", engine_id="e", key_id=KID, details={"name": "old-name"})
    log.append("key.sign", engine_id="e", key_id=KID, details={"algorithm": "x"})
    log.append("key.rename", engine_id="e", key_id=KID, details={"from": "old-name", "to": "new-name"})
    log.append("key.alias.add", engine_id="e", key_id=KID, details={"alias": "the-alias"})
    log.append("key.delete", engine_id="e", key_id=KID, details={"name": "new-name", "aliases": ["born-alias"]})
    log.append("key.import", engine_id="f", key_id=KID, details={"name": "copy"})
    log.append("engine.secret.reveal", engine_id="e", details={"from": "old-name"})  # not a key row
    return store


@pytest.mark.parametrize("text", ["old-name", "new-name", "the-alias", "born-alias"])
def test_a_deleted_key_is_known_by_every_name_it_had(renamed, text):
    assert renamed.audit.known_as(text) == [("e", KID)]


def test_known_as_matches_whole_names_only(renamed):
    assert renamed.audit.known_as("new") == [] and renamed.audit.known_as("copy") == [("f", KID)]


def test_engines_of_a_key_id(renamed):
    assert renamed.audit.engines_of(KID) == ["e", "f"]
    assert renamed.audit.engines_of("cd" * 32) == []


def test_rows_carry_the_last_name_of_a_deleted_key(renamed):
    rows = renamed.audit.list(keys=[("e", KID)])
    assert [r.action for r in rows] == ["key.delete", "key.alias.add", "key.rename", "key.sign", "key.create"]
    assert {r.key_name for r in rows} == {"new-name"}
    assert renamed.audit.list(keys=[("f", KID)])[0].key_name == "copy"
    assert renamed.audit.count(keys=[("e", KID), ("f", KID)]) == 6
    assert renamed.audit.list(keys=[]) == [] and renamed.audit.count(keys=[]) == 0
    assert renamed.audit.list(1)[0].key_name is None  # an engine row names no key


def test_rows_carry_the_live_name_first(renamed, make_key, make_engine):
    renamed.add_engine(make_engine("e"))
    renamed.add_key(make_key("live-name", key_id=KID, engine_id="e"))
    assert renamed.audit.list(keys=[("e", KID)])[0].key_name == "live-name"
    assert "key_name" in renamed.audit.list(1)[0].to_json()


def test_a_row_edited_into_non_json_is_kept_out_of_the_name_indexes(renamed):
    tamper(renamed, "UPDATE audit SET details = 'not json' WHERE seq = 1")
    assert renamed.audit.known_as("old-name") == [("e", KID)]  # the rename row still says so
    assert not renamed.audit.verify().ok


@pytest.mark.parametrize("sql, params, index", [
    ("SELECT engine_id, key_id FROM audit WHERE key_id IS NOT NULL AND json_valid(details) "
     "AND json_extract(details, '$.alias') = ?", ["x"], "audit_named_alias"),
    ("SELECT engine_id FROM audit WHERE key_id = ? AND engine_id > ? ORDER BY engine_id LIMIT 1",
     [KID, ""], "audit_by_key_engine"),
    ("SELECT seq FROM audit WHERE (key_id, engine_id) IN (VALUES (?, ?)) ORDER BY seq DESC LIMIT 5",
     [KID, "e"], "audit_by_key_engine"),
    ("SELECT engine_id, key_id FROM audit INDEXED BY audit_named_aliases "
     "WHERE key_id IS NOT NULL AND json_valid(details) AND json_type(details, '$.aliases') = 'array' "
     "AND EXISTS (SELECT 1 FROM json_each(details, '$.aliases') WHERE value = ?)", ["x"], "audit_named_aliases"),
])
def test_key_lookups_are_indexed(renamed, sql, params, index):
    plan = " ".join(str(r[3]) for r in sqlite3.connect(renamed.path).execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan
