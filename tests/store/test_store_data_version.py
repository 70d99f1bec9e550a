"""``Store.data_version``: what a screen polls to follow the database, whoever commits."""

from __future__ import annotations

from store import Store


def test_it_moves_for_this_connection_and_for_others(tmp_path):
    mine, other = Store(tmp_path / "data"), Store(tmp_path / "data")
    try:
        start = mine.data_version()
        assert start is not None and mine.data_version() == start  # nothing committed, nothing moved
        mine.set_meta("a", "1")  # this store's own connection
        own = mine.data_version()
        assert own != start
        other.set_meta("a", "2")  # another connection, as the CLI has
        assert mine.data_version() not in (start, own)
        with mine.transaction():  # inside a write transaction: nothing to see until it commits
            mine.set_meta("b", "1")
            before_commit = mine.data_version()
        assert mine.data_version() != before_commit
    finally:
        other.close()
        mine.close()


def test_a_closed_store_answers_none(tmp_path):
    store = Store(tmp_path / "data")
    assert store.data_version() is not None
    store.close()
    assert store.data_version() is None  # the app's timer may look once more after the Kms closed
