"""list_keys / count_keys: every KeyQuery field, literal text matching, sorting, paging; stats."""

from __future__ import annotations

import pytest

from store import BINDINGS_KEY, InvalidValue, KeyQuery
from store.key_query import escape_like, where_clause

BOUND = {BINDINGS_KEY: [{"resource_type": "cert", "resource_id": "c1"}]}


@pytest.fixture
def keys(store, make_engine, make_key):
    """Seven keys over three engines of all three security levels."""
    store.add_engine(make_engine("soft", security_level=0))
    store.add_engine(make_engine("aws", security_level=1))
    store.add_engine(make_engine("hsm", security_level=2))
    # fmt: off
    specs = [
        # name, engine, algorithm, size, strength, private, bound, tags, aliases, key_id prefix, created
        ("Alpha", "soft", "RSA", 2048, "MEDIUM", True, True, ["prod"], ["ca-root"], "aa", "2024-01-05T00:00:00Z"),
        ("beta", "aws", "ECDSA", 384, "HIGH", True, False, ["edge"], [], "bb", "2024-01-01T00:00:00Z"),
        ("Gamma", "hsm", "Ed25519", 256, "HIGH", True, True, [], ["issuing"], "cc", "2024-01-03T00:00:00Z"),
        ("delta", "soft", "RSA", 1024, "LOW", False, False, ["legacy"], [], "dd", "2024-01-02T00:00:00Z"),
        ("100%-done", "soft", "ECDSA", 256, "MEDIUM", True, False, [], [], "ee", "2024-01-04T00:00:00Z"),
        ("100x-done", "aws", "ECDSA", 256, "MEDIUM", True, False, [], [], "ef", "2024-01-06T00:00:00Z"),
        ("o_brien' OR 1=1 --", "hsm", "RSA", 3072, "HIGH", True, False, ["a\\b"], [], "ff", "2024-01-07T00:00:00Z"),
    ]
    # fmt: on
    for name, eng, alg, size, strength, private, bound, tags, aliases, prefix, created in specs:
        store.add_key(
            make_key(
                name,
                engine_id=eng,
                algorithm=alg,
                size=size,
                strength=strength,
                has_private_key=private,
                metadata=BOUND if bound else {},
                tags=tags,
                aliases=aliases,
                key_id=prefix + "0" * 62,
                creation_ts=created,
            )
        )
    store.update_key("hsm", "cc" + "0" * 62, status="missing")
    return store


def names(store, **query) -> list[str]:
    found = [k.name for k in store.list_keys(KeyQuery(**query))]
    assert store.count_keys(KeyQuery(**query)) == len(found) or "limit" in query or "offset" in query
    return found


ALL = ["100%-done", "100x-done", "Alpha", "beta", "delta", "Gamma", "o_brien' OR 1=1 --"]


