"""Azure Key Vault through the Kms facade: registration, keys, sync, soft delete, and an outage."""

from __future__ import annotations

import pytest

from engines.azure.engine import AzureKeyVaultEngine
from engines.errors import EngineAuthError, EngineUnavailable
from tests.engines.azure.helpers import SECRET, engine_options


def register(kms, server, secret=SECRET, **options):
    return kms.engines.register("AZURE_KEY_VAULT", "az", options=engine_options(server, **options), secret=secret)


def test_register_create_sign_verify(kms, server, memory_keyring, data_dir):
    view = register(kms, server)
    assert view.secret_location == "keyring" and SECRET in memory_keyring.entries.values()
    assert view.record.supported_key_types == {"RSA": [2048, 3072, 4096], "ECDSA": [256, 384, 521]}
    assert SECRET.encode() not in (data_dir / "kms.db").read_bytes()
    record = kms.keys.create("ECDSA", 256, "issuing", engine_id="az", aliases=["issuing-ca"])
    assert record.strength == "MEDIUM" and record.native_ref != record.key_id  # a UUID name, not the key id
    for algorithm in ("ECDSA_SHA_384", "ECDSA_SHA_256"):
        signature = kms.signing.sign("issuing-ca", algorithm, b"certificate to be signed")
        assert kms.signing.verify("issuing", algorithm, b"certificate to be signed", signature)
        assert kms.signing.verify("issuing", algorithm, b"certificate to be signed", signature, through_engine=True)
        assert not kms.signing.verify("issuing", algorithm, b"another certificate", signature)


def test_sync_adopts_keys_made_in_the_vault(kms, server):
    register(kms, server)
    mine = kms.keys.create("RSA", 2048, "mine", engine_id="az")
    server.vault.create("made-in-the-portal", {"kty": "EC", "crv": "P-384"})
    [report] = kms.inventory.sync("az")
    assert report.seen == 2 and report.unchanged == 1 and len(report.adopted) == 1
    adopted = kms.keys.resolve(report.adopted[0])
    assert (adopted.name, adopted.native_ref, adopted.size) == ("made-in-the-portal", "made-in-the-portal", 384)
    assert kms.signing.sign("made-in-the-portal", "ECDSA_SHA_384", b"m")
    assert kms.keys.resolve(mine.key_id).status == "ok"


def test_delete_is_soft_and_purge_is_a_second_explicit_action(kms, server):
    register(kms, server)
    kms.keys.create("ECDSA", 384, "k", engine_id="az")
    assert kms.keys.actions("k") == AzureKeyVaultEngine.KEY_ACTIONS
    assert kms.keys.delete("k").state == "Deleted"
    assert kms.keys.resolve("k").state == "Deleted"  # still recorded: it can be recovered
    assert kms.keys.run_action("k", "recover").state is None
    assert kms.signing.sign("k", "ECDSA_SHA_384", b"m")
    kms.keys.delete("k")
    assert kms.keys.run_action("k", "purge") is None
    assert [r.name for r in kms.keys.list()] == []
    assert [a.action for a in kms.audit.rows(limit=4)] == [
        "key.action.purge", "key.action.purge.intent", "key.delete", "key.delete.intent"]  # each announced first


def test_wrong_secret_registers_nothing(kms, server, memory_keyring):
    with pytest.raises(EngineAuthError):
        register(kms, server, secret="wrong")
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]
    assert memory_keyring.entries == {}


def test_outage_leaves_other_engines_working(kms, server):
    register(kms, server)
    kms.keys.create("ECDSA", 256, "remote", engine_id="az")
    kms.keys.create("Ed25519", 256, "local")  # the default software engine
    signature = kms.signing.sign("remote", "ECDSA_SHA_256", b"m")
    server.stop()
    with pytest.raises(EngineUnavailable) as info:
        kms.signing.sign("remote", "ECDSA_SHA_256", b"m")
    assert server.url in info.value.message
    check = kms.engines.test("az")
    assert not check.reachable and server.url in check.message
    assert kms.signing.verify("remote", "ECDSA_SHA_256", b"m", signature)  # offline, with the stored public key
    assert kms.signing.sign("local", "ED25519", b"m")
    server.start()
    assert kms.engines.test("az").reachable
    assert kms.signing.verify("remote", "ECDSA_SHA_256", b"m", kms.signing.sign("remote", "ECDSA_SHA_256", b"m"))
