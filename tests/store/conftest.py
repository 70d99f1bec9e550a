"""Fixtures for the store tests: a Store in a temporary data dir, key factories,
and keyring backends that live in memory (no real keyring is touched)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:  # the project root holds the ``store`` package
    sys.path.insert(0, ROOT)

from store import EngineRecord, KeyRecord, Store  # noqa: E402
from tests.memory_keyring import MemoryKeyring  # noqa: E402

DictKeyring = MemoryKeyring  # hostile variants in the tests derive from it


@pytest.fixture
def dict_keyring() -> DictKeyring:
    return DictKeyring()


@pytest.fixture
def keyring_class():
    """The DictKeyring class, for tests that derive hostile variants of it."""
    return DictKeyring


@pytest.fixture
def store_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(store_dir):
    with Store(store_dir) as opened:
        yield opened


def engine_record(engine_id: str = "golang-default", **overrides) -> EngineRecord:
    values = dict(id=engine_id, type="GOLANG", name=f"Engine {engine_id}", provider="local", security_level=0)
    values.update(overrides)
    return EngineRecord(**values)


def key_record(name: str, engine_id: str = "golang-default", **overrides) -> KeyRecord:
    # A stable fake key id per name: 64 lowercase hex chars, like Lamassu's SHA-256 of the SPKI.
    key_id = overrides.pop("key_id", None) or hashlib.sha256(name.encode()).hexdigest()
    values = dict(
        key_id=key_id,
        engine_id=engine_id,
        name=name,
        algorithm="ECDSA",
        size=256,
        strength="MEDIUM",
        has_private_key=True,
        public_key="-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n",
    )
    values.update(overrides)
    return KeyRecord(**values)


@pytest.fixture
def make_engine():
    return engine_record


@pytest.fixture
def make_key():
    return key_record


@pytest.fixture
def engine(store):
    return store.add_engine(engine_record())
