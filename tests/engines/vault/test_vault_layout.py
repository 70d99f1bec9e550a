"""Lamassu's layout in Vault: what this tool writes, and what it adopts from secrets written by hand."""

from __future__ import annotations

import base64
import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from engines import keys as K
from engines.errors import KeyNotFoundInEngine
from engines.testing import raises_kms, spki_sha256, verify_independently
from engines.vault.errors import VaultSecretNotAKey

SENTINEL = "SENTINEL-vault-7f3a-do-not-log"


def go_pem(private) -> bytes:
    """PEM as Go's x509.MarshalPKCS8PrivateKey + pem.EncodeToMemory write it: 64-column base64 lines."""
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    body = base64.b64encode(der).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n").encode()


def lamassu_value(private) -> str:
    """The ``key`` field Lamassu's MarshalAndEncodePKIXPrivateKey produces: base64 (std) of that PEM."""
    return base64.b64encode(go_pem(private)).decode()


def raw_secret(openbao, mount: str, path: str) -> dict:
    return openbao.client().secrets.kv.v2.read_secret_version(
        path, mount_point=mount, raise_on_deleted_version=True)["data"]["data"]


def test_written_keys_are_byte_for_byte_lamassu(openbao, mount, make_engine):
    engine = make_engine(mount=mount)
    created = [engine.create("ECDSA", 256), engine.create("Ed25519", 256)]
    imported = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pkcs1 = imported.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption())
    key = engine.import_key(K.parse_key(pkcs1))  # PKCS#1 in, PKCS#8 stored, as Lamassu stores it
    assert raw_secret(openbao, mount, key.key_id) == {"key": lamassu_value(imported)}
    for made in created:
        secret = raw_secret(openbao, mount, made.key_id)
        assert set(secret) == {"key"}
        private = serialization.load_pem_private_key(base64.b64decode(secret["key"]), None)
        assert spki_sha256(private.public_key()) == made.key_id
        assert secret["key"] == lamassu_value(private)
    listed = openbao.client().secrets.kv.v2.list_secrets("", mount_point=mount)["data"]["keys"]
    assert sorted(listed) == sorted([key.key_id] + [k.key_id for k in created])  # <mount>/data/<key_id>


def test_hand_written_secrets_are_adopted_by_sync(openbao, lab, mount, kms, caplog):
    keys = {"ec": ec.generate_private_key(ec.SECP384R1()), "ed": ed25519.Ed25519PrivateKey.generate(),
            "rsa-pkcs1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
    ids = {label: spki_sha256(private.public_key()) for label, private in keys.items()}
    openbao.kv_put(mount, ids["ec"], "key", lamassu_value(keys["ec"]))
    openbao.kv_put(mount, ids["ed"], "key", lamassu_value(keys["ed"]))
    pkcs1 = keys["rsa-pkcs1"].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                            serialization.NoEncryption())
    openbao.kv_put(mount, ids["rsa-pkcs1"], "key", base64.b64encode(pkcs1).decode())  # Lamassu reads PKCS#1 too
    named = ec.generate_private_key(ec.SECP256R1())
    openbao.kv_put(mount, "issuing-ca-2019", "key", lamassu_value(named))  # not named by its key id
    public_only = base64.b64encode(K.public_pem(named.public_key()).encode()).decode()
    openbao.kv_put(mount, "a-public-key", "key", public_only)
    openbao.kv_put(mount, "db-password", "password", SENTINEL)
    openbao.kv_put(mount, "not-base64", "key", SENTINEL + " !!")
    openbao.kv_put(mount, "team/nested", "key", lamassu_value(ec.generate_private_key(ec.SECP256R1())))
    gone = ed25519.Ed25519PrivateKey.generate()
    openbao.kv_put(mount, spki_sha256(gone.public_key()), "key", lamassu_value(gone))
    openbao.client().secrets.kv.v2.delete_latest_version_of_secret(spki_sha256(gone.public_key()), mount_point=mount)

    kms.engines.register("HASHICORP_VAULT_KV_V2", "vault", options={"address": openbao.address, "mount": mount},
                        secret=lab.full_token)
    with caplog.at_level(logging.INFO, logger="engines.vault"):
        [report] = kms.inventory.sync("vault")
    assert sorted(report.adopted) == sorted([*ids.values(), spki_sha256(named.public_key())])
    for label, private in keys.items():
        record = kms.keys.resolve(ids[label])
        assert (record.engine_id, record.native_ref) == ("vault", ids[label])
        assert (record.algorithm, record.size) == K.describe(private.public_key())
    adopted = kms.keys.resolve(spki_sha256(named.public_key()))
    assert (adopted.native_ref, adopted.name) == ("issuing-ca-2019", "issuing-ca-2019")
    for label in ("a-public-key", "db-password", "not-base64"):
        assert f"{mount}/data/{label}" in caplog.text
    assert f"{mount}/metadata/team/" in caplog.text  # folders are named, not followed
    assert SENTINEL not in caplog.text
    # Adopted keys sign; the signature checks against the public key alone.
    signature = kms.signing.sign(ids["ec"], "ECDSA_SHA_384", b"adopted")
    verify_independently(keys["ec"].public_key(), "ECDSA_SHA_384", b"adopted", signature)
    assert kms.inventory.sync("vault")[0].adopted == []


