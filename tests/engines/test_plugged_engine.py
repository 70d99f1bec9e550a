"""Engines from other packages: the ``kms_tui.engines`` entry-point group.

No distribution is installed: ``importlib.metadata.entry_points`` is replaced by one that
answers real ``EntryPoint`` objects and counts the look-ups. The built-in types never
read the group; a type that is not built in does, once; the plugged engine (a
``StoredKeyEngine`` kept in memory) then works through the service and passes the
shared contract suite as an outside package would run it.
"""

from __future__ import annotations

import importlib.metadata
from importlib.metadata import EntryPoint, EntryPoints

import pytest
from cryptography.hazmat.primitives import serialization

import engines
from engines import algorithms as A
from engines.errors import UnknownEngineType
from engines.software.engine import SoftwareEngine
from engines.testing import EngineContract, verify_independently
from kms_tui.batch import read_items
from tests.engines.memory_engine import MemoryEngine

GROUP = engines.ENTRY_POINT_GROUP
TARGET = "tests.engines.memory_engine:MemoryEngine"
POINTS = (
    EntryPoint("TEST_MEMORY", TARGET, GROUP),
    EntryPoint("GOLANG", TARGET, GROUP),  # a plugged type never takes a built-in's place
    EntryPoint("TEST_NOT_A_DRIVER", "engines.keys:parse_key", GROUP),
    EntryPoint("TEST_OTHER_TYPE", TARGET, GROUP),  # the class says it is TEST_MEMORY
    EntryPoint("TEST_MISSING", "kms_tui_no_such_package.engine:Engine", GROUP),
    EntryPoint("TEST_ELSEWHERE", "somewhere:Else", "another.group"),
)


@pytest.fixture
def scans(monkeypatch):
    """The entry-point look-ups made meanwhile; whatever they registered is forgotten afterwards."""
    asked: list[dict] = []

    def entry_points(**params) -> EntryPoints:
        asked.append(params)
        return EntryPoints(p for p in POINTS if p.group == params.get("group", p.group))

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    built_in = dict(engines.ENGINE_TYPES)
    yield asked
    for name in set(engines.ENGINE_TYPES) - set(built_in):
        del engines.ENGINE_TYPES[name]


def test_built_in_types_never_read_the_entry_points(scans, kms):
    for name in list(engines.ENGINE_TYPES):
        assert engines.engine_type(name.lower()).type == name
        assert engines.available(name)
        engines.driver_class(name)
    assert engines.driver_class("GOLANG") is SoftwareEngine
    assert [t.type for t in kms.engines.types()] == list(engines.ENGINE_TYPES)
    kms.keys.create("ECDSA", 256, "built-in")
    kms.signing.sign("built-in", "ECDSA_SHA_256", b"message")
    assert scans == []
    assert "TEST_MEMORY" not in engines.ENGINE_TYPES


def test_an_unknown_type_reads_them_and_stays_unknown(scans):
    with pytest.raises(UnknownEngineType) as info:
        engines.engine_type("NO_SUCH_ENGINE")
    assert "Unknown engine type 'NO_SUCH_ENGINE'" in info.value.message
    assert scans == [{"group": GROUP}]
    assert "NO_SUCH_ENGINE" not in engines.ENGINE_TYPES


@pytest.mark.parametrize(("name", "why"), [
    ("TEST_NOT_A_DRIVER", "does not name an engine driver class"),
    ("TEST_OTHER_TYPE", "names a driver of another type ('TEST_MEMORY')"),
    ("TEST_MISSING", "cannot be loaded ('kms_tui_no_such_package' is missing)"),
    ("TEST_ELSEWHERE", "Unknown engine type"),
])
def test_an_entry_point_that_is_no_driver_of_its_type_is_refused(scans, name, why):
    with pytest.raises(UnknownEngineType) as info:
        engines.driver_class(name)
    assert why in info.value.message
    assert name not in engines.ENGINE_TYPES


def test_a_plugged_engine_works_through_the_service(scans, kms, monkeypatch):
    monkeypatch.setattr(MemoryEngine, "STORES", {})
    view = kms.engines.register("test_memory", "memory")
    assert (view.record.type, view.display) == ("TEST_MEMORY", MemoryEngine.DISPLAY)
    assert engines.engine_type("TEST_MEMORY").security_level == MemoryEngine.SECURITY_LEVEL
    assert engines.driver_class("TEST_MEMORY") is MemoryEngine
    assert "TEST_MEMORY" in [t.type for t in kms.engines.types()]

    record = kms.keys.create("ECDSA", 384, "plugged", engine_id="memory")
    assert list(MemoryEngine.STORES["memory"]) == [record.key_id]
    public = serialization.load_pem_public_key(kms.keys.export_public("plugged", "pem"))
    signature = kms.signing.sign("plugged", "ECDSA_SHA_384", b"a message")
    verify_independently(public, "ECDSA_SHA_384", b"a message", signature)

    messages = [b"item %d" % i for i in range(5)]
    results = []
    summary = kms.signing.sign_batch("plugged", "ECDSA_SHA_384", read_items([m.hex().encode() for m in messages]),
                             emit=lambda *r: results.append(r))
    assert summary.signed == 5
    for message, (_, _, batch_signature, _) in zip(messages, results, strict=True):
        verify_independently(public, "ECDSA_SHA_384", message, batch_signature)
    assert len(scans) == 1  # registered on the first ask: later look-ups are static


class TestMemoryContract(EngineContract):
    """The shared suite, run as an outside engine package runs it."""

    KEY_TYPES = ((A.RSA, 2048), (A.ECDSA, 256), (A.ECDSA, 384), (A.ED25519, 256))

    @pytest.fixture(autouse=True)
    def plugged(self, scans):
        """The engine's entry point is visible while each test runs."""

    @pytest.fixture(scope="class")
    def driver(self):
        return MemoryEngine("memory-contract", {}, None)
