"""The Kms facade on the software engine: create, import, look-up, edits, delete."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from engines.errors import (
    AlgorithmMismatch,
    DigestLengthError,
    InvalidInput,
    KeyParseError,
    UnsupportedKeyType,
    WrongPassphrase,
)
from kms_tui.service.errors import KeyNotFound, Refused
from store import KeyQuery
from store.errors import Conflict, NotFound
from store.models import BINDINGS_KEY


def key_dir(kms, engine_id="golang-default"):
    return kms.context.store.get_engine(engine_id).config["directory"]


def files(kms, engine_id="golang-default"):
    d = key_dir(kms, engine_id)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def audit_actions(kms):
    return [r.action for r in kms.audit.rows(limit=1000, newest_first=False)]


def test_first_run_creates_private_data_dir_and_default_engine(kms, data_dir):
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data_dir / "kms.db").st_mode) == 0o600
    [engine] = kms.engines.list()
    assert engine.record.id == "golang-default"
    assert engine.record.is_default
    assert engine.record.type == "GOLANG"
    assert engine.record.config["directory"] == str(data_dir / "keys" / "golang-default")
    assert engine.record.config["encrypt"] == "true"


@pytest.mark.parametrize(("algorithm", "size", "strength"), [("ECDSA", 256, "MEDIUM"), ("Ed25519", 256, "HIGH"), ("RSA", 2048, "MEDIUM"), ("ECDSA", 384, "HIGH")])
def test_create_records_the_key_with_lamassu_id(kms, algorithm, size, strength, memory_keyring):
    record = kms.keys.create(algorithm, size, f"k-{algorithm}-{size}", aliases=["a1"], tags=["ca"])
    public = serialization.load_pem_public_key(record.public_key.encode())
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert record.key_id == hashlib.sha256(spki).hexdigest()
    assert (record.algorithm, record.size, record.strength) == (algorithm, size, strength)
    assert record.has_private_key and record.native_ref == record.key_id
    assert files(kms) == [record.key_id]
    assert kms.keys.resolve("a1").key_id == record.key_id
    assert audit_actions(kms)[-1] == "key.create"
    # The generated at-rest passphrase lives in the keyring, never in SQLite.
    [(service, _user)] = memory_keyring.entries
    secret = next(iter(memory_keyring.entries.values()))
    assert service == "kms-tui"
    db_bytes = b"".join(p.read_bytes() for p in kms.data_dir.glob("kms.db*"))
    assert secret.encode() not in db_bytes
    key_file = os.path.join(key_dir(kms), record.key_id)
    with open(key_file, "rb") as f:
        assert b"ENCRYPTED PRIVATE KEY" in f.read()


def test_create_refuses_bad_requests_and_changes_nothing(kms):
    kms.keys.create("ECDSA", 256, "taken")
    before_files, before_audit = files(kms), audit_actions(kms)
    with pytest.raises(UnsupportedKeyType):
        kms.keys.create("RSA", 1024, "small")
    with pytest.raises(UnsupportedKeyType):
        kms.keys.create("ECDSA", 200, "odd")
    with pytest.raises(UnsupportedKeyType):
        kms.keys.create("DSA", 2048, "legacy")
    with pytest.raises(Conflict):
        kms.keys.create("ECDSA", 256, "taken")
    with pytest.raises(Conflict):
        kms.keys.create("ECDSA", 256, "other", aliases=["taken"])
    with pytest.raises(NotFound):
        kms.keys.create("ECDSA", 256, "x", engine_id="no-such-engine")
    with pytest.raises(InvalidInput):
        kms.keys.create("ECDSA", 256, "   ")
    assert files(kms) == before_files
    assert audit_actions(kms) == before_audit


def test_resolve_by_id_alias_name_and_unknown(kms):
    record = kms.keys.create("Ed25519", 256, "root-2026", aliases=["ca-root"])
    assert kms.keys.resolve(record.key_id).name == "root-2026"
    assert kms.keys.resolve(record.key_id.upper()).name == "root-2026"
    assert kms.keys.resolve("ca-root").key_id == record.key_id
    assert kms.keys.resolve("root-2026").key_id == record.key_id
    with pytest.raises(KeyNotFound):
        kms.keys.resolve("nope")
    with pytest.raises(KeyNotFound) as err:
        kms.keys.resolve("x" * 10_000)
    assert len(str(err.value)) < 300


def _pem(key, password: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def test_import_encrypted_pkcs8_and_wrong_passphrase(kms):
    key = ec.generate_private_key(ec.SECP384R1())
    data = _pem(key, b"correct horse")
    with pytest.raises(WrongPassphrase):
        kms.keys.import_key(data, "imported", passphrase=b"wrong")
    with pytest.raises(WrongPassphrase):
        kms.keys.import_key(data, "imported")
    assert files(kms) == [] and kms.keys.count() == 0
    record = kms.keys.import_key(data, "imported", passphrase="correct horse")
    assert (record.algorithm, record.size, record.strength) == ("ECDSA", 384, "HIGH")
    assert audit_actions(kms)[-1] == "key.import"
    with pytest.raises(Conflict):
        kms.keys.import_key(_pem(key), "again")


def test_import_rejects_malformed_input_and_changes_nothing(kms):
    good = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    before = audit_actions(kms)
    for bad in (good[: len(good) // 2], b"\x30\x82\x01", os.urandom(300), b"", b"-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n"):
        with pytest.raises((KeyParseError, WrongPassphrase)):
            kms.keys.import_key(bad, "bad")
    assert files(kms) == [] and kms.keys.count() == 0 and audit_actions(kms) == before


def test_public_key_import_verifies_but_cannot_sign(kms):
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = kms.keys.import_key(public, "peer")
    assert not record.has_private_key and record.native_ref is None
    assert files(kms) == []
    signature = key.sign(b"hello")
    assert kms.signing.verify("peer", "ED25519", b"hello", signature)
    assert not kms.signing.verify("peer", "ED25519", b"hellO", signature)
    with pytest.raises(Refused):
        kms.signing.sign("peer", "ED25519", b"hello")


@pytest.mark.parametrize("algorithm", ["RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"])
def test_sign_and_verify_rsa_raw_and_digest(kms, algorithm):
    kms.keys.create("RSA", 2048, "rsa")
    sig = kms.signing.sign("rsa", algorithm, b"message")
    assert kms.signing.verify("rsa", algorithm, b"message", sig)
    hash_name = "sha" + algorithm.rsplit("_", 1)[1]
    digest = hashlib.new(hash_name, b"message").digest()
    sig2 = kms.signing.sign("rsa", algorithm, digest, "DIGEST")
    assert kms.signing.verify("rsa", algorithm, b"message", sig2)
    assert not kms.signing.verify("rsa", algorithm, b"other", sig2)


def test_sign_refuses_mismatch_and_bad_digest(kms):
    kms.keys.create("ECDSA", 256, "ec")
    before = audit_actions(kms)
    with pytest.raises(AlgorithmMismatch):
        kms.signing.sign("ec", "RSASSA_PSS_SHA_256", b"m")
    with pytest.raises(DigestLengthError):
        kms.signing.sign("ec", "ECDSA_SHA_256", b"short", "DIGEST")
    with pytest.raises(InvalidInput):
        kms.signing.sign("ec", "NOT_AN_ALG", b"m")
    assert audit_actions(kms) == before


def test_signature_audit_rows_hold_hashes_not_data(kms):
    kms.keys.create("ECDSA", 256, "ec")
    sig = kms.signing.sign("ec", "ECDSA_SHA_256", b"the secret message")
    row = kms.audit.rows(limit=1)[0]
    assert row.action == "key.sign"
    assert row.details["input_sha256"] == hashlib.sha256(b"the secret message").hexdigest()
    assert row.details["signature_sha256"] == hashlib.sha256(sig).hexdigest()
    assert "the secret message" not in repr(row.details)


def test_bindings_block_delete_until_forced(kms):
    record = kms.keys.create("ECDSA", 256, "device")
    kms.keys.bind("device", "certificate", "serial-01")
    bound = kms.keys.resolve("device")
    assert bound.metadata[BINDINGS_KEY] == [{"resource_type": "certificate", "resource_id": "serial-01"}]
    with pytest.raises(Conflict):
        kms.keys.bind("device", "certificate", "serial-01")
    with pytest.raises(Refused):
        kms.keys.delete("device")
    assert files(kms) == [record.key_id]
    kms.keys.unbind("device", "certificate", "serial-01")
    with pytest.raises(NotFound):
        kms.keys.unbind("device", "certificate", "serial-01")
    kms.keys.bind("device", "ca", "root")
    kms.keys.delete("device", force=True)
    # The key file went to the engine's trash; the record stays, pending deletion.
    assert files(kms) == [".trash"] and kms.keys.resolve("device").state == "PendingDeletion"
    assert audit_actions(kms)[-2:] == ["key.delete.intent", "key.delete"]


def test_aliases_tags_rename_metadata(kms):
    kms.keys.create("ECDSA", 256, "one")
    kms.keys.create("ECDSA", 256, "two")
    kms.keys.add_alias("one", "ca-root")
    with pytest.raises(Conflict):
        kms.keys.add_alias("two", "ca-root")
    with pytest.raises(Conflict):
        kms.keys.add_alias("two", "one")
    kms.keys.remove_alias("one", "ca-root")
    kms.keys.add_alias("two", "ca-root")
    assert kms.keys.resolve("ca-root").name == "two"
    kms.keys.add_tag("one", "[bold]tier-1[/]")
    assert kms.keys.resolve("one").tags == ["[bold]tier-1[/]"]
    kms.keys.remove_tag("one", "[bold]tier-1[/]")
    with pytest.raises(NotFound):
        kms.keys.remove_tag("one", "absent")
    kms.keys.rename("one", "uno")
    assert kms.keys.resolve("uno").name == "uno"
    with pytest.raises(Conflict):
        kms.keys.rename("uno", "two")
    kms.keys.bind("uno", "ca", "x")
    updated = kms.keys.set_metadata("uno", {"owner": "pki-team"})
    assert updated.metadata["owner"] == "pki-team" and updated.bound


def test_list_filters_and_sorts(kms):
    kms.keys.create("ECDSA", 256, "beta", tags=["edge"])
    kms.keys.create("Ed25519", 256, "alpha")
    kms.keys.create("ECDSA", 384, "gamma", aliases=["issuing-ca"])
    names = lambda q: [r.name for r in kms.keys.list(q)]  # noqa: E731
    assert names(KeyQuery()) == ["alpha", "beta", "gamma"]
    assert names(KeyQuery(algorithm="ECDSA")) == ["beta", "gamma"]
    assert names(KeyQuery(strength="HIGH")) == ["alpha", "gamma"]
    assert names(KeyQuery(text="ISSUING")) == ["gamma"]
    assert names(KeyQuery(text="edge")) == ["beta"]
    assert names(KeyQuery(text="%")) == []
    assert names(KeyQuery(sort="strength", descending=True))[-1] == "beta"
    stats = kms.inventory.stats()
    assert stats["total"] == 3
    assert stats["by_strength"] == {"HIGH": 2, "MEDIUM": 1, "LOW": 0}
    assert stats["by_security_level"].get("SL0") == 3


def test_audit_chain_verifies_and_detects_tampering(kms, data_dir):
    kms.keys.create("ECDSA", 256, "a")
    kms.signing.sign("a", "ECDSA_SHA_256", b"x")
    assert kms.audit.verify().ok
    with sqlite3.connect(data_dir / "kms.db") as con:
        seq = con.execute("SELECT seq FROM audit WHERE action = 'key.create'").fetchone()[0]
        con.execute("UPDATE audit SET details = '{}' WHERE seq = ?", (seq,))
    check = kms.audit.verify()
    assert not check.ok and check.first_broken == seq


def test_delete_options_and_key_actions_are_checked_against_the_engine(kms):
    from engines.errors import EngineConfigError, OperationNotSupported

    record = kms.keys.create("ECDSA", 256, "k")
    for options in ({"recovery_window_days": "7"}, {"pending_window_days": "3"}, {"pending_window_days": "x"}):
        with pytest.raises(EngineConfigError):
            kms.keys.delete("k", options=options)
    assert set(kms.keys.actions("k")) == {"restore", "purge"}
    with pytest.raises(OperationNotSupported):
        kms.keys.run_action("k", "cancel-deletion")
    assert files(kms) == [record.key_id]
