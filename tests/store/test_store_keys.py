"""Key rows: CRUD, uniqueness conflicts, aliases, hostile names, transactions."""

from __future__ import annotations

import re

import pytest

from store import BINDINGS_KEY, Conflict, InvalidValue, KeyQuery, NotFound


def names(store, **query) -> list[str]:
    return [k.name for k in store.list_keys(KeyQuery(**query))]


def test_add_and_get_round_trip(store, engine, make_key):
    rec = make_key(
        "ca-root",
        algorithm="RSA",
        size=4096,
        strength="HIGH",
        native_ref="ca-root.pem",
        pkcs11_uri="pkcs11:token=prod;id=%01;object=ca-root;type=private",
        tags=["prod", "ça"],
        metadata={"owner": {"team": "pki"}, BINDINGS_KEY: [{"resource_type": "CA", "resource_id": "root"}]},
        aliases=["root", "anchor"],
        state="Enabled",
    )
    added = store.add_key(rec)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", added.creation_ts)
    assert added.aliases == ["anchor", "root"]  # sorted on read
    expected = {**rec.to_json(), "creation_ts": added.creation_ts, "aliases": ["anchor", "root"]}
    assert added.to_json() == expected and added.bound
    assert store.get_key(engine.id, rec.key_id) == added
    assert store.keys_by_key_id(rec.key_id) == [added]
    assert store.key_by_name("ca-root") == added
    assert store.key_by_alias("anchor") == added
    assert store.key_by_native_ref(engine.id, "ca-root.pem") == added
    assert store.key_by_pkcs11_uri(rec.pkcs11_uri) == added
    assert store.key_by_name("nope") is None and store.key_by_alias("nope") is None
    assert (
        store.key_by_native_ref("other", "ca-root.pem") is None
        and store.key_by_pkcs11_uri("pkcs11:x") is None
    )


def test_given_creation_ts_is_kept(store, engine, make_key):
    assert (
        store.add_key(make_key("k", creation_ts="2020-02-02T02:02:02Z")).creation_ts == "2020-02-02T02:02:02Z"
    )


def test_duplicate_name_is_a_specific_conflict(store, engine, make_key):
    first = store.add_key(make_key("web"))
    with pytest.raises(Conflict) as err:
        store.add_key(make_key("web", key_id="f" * 64))
    assert "A key named 'web' already exists" in err.value.message and first.key_id in err.value.message
    assert store.count_keys() == 1


def test_same_key_id_conflicts_on_one_engine_but_not_across_engines(store, engine, make_key, make_engine):
    store.add_engine(make_engine("hsm"))
    store.add_key(make_key("a", key_id="ab" * 32))
    with pytest.raises(
        Conflict, match=f"Key {'ab' * 32} is already recorded on engine 'golang-default' as 'a'"
    ):
        store.add_key(make_key("b", key_id="ab" * 32))
    store.add_key(make_key("b", key_id="ab" * 32, engine_id="hsm"))
    assert [k.engine_id for k in store.keys_by_key_id("ab" * 32)] == ["golang-default", "hsm"]


def test_unknown_engine_and_bad_values_are_refused(store, engine, make_key):
    with pytest.raises(NotFound, match="'ghost'"):
        store.add_key(make_key("k", engine_id="ghost"))
    with pytest.raises(InvalidValue, match="strength"):
        store.add_key(make_key("k", strength="EXTREME"))
    with pytest.raises(InvalidValue, match="status"):
        store.add_key(make_key("k", status="gone"))
    with pytest.raises(InvalidValue, match="size"):
        store.add_key(make_key("k", size=-1))
    assert store.count_keys() == 0


def test_get_key_not_found_names_other_engines(store, engine, make_key, make_engine):
    store.add_engine(make_engine("hsm"))
    key = store.add_key(make_key("k", engine_id="hsm"))
    with pytest.raises(NotFound) as err:
        store.get_key(engine.id, key.key_id)
    assert err.value.hint == "It is recorded on: hsm."
    with pytest.raises(NotFound):
        store.get_key(engine.id, "0" * 64)


