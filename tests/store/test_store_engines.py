"""Engine rows: CRUD, validation and the exactly-one-default rule."""

from __future__ import annotations

import re

import pytest

from store import Conflict, InvalidValue, NotFound


def defaults(store) -> list[str]:
    return [row["id"] for row in store._conn.rows("SELECT id FROM engines WHERE is_default = 1")]


def test_first_engine_becomes_default_and_round_trips(store, make_engine):
    rec = make_engine(
        "pkcs11-prod-hsm",
        type="PKCS11",
        security_level=2,
        config={"module": "/usr/lib/softhsm/libsofthsm2.so", "token": "prod"},
        has_secret=True,
        supported_key_types={"RSA": [2048, 3072], "ECDSA": [256, 384]},
    )
    added = store.add_engine(rec)
    assert added.is_default and defaults(store) == ["pkcs11-prod-hsm"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", added.created_ts)
    got = store.get_engine("pkcs11-prod-hsm")
    assert got == added
    assert got.config == rec.config and got.supported_key_types == rec.supported_key_types
    assert got.has_secret and got.security_level == 2 and got.type == "PKCS11"


def test_later_engines_are_not_default_unless_asked(store, make_engine):
    store.add_engine(make_engine("b"))
    assert not store.add_engine(make_engine("a")).is_default
    assert store.add_engine(make_engine("c", is_default=True)).is_default
    assert defaults(store) == ["c"]
    assert [e.id for e in store.list_engines()] == ["c", "a", "b"]  # default first, then by id


def test_duplicate_id_is_a_conflict(store, make_engine):
    store.add_engine(make_engine("e1"))
    with pytest.raises(Conflict, match="'e1' is already registered"):
        store.add_engine(make_engine("e1", name="other"))
    assert len(store.list_engines()) == 1


def test_unknown_engine_hint_lists_known_ids(store, make_engine):
    with pytest.raises(NotFound) as err:
        store.get_engine("nope")
    assert "No engine is registered" in err.value.hint
    store.add_engine(make_engine("beta"))
    store.add_engine(make_engine("alpha"))
    with pytest.raises(NotFound) as err:
        store.get_engine("nope")
    assert "'nope'" in err.value.message and err.value.hint == "Known engines: alpha, beta."


def test_set_default_keeps_exactly_one(store, make_engine):
    for engine_id in ("a", "b", "c"):
        store.add_engine(make_engine(engine_id))
    store.set_default_engine("c")
    assert defaults(store) == ["c"] and store.default_engine().id == "c"
    store.set_default_engine("c")  # idempotent
    store.set_default_engine("b")
    assert defaults(store) == ["b"]
    with pytest.raises(NotFound):
        store.set_default_engine("zzz")
    assert defaults(store) == ["b"]


def test_removing_the_default_passes_it_on(store, make_engine, make_key):
    for engine_id in ("m", "b", "z"):
        store.add_engine(make_engine(engine_id))
    assert store.default_engine().id == "m"
    store.add_key(make_key("k1", engine_id="m", aliases=["one"]))
    store.add_key(make_key("k2", engine_id="m"))
    store.add_key(make_key("k3", engine_id="z"))
    assert store.remove_engine("m") == 2
    assert store.default_engine().id == "b"  # lowest remaining id
    assert store.count_keys_by_engine() == {"b": 0, "z": 1}
    assert store.key_by_alias("one") is None
    assert store._conn.scalar("SELECT COUNT(*) FROM aliases") == 0  # cascaded through the key rows
    store.remove_engine("z")
    store.remove_engine("b")
    assert store.default_engine() is None and store.list_engines() == []
    with pytest.raises(NotFound):
        store.remove_engine("b")


def test_removing_a_non_default_keeps_the_default(store, make_engine):
    store.add_engine(make_engine("a"))
    store.add_engine(make_engine("b"))
    store.remove_engine("b")
    assert defaults(store) == ["a"]


def test_update_engine(store, make_engine):
    store.add_engine(make_engine("e"))
    updated = store.update_engine("e", name="Renamed", config={"directory": "/x"}, has_secret=True)
    assert (updated.name, updated.config, updated.has_secret) == ("Renamed", {"directory": "/x"}, True)
    assert store.get_engine("e") == updated
    with pytest.raises(InvalidValue, match="is_default") as err:
        store.update_engine("e", is_default=False)
    assert "set_default_engine" in err.value.hint
    with pytest.raises(InvalidValue, match="colour"):
        store.update_engine("e", colour="red")
    with pytest.raises(InvalidValue):
        store.update_engine("e", security_level=7)
    with pytest.raises(NotFound):
        store.update_engine("ghost", name="x")


@pytest.mark.parametrize("name", ["", "   ", "x" * 16_385, "nul\x00"])
def test_bad_engine_names_are_refused(store, make_engine, name):
    with pytest.raises(InvalidValue):
        store.add_engine(make_engine("e", name=name))
    assert store.list_engines() == []


def test_count_keys_by_engine_lists_every_engine(store, make_engine, make_key):
    store.add_engine(make_engine("a"))
    store.add_engine(make_engine("b"))
    store.add_key(make_key("k1", engine_id="b"))
    store.add_key(make_key("k2", engine_id="b"))
    assert store.count_keys_by_engine() == {"a": 0, "b": 2}