def test_no_filter_lists_all_sorted_by_name_case_insensitively(keys):
    assert names(keys) == ALL
    assert keys.count_keys(KeyQuery()) == 7 and keys.count_keys() == 7


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"engine_id": "soft"}, ["100%-done", "Alpha", "delta"]),
        ({"algorithm": "ECDSA"}, ["100%-done", "100x-done", "beta"]),
        ({"size": 256}, ["100%-done", "100x-done", "Gamma"]),
        ({"strength": "HIGH"}, ["beta", "Gamma", "o_brien' OR 1=1 --"]),
        ({"strength": "low"}, ["delta"]),
        ({"has_private_key": False}, ["delta"]),
        ({"has_private_key": True}, [n for n in ALL if n != "delta"]),
        ({"bound": True}, ["Alpha", "Gamma"]),
        ({"bound": False}, ["100%-done", "100x-done", "beta", "delta", "o_brien' OR 1=1 --"]),
        ({"status": "missing"}, ["Gamma"]),
        ({"status": "ok"}, [n for n in ALL if n != "Gamma"]),
        ({"engine_id": "soft", "algorithm": "RSA", "has_private_key": True}, ["Alpha"]),
        ({"engine_id": "nobody"}, []),
    ],
)
def test_each_filter(keys, query, expected):
    assert names(keys, **query) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ALPHA", ["Alpha"]),  # name, case-insensitive
        ("ca-ROOT", ["Alpha"]),  # alias
        ("issu", ["Gamma"]),  # alias substring
        ("EDGE", ["beta"]),  # tag
        ("bb", ["beta"]),  # key id prefix
        ("BB00", ["beta"]),  # key id prefix, any case
        ("0000", []),  # a key id substring that is not a prefix does not match
        ("%", ["100%-done"]),  # LIKE wildcards match literally
        ("100%", ["100%-done"]),
        ("_", ["o_brien' OR 1=1 --"]),
        ("o_b", ["o_brien' OR 1=1 --"]),
        ("' OR 1=1 --", ["o_brien' OR 1=1 --"]),
        ("\\", ["o_brien' OR 1=1 --"]),  # the backslash in its tag, not an escape
        ("x-d", ["100x-done"]),
        ("-done", ["100%-done", "100x-done"]),
        ("a\x1fb", []),  # control characters never match (nor bridge two parts)
        ("   ", ALL),  # blank text is no filter
        ("nothing-like-this", []),
    ],
)
def test_text_filter(keys, text, expected):
    assert names(keys, text=text) == expected


def test_text_filter_is_unicode_case_insensitive(store, engine, make_key):
    store.add_key(make_key("ÉCOLE-Ключ"))
    assert [k.name for k in store.list_keys(KeyQuery(text="école-ключ"))] == ["ÉCOLE-Ключ"]


def test_user_values_are_bound_parameters():
    sql, params = where_clause(KeyQuery(engine_id="x' OR '1'='1", text="50%_off", algorithm="RSA"))
    assert "x' OR" not in sql and "50" not in sql and "RSA" not in sql
    assert params == ["x' OR '1'='1", "RSA", "%50\\%\\_off%"]  # not hex: no key id can begin with it
    sql, params = where_clause(KeyQuery(engine_id="x' OR '1'='1", text="5Ab", algorithm="RSA"))
    assert "x' OR" not in sql and "5ab" not in sql.lower() and "RSA" not in sql
    assert params == ["x' OR '1'='1", "RSA", "%5ab%", "5ab%"]  # hex: a name part, or the start of a key id
    assert escape_like("a\\%_") == "a\\\\\\%\\_"


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("strength", ["delta", "100%-done", "100x-done", "Alpha", "beta", "Gamma", "o_brien' OR 1=1 --"]),
        ("size", ["100%-done", "100x-done", "Gamma", "beta", "delta", "Alpha", "o_brien' OR 1=1 --"]),
        ("algorithm", ["100%-done", "100x-done", "beta", "Gamma", "Alpha", "delta", "o_brien' OR 1=1 --"]),
        ("engine_id", ["100x-done", "beta", "Gamma", "o_brien' OR 1=1 --", "100%-done", "Alpha", "delta"]),
        ("creation_ts", ["beta", "delta", "Gamma", "100%-done", "Alpha", "100x-done", "o_brien' OR 1=1 --"]),
        ("key_id", ["Alpha", "beta", "Gamma", "delta", "100%-done", "100x-done", "o_brien' OR 1=1 --"]),
    ],
)
def test_sorting_with_name_tie_break_and_descending(keys, sort, expected):
    assert names(keys, sort=sort) == expected
    assert names(keys, sort=sort, descending=True) == expected[::-1]


def test_strength_sorts_by_rank_not_alphabet(keys):
    order = [k.strength for k in keys.list_keys(KeyQuery(sort="strength"))]
    assert order == ["LOW", "MEDIUM", "MEDIUM", "MEDIUM", "HIGH", "HIGH", "HIGH"]