def test_aliases_are_globally_unique_and_never_a_name(store, engine, make_key):
    a = store.add_key(make_key("key-a", aliases=["ca-root"]))
    b = store.add_key(make_key("key-b"))
    with pytest.raises(Conflict, match="The alias 'ca-root' already belongs to key 'key-a'"):
        store.add_alias(engine.id, b.key_id, "ca-root")
    with pytest.raises(Conflict, match="'key-a' is the name of key 'key-a'"):
        store.add_alias(engine.id, b.key_id, "key-a")
    with pytest.raises(Conflict, match="'key-b' is the name of key 'key-b'"):
        store.add_alias(engine.id, b.key_id, "key-b")  # not even its own name
    with pytest.raises(Conflict, match="'ca-root' is already an alias of key 'key-a'"):
        store.add_key(make_key("ca-root"))
    with pytest.raises(Conflict, match="already belongs to key 'key-a'"):
        store.add_key(make_key("key-c", aliases=["fresh", "ca-root"]))
    assert store.key_by_alias("fresh") is None and store.key_by_name("key-c") is None  # all or nothing
    with pytest.raises(Conflict, match="'key-b' is the name of key 'key-b'"):
        store.add_key(make_key("key-d", aliases=["key-b"]))

    assert store.add_alias(engine.id, b.key_id, "issuing").aliases == ["issuing"]
    assert store.remove_alias("ca-root").name == "key-a"
    assert store.get_key(engine.id, a.key_id).aliases == []
    assert store.add_alias(engine.id, b.key_id, "ca-root").aliases == ["ca-root", "issuing"]
    with pytest.raises(NotFound, match="No alias 'ca-root2'"):
        store.remove_alias("ca-root2")
    with pytest.raises(NotFound):
        store.add_alias(engine.id, "0" * 64, "x")


def test_duplicate_aliases_in_one_record_are_merged(store, engine, make_key):
    assert store.add_key(make_key("k", aliases=["x", "x", " x "])).aliases == ["x"]


@pytest.mark.parametrize(
    "bad", ["", "  ", "a" * 16_385, "nul\x00"]
)
def test_bad_aliases_and_tags_are_refused(store, engine, make_key, bad):
    key = store.add_key(make_key("k"))
    with pytest.raises(InvalidValue):
        store.add_alias(engine.id, key.key_id, bad)
    with pytest.raises(InvalidValue):
        store.add_key(make_key("k2", aliases=[bad]))
    with pytest.raises(InvalidValue):
        store.update_key(engine.id, key.key_id, tags=[bad])
    assert store.get_key(engine.id, key.key_id).aliases == [] and store.count_keys() == 1


@pytest.mark.parametrize(
    "name", ["[bold red]x[/]", "\u200fمفتاح\u200e", "x" * 255, "ключ 🔑", "' OR 1=1 --", "a%b_c\\d"]
)
def test_hostile_but_printable_names_are_stored_literally(store, engine, make_key, name):
    key = store.add_key(make_key(name))
    assert key.name == name
    assert store.key_by_name(name).name == name
    assert names(store, text=name) == [name]


@pytest.mark.parametrize("name", ["\x1b]0;evil\x07", "\x1b[31mred", "tab\there", "line\nbreak", "x" * 10_000])
def test_escape_sequences_and_long_names_are_stored_literally(store, engine, make_key, name):
    key = store.add_key(make_key(name))
    assert key.name == name
    assert store.key_by_name(name).key_id == key.key_id


@pytest.mark.parametrize("name", ["nul\x00", "x" * 16_385, "", " \t ", "\n"])
def test_nul_blank_and_absurdly_long_names_are_refused(store, engine, make_key, name):
    with pytest.raises(InvalidValue) as err:
        store.add_key(make_key(name))
    assert "\x1b" not in str(err.value)  # the error never echoes an escape sequence
    assert store.count_keys() == 0


def test_names_are_stripped(store, engine, make_key):
    assert store.add_key(make_key("  padded  ")).name == "padded"
    assert store.key_by_name("padded") is not None


