"""Inventory of keys the caller already knows: listed, not read again; and the full refresh that reads them."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from engines import keys as K
from tests.engines.aws.moto_server import SECRET, Sent, kms_engine
from tests.engines.aws.support import lamassu_secret

PER_KEY = {"DescribeKey", "GetPublicKey", "GetSecretValue", "BatchGetSecretValue"}


def test_kms_known_keys_cost_no_call_of_their_own(fresh):
    with kms_engine(fresh) as maker:
        made = [maker.create("ECDSA", 256) for _ in range(3)]
    known = {made[0].ref, made[1].ref}
    with kms_engine(fresh) as driver:
        sent = Sent(driver._conn.client())
        listed = {k.ref: k for k in driver.inventory(known)}
        assert set(listed) == {k.ref for k in made}
        for ref in known:  # present, nothing else read
            assert listed[ref].light and (listed[ref].public_key, listed[ref].state, listed[ref].key_id) == (None, None, "")
        new = listed[made[2].ref]
        assert not new.light and new.key_id == made[2].key_id and new.state == "Enabled"
        assert (sent.count("DescribeKey"), sent.count("GetPublicKey")) == (1, 1)  # the unknown key only
        sent.clear()
        full = {k.ref: k for k in driver.inventory(known, full=True)}
        assert {k.key_id for k in full.values()} == {k.key_id for k in made} and not any(k.light for k in full.values())
        assert sent.count("DescribeKey") == 3


def test_kms_re_sync_lists_only_and_a_full_sync_sees_states_changed_outside(kms, fresh):
    aws = fresh.client("kms", "us-east-2")
    kids = [aws.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"] for _ in range(4)]
    kms.engines.register("AWS_KMS", "aws", options=fresh.options(region="us-east-2"), secret=SECRET)
    (first,) = kms.inventory.sync("aws")
    assert len(first.adopted) == 4
    sent = Sent(kms.context.driver("aws")._conn.client())
    aws.disable_key(KeyId=kids[0])
    aws.schedule_key_deletion(KeyId=kids[1], PendingWindowInDays=7)
    (second,) = kms.inventory.sync("aws")
    assert sent.names() == ["ListAliases", "ListKeys"]  # one page each; nothing per key
    assert (second.seen, second.unchanged, second.adopted, second.missing) == (4, 4, [], [])
    assert {r.state for r in kms.keys.list()} == {"Enabled"}  # not seen without a full sync
    sent.clear()
    (third,) = kms.inventory.sync("aws", full=True)
    assert sent.count("DescribeKey") == 4 and (third.unchanged, third.missing) == (4, [])
    records = {r.native_ref: r for r in kms.keys.list()}
    assert [records[kid].state for kid in kids] == ["Disabled", "PendingDeletion", "Enabled", "Enabled"]
    assert {r.status for r in records.values()} == {"ok"}  # a key pending deletion is still held, not missing
    aws.cancel_key_deletion(KeyId=kids[1])
    aws.enable_key(KeyId=kids[0])
    kms.inventory.sync("aws", full=True)
    assert [kms.keys.resolve(r.key_id).state for r in records.values()].count("Enabled") == 3  # AWS leaves [1] Disabled


def test_secrets_known_and_deleted_outside_is_flagged_missing_from_the_listing_alone(kms, fresh):
    private = ec.generate_private_key(ec.SECP256R1())
    key_id = K.key_id_of(private.public_key())
    aws = fresh.client("secretsmanager", "sa-east-1")
    aws.create_secret(Name=key_id, SecretString=lamassu_secret(private))
    kms.engines.register("AWS_SECRETS_MANAGER", "aws-sm", options=fresh.options(region="sa-east-1"), secret=SECRET)
    kept = kms.keys.create("ECDSA", 256, "kept", engine_id="aws-sm")
    (first,) = kms.inventory.sync("aws-sm")
    assert first.adopted == [key_id] and first.unchanged == 1
    sent = Sent(kms.context.driver("aws-sm")._conn.client())
    aws.delete_secret(SecretId=key_id, ForceDeleteWithoutRecovery=True)
    (second,) = kms.inventory.sync("aws-sm")
    assert (second.missing, second.unchanged) == ([key_id], 1)
    assert kms.keys.resolve(key_id).status == "missing" and kms.keys.resolve("kept").status == "ok"
    aws.create_secret(Name=key_id, SecretString=lamassu_secret(private))  # put back as it was
    (third,) = kms.inventory.sync("aws-sm")
    assert (third.restored, third.unchanged, third.adopted) == ([key_id], 1, [])
    assert set(sent.names()) == {"ListSecrets"} and not PER_KEY & set(sent.names())
    assert kms.keys.resolve(key_id).status == "ok" and kms.keys.resolve(kept.key_id).public_key == kept.public_key