def test_name_ties_break_case_insensitively_then_exactly(store, engine, make_key):
    for name in ("b", "B", "a", "A"):
        store.add_key(make_key(name))
    assert [k.name for k in store.list_keys(KeyQuery())] == ["A", "a", "B", "b"]


@pytest.mark.parametrize("sort", ["public_key", "name; DROP TABLE keys", "search", ""])
def test_sort_outside_the_whitelist_is_refused(keys, sort):
    with pytest.raises(InvalidValue) as err:
        keys.list_keys(KeyQuery(sort=sort))
    assert "strength" in err.value.hint
    assert keys.count_keys() == 7


def test_paging(keys):
    assert names(keys, limit=3) == ALL[:3]
    assert names(keys, limit=3, offset=3) == ALL[3:6]
    assert names(keys, limit=3, offset=6) == ALL[6:]
    assert names(keys, offset=5) == ALL[5:]
    assert names(keys, limit=0) == []
    assert names(keys, limit=2, offset=1, sort="strength", descending=True) == ["Gamma", "beta"]
    assert keys.count_keys(KeyQuery(limit=2, offset=1)) == 7  # paging does not change the count
    with pytest.raises(InvalidValue):
        keys.list_keys(KeyQuery(limit=-1))
    with pytest.raises(InvalidValue):
        keys.list_keys(KeyQuery(offset=-5))


def test_returned_records_carry_aliases(keys):
    (alpha,) = keys.list_keys(KeyQuery(text="alpha"))
    assert alpha.aliases == ["ca-root"] and alpha.bound and alpha.tags == ["prod"]


def test_stats(keys):
    assert keys.stats() == {
        "total": 7,
        "by_engine": {"aws": 2, "hsm": 2, "soft": 3},
        "by_algorithm": {"ECDSA": 3, "Ed25519": 1, "RSA": 3},
        "by_size": {
            "ECDSA 256": 2,
            "ECDSA 384": 1,
            "Ed25519 256": 1,
            "RSA 1024": 1,
            "RSA 2048": 1,
            "RSA 3072": 1,
        },
        "by_strength": {"HIGH": 3, "MEDIUM": 3, "LOW": 1},
        "by_security_level": {"SL0": 3, "SL1": 2, "SL2": 2},
        "bound": 2,
        "unbound": 5,
    }


def test_stats_of_an_empty_store(store):
    stats = store.stats()
    assert stats["total"] == 0 and stats["by_engine"] == {} and stats["by_size"] == {}
    assert stats["by_strength"] == {"HIGH": 0, "MEDIUM": 0, "LOW": 0}
    assert stats["by_security_level"] == {"SL0": 0, "SL1": 0, "SL2": 0}
    assert (stats["bound"], stats["unbound"]) == (0, 0)


def test_json_listing_built_by_sqlite_equals_the_records_to_json(store, engine, make_key):
    """`keys list --json` takes the SQLite-built JSON: it must be exactly KeyRecord.to_json()."""
    import json

    from store import KeyQuery
    from store.models import BINDINGS_KEY

    hostile = "[red]x[/red] \x1b]0;t\x07 \u202e\"quote\" \\ \n\t" + "é" * 50
    store.add_key(make_key("plain"))
    store.add_key(make_key(hostile, aliases=["zeta", "alpha", "Ünïcode"], tags=["b", "a", hostile],
                           metadata={"z": [1, 2.5, None, True], "a": {"nested": "x"},
                                     BINDINGS_KEY: [{"resource_type": "ca", "resource_id": "r1"}]}))
    store.add_key(make_key("pub-only", has_private_key=False, native_ref=None, state="PendingDeletion",
                           pkcs11_uri="pkcs11:token=t;object=o", status="missing",
                           metadata={BINDINGS_KEY: {"not": "a list"}}))
    for query in (KeyQuery(), KeyQuery(sort="name", descending=True, limit=2, offset=1), KeyQuery(text="quote")):
        records = [r.to_json() for r in store.list_keys(query)]
        assert [json.loads(t) for t in store.list_keys_json(query)] == records
        assert records