def test_secrets_that_are_not_keys(openbao, mount, make_engine):
    engine = make_engine(mount=mount)
    openbao.kv_put(mount, "db-password", "password", SENTINEL)
    openbao.kv_put(mount, "garbage", "key", base64.b64encode(SENTINEL.encode()).decode())
    encrypted = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw"))
    openbao.kv_put(mount, "encrypted", "key", base64.b64encode(encrypted).decode())
    for ref in ("db-password", "garbage", "encrypted"):
        with raises_kms(VaultSecretNotAKey) as info:
            engine.get(ref)
        assert SENTINEL not in str(info.value) and f"{mount}/data/{ref}" in str(info.value)
    assert list(engine.inventory()) == []
    engine.check()


@pytest.mark.parametrize("prefix", ["kms/", "kms-", "team/kms-"])
def test_prefix_keeps_keys_apart(openbao, mount, make_engine, prefix):
    outsider = ec.generate_private_key(ec.SECP256R1())
    openbao.kv_put(mount, spki_sha256(outsider.public_key()), "key", lamassu_value(outsider))
    engine = make_engine(mount=mount, prefix=prefix)
    key = engine.create("Ed25519", 256)
    assert key.ref == key.key_id
    assert set(raw_secret(openbao, mount, prefix + key.key_id)) == {"key"}  # <mount>/data/<prefix><key_id>
    assert [k.key_id for k in engine.inventory()] == [key.key_id]  # the key outside the prefix is not ours
    unprefixed = make_engine(mount=mount)
    # Without a prefix, a name prefix ("kms-<id>") is just part of a name; a folder is not followed.
    seen = {spki_sha256(outsider.public_key())} | ({prefix + key.key_id} if "/" not in prefix else set())
    assert {k.ref for k in unprefixed.inventory()} == seen
    with raises_kms(KeyNotFoundInEngine):
        unprefixed.get(key.key_id)


HOSTILE_REFS = ["../x", "a/b", "", ".", "..", "x?list=true", "x#frag", "%2e%2e", "a" * 300, "a b", None, 42,
                "../../sys/policy/root"]


@pytest.mark.parametrize("ref", HOSTILE_REFS, ids=lambda r: repr(r)[:20])
def test_hostile_refs_never_become_paths(make_engine, mount, ref):
    engine = make_engine(mount=mount)
    for call in (lambda: engine.get(ref), lambda: engine.delete(ref), lambda: engine.key_action(ref, "destroy")):
        with raises_kms(KeyNotFoundInEngine) as info:
            call()
        assert len(info.value.message) < 200
