"""iter_key_refs: what iter_keys gives of each key of an engine, and the same refusal of a row it cannot read."""

from __future__ import annotations

import sqlite3

import pytest

from store.key_query import ITER_BATCH


def _refs_of_records(store, engine_id: str) -> list[tuple]:
    return [(r.key_id, r.name, r.native_ref, r.status, r.public_key) for r in store.iter_keys(engine_id)]


def test_the_same_keys_in_the_same_order_as_iter_keys_across_batches(store, engine, make_engine, make_key):
    store.add_engine(make_engine("other"))
    for i in range(ITER_BATCH + 3):
        store.add_key(make_key(f"k{i:04d}", engine_id="other" if i % 7 == 0 else "golang-default",
                               native_ref=None if i % 5 == 0 else f"ref-{i}", status="missing" if i % 3 else "ok"))
    for engine_id in ("golang-default", "other", "nobody"):
        assert [tuple(ref) for ref in store.iter_key_refs(engine_id)] == _refs_of_records(store, engine_id)


@pytest.mark.parametrize(("column", "value"), [("tags", "[not json"), ("metadata", "{not json"), ("size", "big")])
def test_a_row_iter_keys_cannot_read_is_refused_alike(store, engine, make_key, column, value):
    for name in ("a", "b"):
        store.add_key(make_key(name, tags=["t"], metadata={"site": "x"}))
    conn = sqlite3.connect(str(store.path), isolation_level=None)
    conn.execute(f"UPDATE keys SET {column} = ? WHERE name = 'b'", (value,))
    conn.close()
    for rows in (store.iter_keys("golang-default"), store.iter_key_refs("golang-default")):
        with pytest.raises(ValueError):
            list(rows)
