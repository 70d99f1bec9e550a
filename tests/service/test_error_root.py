"""One error root: whatever a user can be shown leaves the service as a ``KmsError``."""

from __future__ import annotations

import sqlite3

import pytest

import store.errors
from kms_tui.service import Kms
from kms_tui.service.errors import InvalidValue, KmsError, NotFound, render
from store import CredentialStore


def test_a_store_refusal_leaves_the_service_as_a_kms_error(kms):
    with pytest.raises(KmsError) as caught:
        kms.keys.create("ECDSA", 256, "bad\x00name")
    error = caught.value
    assert isinstance(error, InvalidValue) and isinstance(error, store.errors.InvalidValue)
    assert render(error)[0] == "Invalid value" and "\x00" not in render(error)[1]


def test_an_unknown_engine_is_a_kms_error_that_keeps_the_stores_name(kms):
    with pytest.raises(KmsError) as caught:
        kms.engines.get("no-such-engine")
    assert isinstance(caught.value, NotFound) and isinstance(caught.value, store.errors.NotFound)
    assert "no-such-engine" in caught.value.message


def test_a_database_refused_as_it_opens_is_a_kms_error(data_dir, memory_keyring):
    Kms(data_dir, credentials=CredentialStore(backend=memory_keyring)).close()
    with sqlite3.connect(data_dir / "kms.db") as db:
        db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(KmsError) as caught:
        Kms(data_dir, credentials=CredentialStore(backend=memory_keyring))
    assert isinstance(caught.value, store.errors.SchemaTooNew)
    assert "newer kms-tui" in render(caught.value)[1]


def test_an_engine_error_is_already_of_the_root(kms):
    with pytest.raises(KmsError):
        kms.signing.sign("no-such-key", "ECDSA_SHA_256", b"m")


def test_a_bug_is_not_dressed_as_a_user_error():
    assert render(ValueError("secret-ish detail")) == (
        "Internal error", "ValueError: an unexpected error occurred; the log has the details.")


def test_every_service_method_that_hands_out_an_iterator_is_a_guarded_generator():
    """A method returning the store's generator would let a store error out unguarded while it is read."""
    import inspect

    from kms_tui.service.errors import Service

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    checked = []
    for cls in subclasses(Service):
        for name, value in vars(cls).items():
            original = getattr(value, "__wrapped__", None)
            if original is not None and "Iterator" in str(inspect.signature(original).return_annotation):
                assert inspect.isgeneratorfunction(original), f"{cls.__name__}.{name}"
                checked.append(name)
    assert {"iter", "iter_json"} <= set(checked)

