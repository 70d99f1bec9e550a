"""The certificates table: migration v5 of an existing database, look-up by prefix, and keys that go."""

from __future__ import annotations

import hashlib

import pytest

from store import CertRecord, KeyQuery, Store
from store.connection import Connection
from store.errors import Conflict, InvalidValue, NotFound
from store.schema import migrate


def cert(der: bytes, key_id: str | None = None, engine_id: str | None = None, not_after: str = "2030-01-01T00:00:00Z",
         source: str = "file") -> CertRecord:
    return CertRecord(fingerprint=hashlib.sha256(der).hexdigest(), der=der, subject="CN=x", issuer="CN=y",
                      serial="0a", not_before="2025-01-01T00:00:00Z", not_after=not_after, source=source,
                      engine_id=engine_id, key_id=key_id)


def test_a_version_4_database_gets_the_certificates_table(store_dir, make_engine, make_key):
    store_dir.mkdir()
    conn = Connection(store_dir / "kms.db")
    assert migrate(conn, target=4) == 4
    conn.close()
    with Store(store_dir) as store:  # an existing v4 database: migrated on open
        assert store.schema_version == 5
        store.add_engine(make_engine())
        key = store.add_key(make_key("web"))
        stored = store.add_certificate(cert(b"leaf", key.key_id, key.engine_id, "2026-01-01T00:00:00Z"))
        store.add_certificate(cert(b"issuer", source="chain"))
        assert (stored.engine_id, stored.key_id, stored.der) == (key.engine_id, key.key_id, b"leaf")
        assert store.get_certificate(stored.fingerprint[:8].upper()).fingerprint == stored.fingerprint
        assert [c.der for c in store.list_certificates(not_after_before="2027-01-01T00:00:00Z")] == [b"leaf"]
        assert store.count_certificates("2031-01-01T00:00:00Z") == 1  # chain members are no key's
        assert store.count_certificates("2031-01-01T00:00:00Z", bound_only=False) == 2
        with pytest.raises(Conflict):
            store.add_certificate(cert(b"leaf", key.key_id, key.engine_id))
        with pytest.raises(InvalidValue):
            store.get_certificate("abc")  # a prefix shorter than 8 hex digits
        with pytest.raises(InvalidValue):
            store.add_certificate(cert(b"x", source="somewhere"))
        store.add_key(make_key("db"))
        assert [k.name for k in store.list_keys(KeyQuery(expiring_within_days=0))] == ["web"]  # ended already
        assert store.count_keys(KeyQuery(expiring_within_days=30, text="d")) == 0
        store.delete_key(key.engine_id, key.key_id)  # a key that goes (forced) takes its certificates along
        with pytest.raises(NotFound):
            store.get_certificate(stored.fingerprint)
        assert store.count_certificates(bound_only=False) == 1
