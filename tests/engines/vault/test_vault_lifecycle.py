"""Soft delete, undelete and destroy, in the driver and through the service; a server that goes away."""

from __future__ import annotations

import hvac.exceptions
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engines import algorithms as A
from engines import keys as K
from engines.errors import (
    EngineError,
    EngineUnavailable,
    KeyExists,
    KeyNotFoundInEngine,
    OperationNotSupported,
)
from engines.testing import raises_kms, verify_independently
from engines.vault.engine import SOFT_DELETED, VaultKvEngine
from kms_tui.service.errors import KeyNotFound
from tests.engines.vault.openbao import OpenBao

ED = A.signing_algorithm("ED25519")


def metadata(openbao, mount, path):
    return openbao.client().secrets.kv.v2.read_secret_metadata(path, mount_point=mount)["data"]


def signs(engine, key) -> None:
    signature = engine.sign(key.ref, ED, b"still here", A.MessageType.RAW)
    verify_independently(key.public_key, "ED25519", b"still here", signature)


def test_soft_delete_undelete_destroy(openbao, mount, make_engine):
    engine = make_engine(mount=mount)
    key = engine.create("Ed25519", 256)
    assert engine.delete(key.ref) == SOFT_DELETED
    meta = metadata(openbao, mount, key.ref)
    assert meta["versions"]["1"]["deletion_time"] and not meta["versions"]["1"]["destroyed"]  # Vault's own soft delete
    with raises_kms(KeyNotFoundInEngine) as info:
        engine.get(key.ref)
    assert "soft-deleted" in info.value.message and "undelete" in info.value.message
    assert [k.ref for k in engine.inventory()] == []
    with raises_kms(KeyNotFoundInEngine):
        engine.sign(key.ref, ED, b"x", A.MessageType.RAW)

    restored = engine.key_action(key.ref, "undelete")
    assert (restored.key_id, restored.state) == (key.key_id, None)
    signs(engine, key)
    assert engine.key_action(key.ref, "undelete").key_id == key.key_id  # nothing to restore: unchanged
    assert metadata(openbao, mount, key.ref)["current_version"] == 1

    assert engine.key_action(key.ref, "destroy") is None
    with pytest.raises(hvac.exceptions.InvalidPath):
        metadata(openbao, mount, key.ref)  # every version and the metadata are gone
    for action in ("destroy", "undelete"):
        with raises_kms(KeyNotFoundInEngine):
            engine.key_action(key.ref, action)
    with raises_kms(OperationNotSupported):
        engine.key_action(key.ref, "purge")


def test_reimport_revives_a_deleted_key_but_never_overwrites_a_live_one(openbao, mount, make_engine):
    engine = make_engine(mount=mount)
    private = ec.generate_private_key(ec.SECP256R1())
    parsed = K.parse_key(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    key = engine.import_key(parsed)
    with raises_kms(KeyExists):
        engine.import_key(parsed)
    assert metadata(openbao, mount, key.ref)["current_version"] == 1
    engine.delete(key.ref)
    assert engine.import_key(parsed).key_id == key.key_id  # the same key pair, written as version 2
    assert metadata(openbao, mount, key.ref)["current_version"] == 2
    assert engine.get(key.ref).key_id == key.key_id


def test_destroyed_latest_version_cannot_be_undeleted(openbao, mount, make_engine):
    engine = make_engine(mount=mount)
    key = engine.create("Ed25519", 256)
    openbao.client().secrets.kv.v2.destroy_secret_versions(key.ref, [1], mount_point=mount)
    with raises_kms(KeyNotFoundInEngine) as info:
        engine.get(key.ref)
    assert "destroyed" in info.value.message
    with raises_kms(EngineError) as info:
        engine.key_action(key.ref, "undelete")
    assert "cannot be restored" in info.value.message


def test_delete_and_actions_through_the_service(openbao, lab, mount, kms):
    kms.engines.register("HASHICORP_VAULT_KV_V2", "vault", options={"address": openbao.address, "mount": mount},
                        secret=lab.full_token)
    record = kms.keys.create("ECDSA", 384, "issuing", engine_id="vault")
    assert set(kms.keys.actions("issuing")) == {"undelete", "destroy"}
    deleted = kms.keys.delete("issuing")
    assert deleted.state == SOFT_DELETED  # recoverable: the record stays, showing the state
    assert kms.keys.resolve("issuing").key_id == record.key_id
    [report] = kms.inventory.sync("vault")
    assert report.missing == [record.key_id]  # soft-deleted keys are reported as missing
    restored = kms.keys.run_action("issuing", "undelete")
    assert (restored.state, restored.status) == (None, "ok")
    signature = kms.signing.sign("issuing", "ECDSA_SHA_384", b"back")
    assert kms.signing.verify("issuing", "ECDSA_SHA_384", b"back", signature)
    kms.keys.delete("issuing")
    assert kms.keys.run_action("issuing", "destroy") is None
    with pytest.raises(KeyNotFound):
        kms.keys.resolve("issuing")
    with pytest.raises(hvac.exceptions.InvalidPath):
        metadata(openbao, mount, record.key_id)


def test_server_stopped_mid_session_then_back(tmp_path, kms):
    server = OpenBao(tmp_path / "bao")
    server.start()
    try:
        kms.engines.register("HASHICORP_VAULT_KV_V2", "vault",
                            options={"address": server.address, "timeout": "3"}, secret=server.root_token)
        kms.keys.create("Ed25519", 256, "in-vault", engine_id="vault")
        server.stop()
        check = kms.engines.test("vault")
        assert not check.reachable and check.title == EngineUnavailable.title
        assert server.address in check.message and server.root_token not in check.message
        with raises_kms(EngineUnavailable):
            kms.signing.sign("in-vault", "ED25519", b"x")
        # Other engines keep working, and verification is offline.
        kms.keys.create("ECDSA", 256, "local")
        assert kms.signing.verify("local", "ECDSA_SHA_256", b"m", kms.signing.sign("local", "ECDSA_SHA_256", b"m"))
        server.restart()  # dev mode is in memory: the keys are gone, the engine is reachable again
        assert kms.engines.test("vault").reachable
        kms.keys.create("Ed25519", 256, "after-restart", engine_id="vault")
    finally:
        server.stop()


def test_same_driver_recovers_after_restart(tmp_path):
    server = OpenBao(tmp_path / "bao")
    server.start()
    try:
        with VaultKvEngine("vault-restart", {"address": server.address, "timeout": "3"}, server.root_token) as engine:
            engine.check()
            server.stop()
            with raises_kms(EngineUnavailable):
                engine.check()
            server.restart()
            engine.check()
            signs(engine, engine.create("Ed25519", 256))
    finally:
        server.stop()


def test_discard_leaves_nothing_recoverable(openbao, mount, make_engine):
    engine = make_engine(mount=mount)
    key = engine.create("Ed25519", 256)
    engine.discard(key.ref)
    with pytest.raises(hvac.exceptions.InvalidPath):
        metadata(openbao, mount, key.ref)
    with raises_kms(KeyNotFoundInEngine):
        engine.key_action(key.ref, "undelete")
