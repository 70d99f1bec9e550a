"""iter_keys_json / iter_keys_matching: the listing read a page at a time, equal to the whole listing."""

from __future__ import annotations

import json

import pytest

from store import InvalidValue, KeyQuery

QUERIES = (
    KeyQuery(),
    KeyQuery(sort="size", descending=True),
    KeyQuery(sort="creation_ts", limit=4, offset=1),
    KeyQuery(text="key-0"),
    KeyQuery(engine_id="nobody"),
)


@pytest.fixture
def seven(store, engine, make_key):
    for i, size in enumerate((256, 384, 256, 521, 256, 384, 256)):
        store.add_key(make_key(f"key-{i:02d}" if i % 2 else f"Key-{i:02d}", size=size, tags=[f"t{i % 3}"],
                               aliases=[f"alias-{i}"] if i % 3 == 0 else []))
    return store


@pytest.mark.parametrize("page", [1, 2, 3, 7, 500])
def test_every_key_comes_across_page_boundaries_in_the_listing_order(seven, page):
    for query in QUERIES:
        assert list(seven.iter_keys_json(query, page)) == seven.list_keys_json(query)
        assert [r.to_json() for r in seven.iter_keys_matching(query, page)] == [
            r.to_json() for r in seven.list_keys(query)]
    assert len(list(seven.iter_keys_json(KeyQuery(), page))) == 7


def test_pages_are_read_as_the_consumer_asks_for_them(seven):
    """A key deleted after the first page was read is left out; nothing is read twice."""
    everyone = [k.name for k in seven.list_keys(KeyQuery())]
    stream = seven.iter_keys_json(KeyQuery(), 2)
    first = [json.loads(next(stream)) for _ in range(2)]
    gone = seven.list_keys(KeyQuery())[5]
    seven.delete_key(gone.engine_id, gone.key_id)
    rest = [json.loads(t) for t in stream]
    assert [k["name"] for k in first + rest] == [name for name in everyone if name != gone.name]


@pytest.mark.parametrize("page", [0, -1, True, 2**70])
def test_a_page_size_that_cannot_be_is_refused(seven, page):
    with pytest.raises(InvalidValue):
        next(seven.iter_keys_json(KeyQuery(), page))


def test_name_from_keeps_the_keys_sorting_at_or_after_it_case_insensitively(seven):
    everyone = [k.name for k in seven.list_keys(KeyQuery())]
    assert everyone == ["Key-00", "key-01", "Key-02", "key-03", "Key-04", "key-05", "Key-06"]
    for start in ("key-03", "KEY-03", "Key-03", ""):
        assert [k.name for k in seven.list_keys(KeyQuery(name_from=start))] == (everyone[3:] if start else everyone)
    assert [k.name for k in seven.list_keys(KeyQuery(text="key-0", name_from="key-05"))] == ["key-05", "Key-06"]
    assert seven.count_keys(KeyQuery(text="key", name_from="key-05")) == 2
    assert [k.name for k in seven.list_keys(KeyQuery(name_from="l"))] == []