def test_update_key_fields_and_derived_columns(store, engine, make_key):
    key = store.add_key(make_key("old", tags=["blue"]))
    other = store.add_key(make_key("other", aliases=["taken"]))
    assert names(store, bound=True) == []
    updated = store.update_key(
        engine.id,
        key.key_id,
        name="new",
        tags=["green"],
        metadata={
            BINDINGS_KEY: [
                {"resource_type": "cert", "resource_id": "1"},
                {"resource_type": "cert", "resource_id": "2"},
            ]
        },
        status="missing",
        state="PendingDeletion",
        native_ref="file.pem",
        pkcs11_uri="pkcs11:id=%02",
    )
    assert (updated.name, updated.tags, updated.status, updated.state) == (
        "new",
        ["green"],
        "missing",
        "PendingDeletion",
    )
    assert (
        updated.native_ref == "file.pem"
        and updated.pkcs11_uri == "pkcs11:id=%02"
        and len(updated.bindings) == 2
    )
    assert store._conn.scalar("SELECT bound FROM keys WHERE name = 'new'") == 2
    assert names(store, bound=True) == ["new"]
    assert names(store, text="green") == ["new"] and names(store, text="blue") == []
    assert names(store, text="old") == [] and store.key_by_name("old") is None
    store.update_key(engine.id, key.key_id, metadata={})
    assert names(store, bound=True) == []

    with pytest.raises(Conflict, match="A key named 'other'"):
        store.update_key(engine.id, key.key_id, name="other")
    with pytest.raises(Conflict, match="'taken' is already an alias of key 'other'"):
        store.update_key(engine.id, key.key_id, name="taken")
    assert store.update_key(engine.id, key.key_id, name="new").name == "new"  # its own name is fine
    with pytest.raises(InvalidValue, match="aliases"):
        store.update_key(engine.id, key.key_id, aliases=["x"])
    with pytest.raises(InvalidValue):
        store.update_key(engine.id, key.key_id, status="weird")
    with pytest.raises(NotFound):
        store.update_key(engine.id, "0" * 64, name="x")
    assert store.get_key(engine.id, other.key_id).name == "other"


def test_delete_key_frees_its_name_and_aliases(store, engine, make_key):
    key = store.add_key(make_key("k", aliases=["a1"]))
    store.delete_key(engine.id, key.key_id)
    with pytest.raises(NotFound):
        store.get_key(engine.id, key.key_id)
    with pytest.raises(NotFound):
        store.delete_key(engine.id, key.key_id)
    assert store.key_by_alias("a1") is None
    store.add_key(make_key("a1", aliases=["k"]))  # both strings are free again


def test_transaction_commits_or_rolls_back_everything(store, engine, make_key):
    with pytest.raises(RuntimeError), store.transaction():
        store.add_key(make_key("k1"))
        store.audit.append("key.create", key_id="k1")
        raise RuntimeError("engine failed")
    assert store.count_keys() == 0 and store.audit.count() == 0

    with store.transaction():
        store.add_key(make_key("k1"))
        with pytest.raises(Conflict):
            # A failing nested call is undone on its own: its key row must not survive.
            store.add_key(make_key("k2", aliases=["k1"]))
        store.audit.append("key.create", key_id="k1")
    assert names(store) == ["k1"] and store.audit.count() == 1 and store.audit.verify().ok


def test_iter_keys_pages_through_everything(store, engine, make_key, make_engine, monkeypatch):
    from store import key_query

    monkeypatch.setattr(key_query, "ITER_BATCH", 3)
    store.add_engine(make_engine("other"))
    for i in range(8):
        store.add_key(make_key(f"k{i}", engine_id="other" if i % 4 == 0 else engine.id, aliases=[f"a{i}"]))
    everything = list(store.iter_keys())
    assert [k.name for k in everything] == [f"k{i}" for i in range(8)]
    assert everything[5].aliases == ["a5"]
    assert [k.name for k in store.iter_keys("other")] == ["k0", "k4"]
    assert list(store.iter_keys("nobody")) == []


def test_security_level_filter_picks_the_keys_of_engines_at_that_level(store, engine, make_key):
    from tests.store.conftest import engine_record

    store.add_engine(engine_record("hsm", type="PKCS11", security_level=2))
    store.add_key(make_key("soft-key"))
    store.add_key(make_key("hsm-key", engine_id="hsm"))
    assert names(store, security_level=2) == ["hsm-key"]
    assert names(store, security_level=0) == ["soft-key"]
    assert names(store, security_level=1) == []
    assert store.count_keys(KeyQuery(security_level=2, text="soft")) == 0
    store.update_engine("hsm", security_level=1)  # the level is the engine's now, never a copy on the key
    assert names(store, security_level=1) == ["hsm-key"] and names(store, security_level=2) == []
    with pytest.raises(InvalidValue):
        names(store, security_level=-1)
