"""Azure Key Vault through the Kms facade: registration, keys, sync, soft delete, and an outage."""

from __future__ import annotations

import pytest

from engines.azure_kv import AzureKeyVaultEngine
from engines.errors import EngineAuthError, EngineUnavailable
from tests.engines.azure.helpers import SECRET, engine_options


def register(kms, server, secret=SECRET, **options):
    return kms.register_engine("AZURE_KEY_VAULT", "az", options=engine_options(server, **options), secret=secret)


def test_register_create_sign_verify(kms, server, memory_keyring, data_dir):
    view = register(kms, server)
    assert view.secret_location == "keyring" and SECRET in memory_keyring.entries.values()
    assert view.record.supported_key_types == {"RSA": [2048, 3072, 4096], "ECDSA": [256, 384, 521]}
    assert SECRET.encode() not in (data_dir / "kms.db").read_bytes()
    record = kms.create_key("ECDSA", 256, "issuing", engine_id="az", aliases=["issuing-ca"])
    assert record.strength == "MEDIUM" and record.native_ref != record.key_id  # a UUID name, not the key id
    for algorithm in ("ECDSA_SHA_384", "ECDSA_SHA_256"):
        signature = kms.sign("issuing-ca", algorithm, b"certificate to be signed")
        assert kms.verify("issuing", algorithm, b"certificate to be signed", signature)
        assert kms.verify("issuing", algorithm, b"certificate to be signed", signature, through_engine=True)
        assert not kms.verify("issuing", algorithm, b"another certificate", signature)


def test_sync_adopts_keys_made_in_the_vault(kms, server):
    register(kms, server)
    mine = kms.create_key("RSA", 2048, "mine", engine_id="az")
    server.vault.create("made-in-the-portal", {"kty": "EC", "crv": "P-384"})
    [report] = kms.sync("az")
    assert report.seen == 2 and report.unchanged == 1 and len(report.adopted) == 1
    adopted = kms.resolve(report.adopted[0])
    assert (adopted.name, adopted.native_ref, adopted.size) == ("made-in-the-portal", "made-in-the-portal", 384)
    assert kms.sign("made-in-the-portal", "ECDSA_SHA_384", b"m")
    assert kms.resolve(mine.key_id).status == "ok"


def test_delete_is_soft_and_purge_is_a_second_explicit_action(kms, server):
    register(kms, server)
    kms.create_key("ECDSA", 384, "k", engine_id="az")
    assert kms.key_actions("k") == AzureKeyVaultEngine.KEY_ACTIONS
    assert kms.delete_key("k").state == "Deleted"
    assert kms.resolve("k").state == "Deleted"  # still recorded: it can be recovered
    assert kms.run_key_action("k", "recover").state is None
    assert kms.sign("k", "ECDSA_SHA_384", b"m")
    kms.delete_key("k")
    assert kms.run_key_action("k", "purge") is None
    assert [r.name for r in kms.list_keys()] == []
    assert [a.action for a in kms.audit_rows(limit=4)] == [
        "key.action.purge", "key.action.purge.intent", "key.delete", "key.delete.intent"]  # each announced first


def test_wrong_secret_registers_nothing(kms, server, memory_keyring):
    with pytest.raises(EngineAuthError):
        register(kms, server, secret="wrong")
    assert [e.record.id for e in kms.list_engines()] == ["golang-default"]
    assert memory_keyring.entries == {}


def test_outage_leaves_other_engines_working(kms, server):
    register(kms, server)
    kms.create_key("ECDSA", 256, "remote", engine_id="az")
    kms.create_key("Ed25519", 256, "local")  # the default software engine
    signature = kms.sign("remote", "ECDSA_SHA_256", b"m")
    server.stop()
    with pytest.raises(EngineUnavailable) as info:
        kms.sign("remote", "ECDSA_SHA_256", b"m")
    assert server.url in info.value.message
    check = kms.test_engine("az")
    assert not check.reachable and server.url in check.message
    assert kms.verify("remote", "ECDSA_SHA_256", b"m", signature)  # offline, with the stored public key
    assert kms.sign("local", "ED25519", b"m")
    server.start()
    assert kms.test_engine("az").reachable
    assert kms.verify("remote", "ECDSA_SHA_256", b"m", kms.sign("remote", "ECDSA_SHA_256", b"m"))
