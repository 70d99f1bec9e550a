"""Backup and restore under M-of-N custody through the service, on software engines.

A key made with a backup policy is wrapped under a fresh KEK split into SLIP-39 shares; any M
shares restore it into another engine as the very same key. The attacks: too few shares, a
mistyped word, shares of two backups mixed, a changed byte in the file, a key without a policy,
a restore run twice, a failure after the unwrap; and the KEK and the shares found nowhere.
"""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from engines import keys as K
from engines.algorithms import MessageType, signing_algorithm
from engines.errors import InvalidInput, KeyExists, OperationNotSupported
from engines.software.engine import SoftwareEngine
from kms_tui.service import backup as B
from kms_tui.service import backup_policy as P
from kms_tui.service.errors import Conflict, KmsError, Refused

ALG = "ECDSA_SHA_256"


def second_engine(kms, tmp_path, engine_id="soft-b"):
    kms.engines.register("GOLANG", engine_id, options={"directory": str(tmp_path / engine_id), "encrypt": "false"})
    return engine_id


def backed_up(kms, path, refs=("root",), threshold=3, custodians=5):
    """(the backup as read, the shares handed out: custodian k's at k - 1)."""
    handed = []
    with open(path, "xb") as out:
        kms.backup.create(list(refs), custodians=custodians, threshold=threshold, out=out, hand_out=handed.append)
    (share_set,) = handed
    return kms.backup.read(path.read_bytes()), list(share_set.shares)


def verifies_with(public_pem: str, signature: bytes, data: bytes) -> bool:
    return K.verify_with(K.load_public_pem(public_pem), signing_algorithm(ALG), data, MessageType.RAW, signature)


def pick(shares, *custodians):
    return [shares[k - 1] for k in custodians]


@pytest.fixture
def root(kms):
    record = kms.keys.create("ECDSA", 256, "root", backup=(3, 5), aliases=["ca-root"], tags=["pki"])
    kms.keys.bind("root", "ca", "root-ca")
    return record


def test_3_of_5_restores_from_any_three_as_the_same_key(kms, tmp_path, root):
    assert kms.backup.state(root) == "policy 3-of-5; not backed up yet"
    backup, shares = backed_up(kms, tmp_path / "root.backup")
    assert len(shares) == 5 and len({s.split()[0] for s in shares}) == 1  # one share set
    state = kms.backup.state(kms.keys.resolve("root"))
    assert state.startswith("policy 3-of-5; backed up to 5 custodians on ") and backup.sha256[:16] in state
    (row,) = [r for r in kms.audit.rows(limit=100) if r.action == "key.backup"]
    assert row.details["key_ids"] == [root.key_id] and row.details["file_sha256"] == backup.sha256
    assert (row.details["custodians"], row.details["threshold"], row.details["share_set"]) == (5, 3, backup.identifier)

    b, c = second_engine(kms, tmp_path), second_engine(kms, tmp_path, "soft-c")
    first = kms.backup.restore(backup, pick(shares, 1, 3, 5), b, name="root-b")
    second = kms.backup.restore(backup, pick(shares, 5, 2, 4), c, name="root-c")  # any order
    for restored, name, engine_id in ((first, "root-b", b), (second, "root-c", c)):
        (key,) = restored.keys
        assert (key.record.key_id, key.record.name, key.record.engine_id) == (root.key_id, name, engine_id)
        assert key.aliases_left == ["ca-root"]  # still the original's here: not carried over
        assert key.record.tags == ["pki"] and key.record.bindings == [{"resource_type": "ca", "resource_id": "root-ca"}]
        signature = kms.signing.sign(name, ALG, b"challenge")
        assert verifies_with(root.public_key, signature, b"challenge")  # the original public key
        assert kms.backup.state(key.record).startswith("restored on ")
    restores = [r for r in kms.audit.rows(limit=100) if r.action == "key.restore"]
    assert {r.engine_id for r in restores} == {b, c} and all(r.details["file_sha256"] == backup.sha256 for r in restores)

    with pytest.raises(Conflict, match="already in engine 'soft-b'"):  # run twice
        kms.backup.restore(backup, pick(shares, 2, 3, 4), b, name="root-b2")
    with pytest.raises(Conflict, match="--name"):  # the original's name is still recorded
        kms.backup.restore(backup, pick(shares, 2, 3, 4), second_engine(kms, tmp_path, "soft-d"))


def test_too_few_mistyped_and_mixed_shares_are_refused(kms, tmp_path, root):
    backup, shares = backed_up(kms, tmp_path / "a.backup")
    other, other_shares = backed_up(kms, tmp_path / "b.backup")
    b = second_engine(kms, tmp_path)
    with pytest.raises(InvalidInput, match="2 share.s. given; this backup needs 3"):
        kms.backup.restore(backup, pick(shares, 1, 2), b, name="x")
    words = shares[2].split()
    swapped = words[:7] + [next(w for w in ("academic", "acid", "acne") if w != words[7])] + words[8:]
    with pytest.raises(InvalidInput, match="checksum") as checksum:
        kms.backup.restore(backup, [shares[0], shares[1], " ".join(swapped)], b, name="x")
    with pytest.raises(InvalidInput, match="Word 8 of the share is not a SLIP-39 word") as unknown:
        kms.backup.restore(backup, [shares[0], shares[1], " ".join(words[:7] + ["bitcoin"] + words[8:])], b, name="x")
    with pytest.raises(InvalidInput, match="another backup"):
        kms.backup.restore(backup, [shares[0], shares[1], other_shares[2]], b, name="x")
    with pytest.raises(InvalidInput, match="already given"):
        kms.backup.restore(backup, [shares[0], shares[0], shares[1]], b, name="x")
    for error in (checksum.value, unknown.value):  # no words echoed (SLIP-39's text quotes the first five)
        assert not any(" ".join(words[n:n + 2]) in str(error) for n in range(len(words) - 1))
        assert "bitcoin" not in str(error) and '"' not in str(error)
    assert kms.backup.check_share(other, other_shares[3]) == 4
    assert kms.keys.by_key_id(root.key_id)[0].engine_id == "golang-default" and len(kms.keys.by_key_id(root.key_id)) == 1


def _changed(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1
    return data.replace(old, new, 1)


def test_a_changed_byte_is_refused_before_anything_is_unwrapped(kms, tmp_path, root, monkeypatch):
    path = tmp_path / "root.backup"
    backup, shares = backed_up(kms, path)
    unwraps = []
    real = SoftwareEngine.unwrap_key
    monkeypatch.setattr(SoftwareEngine, "unwrap_key", lambda self, *a, **k: unwraps.append(a) or real(self, *a, **k))
    b = second_engine(kms, tmp_path)
    data = path.read_bytes()
    document = json.loads(data)
    blob = base64.b64decode(document["keys"][0]["wrapped"])
    flipped = base64.b64encode(blob[:9] + bytes([blob[9] ^ 1]) + blob[10:]).decode()
    tampered = [
        _changed(data, b'"name": "root"', b'"name": "roou"'),
        _changed(data, document["keys"][0]["wrapped"].encode(), flipped.encode()),
        _changed(data, b'"security_level": 0', b'"security_level": 1'),
    ]
    for changed in tampered:
        with pytest.raises(KmsError, match="does not authenticate"):
            kms.backup.restore(kms.backup.read(changed), pick(shares, 1, 2, 3), b, name="x",
                               confirm_lower_level=True)
    assert unwraps == [] and kms.keys.by_key_id(root.key_id)[0].engine_id == "golang-default"
    for unreadable in (data[:-20], b"[" * 100_000):  # cut short; nested deeper than any JSON reader goes
        with pytest.raises(InvalidInput, match="not JSON"):
            kms.backup.read(unreadable)
    kms.backup.restore(backup, pick(shares, 1, 2, 3), b, name="x")  # the file as written still restores
    assert len(unwraps) == 1


def test_keys_without_the_policy_are_refused_and_nothing_is_written(kms, tmp_path, root):
    kms.keys.create("ECDSA", 256, "plain")
    for refs, m, n, match in ((["root", "plain"], 3, 5, "made without a backup policy"),
                              (["root"], 2, 5, "backed up 3-of-5, not 2-of-5"),
                              (["root"], 1, 5, "threshold of 1 with 5 custodians")):
        path = tmp_path / f"{m}-{len(refs)}.backup"
        with open(path, "xb") as out, pytest.raises(KmsError, match=match):
            kms.backup.create(refs, custodians=n, threshold=m, out=out, hand_out=pytest.fail)
        assert path.read_bytes() == b""
    assert [r for r in kms.audit.rows(limit=100) if r.action == "key.backup"] == []
    assert P.parse_policy("3-of-5") == (3, 5) and P.parse_policy("1-of-1") == (1, 1)
    for bad in ("3-5", "0-of-2", "5-of-3", "3-of-17", "2-of-1", "x"):
        with pytest.raises(InvalidInput):
            P.parse_policy(bad)
    with pytest.raises(InvalidInput, match="kms-tui's own"):
        kms.keys.create("ECDSA", 256, "forged", metadata={P.POLICY_KEY: "1-of-1"})
    kms.keys.set_metadata("root", {"note": "x"})  # a metadata edit keeps the policy
    assert kms.keys.resolve("root").metadata[P.POLICY_KEY] == "3-of-5"


def test_engines_whose_material_never_leaves_refuse_a_policy():
    class Sealed(SoftwareEngine):
        BACKUP_WRAP = False
        DISPLAY = "AWS KMS"

    driver = object.__new__(Sealed)
    driver.engine_id = "aws"
    with pytest.raises(Refused, match="never lets key material leave it") as info:
        P.with_policy({}, (3, 5), driver)
    assert "BYOK" in str(info.value) and "escrow" in str(info.value)
    from engines.base import EngineDriver

    assert EngineDriver.BACKUP_WRAP is False and EngineDriver.leftover_backup_keks(driver) == []
    with pytest.raises(OperationNotSupported):
        EngineDriver.wrap_key(driver, "ref", bytes(32))


def test_a_failure_after_the_unwrap_leaves_no_key_and_a_lower_level_needs_confirming(
        kms, tmp_path, root, monkeypatch):
    kms.context.store.update_engine("golang-default", security_level=2)
    backup, shares = backed_up(kms, tmp_path / "root.backup")
    b = second_engine(kms, tmp_path)
    with pytest.raises(Refused, match="security level 2.*level 0"):
        kms.backup.restore(backup, pick(shares, 1, 2, 3), b, name="x")
    assert kms.backup.lower_levels(backup, b)

    def broken(self, *args, **kwargs):
        raise InvalidInput("the engine failed mid-way")

    monkeypatch.setattr(SoftwareEngine, "sign", broken)
    with pytest.raises(KmsError, match="failed its signature check"):
        kms.backup.restore(backup, pick(shares, 1, 2, 3), b, name="x", confirm_lower_level=True)
    assert not list((tmp_path / b).glob(f"{root.key_id}*")) and kms.keys.by_name("x") is None
    monkeypatch.undo()
    # The engine never overwrites: a key already held there is refused, never replaced.
    with pytest.raises(KeyExists):
        _rewrap_into_source(kms, root)
    # A kill between the unwrap and the record leaves the key in the engine, unrecorded: a retry
    # says so (and how to record it), it never writes the key a second time.
    from shamir_mnemonic import combine_mnemonics

    killed = kms.context.driver(b).unwrap_key(backup.keys[0].wrapped, combine_mnemonics(pick(shares, 1, 2, 3)),
                                              K.load_public_pem(root.public_key), label="x")
    with pytest.raises(Conflict, match="nothing here records it") as info:
        kms.backup.restore(backup, pick(shares, 1, 2, 3), b, name="x", confirm_lower_level=True)
    assert f"kms-tui sync {b}" in str(info.value)
    kms.context.driver(b).discard(killed.ref)
    restored = kms.backup.restore(backup, pick(shares, 1, 2, 3), b, name="x", confirm_lower_level=True)
    assert restored.keys[0].record.key_id == root.key_id and list((tmp_path / b).glob(f"{root.key_id}*"))


def _rewrap_into_source(kms, root):
    driver = kms.context.driver("golang-default")
    kek = bytes(range(32))
    wrapped = driver.wrap_key(root.native_ref, kek)
    driver.unwrap_key(wrapped, kek, K.load_public_pem(root.public_key), label="again")


def test_the_kek_and_the_shares_are_found_nowhere(kms, tmp_path, root, monkeypatch, data_dir):
    kek = secrets.token_bytes(32)
    monkeypatch.setattr(B, "_new_kek", lambda: kek)
    backup, shares = backed_up(kms, tmp_path / "root.backup")
    kms.backup.restore(backup, pick(shares, 1, 2, 3), second_engine(kms, tmp_path), name="x")
    sentinels = [kek, kek.hex().encode(), base64.b64encode(kek), base64.b64encode(kek)[:24]]
    for share in shares:
        words = share.split()
        sentinels += [share.encode(), " ".join(words[4:12]).encode(), json.dumps(words[4:8]).encode()]
    audit = json.dumps([r.details for r in kms.audit.rows(limit=1000)]).encode()
    places = {"audit": audit, "backup file": (tmp_path / "root.backup").read_bytes()}
    places.update({str(p): p.read_bytes() for p in data_dir.rglob("*") if p.is_file()})
    places.update({str(p): p.read_bytes() for p in (tmp_path / "soft-b").rglob("*") if p.is_file()})
    assert len(places) > 3
    for where, data in places.items():
        for sentinel in sentinels:
            assert sentinel not in data, f"a KEK or share sentinel is in {where}"


def test_a_token_s_zero_padded_wrap_restores_and_other_trailing_bytes_do_not(kms, root):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

    driver = kms.context.driver("golang-default")
    kek = bytes(range(32))
    der = aes_key_unwrap(driver.wrap_key(root.native_ref, kek), kek)
    public = K.load_public_pem(root.public_key)
    assert serialization.load_der_private_key(der, None).public_key() == public
    pad = -len(der) % 8 or 8  # SoftHSM2 zero-pads the key to whole blocks before CKM_AES_KEY_WRAP_PAD
    with pytest.raises(KeyExists):  # parsed, then refused only because the engine holds it already
        driver.unwrap_key(aes_key_wrap_with_padding(kek, der + bytes(pad)), kek, public, label="x")
    with pytest.raises(InvalidInput, match="not a PKCS#8 private key"):
        driver.unwrap_key(aes_key_wrap_with_padding(kek, der + b"\x00\x01"), kek, public, label="x")
    with pytest.raises(InvalidInput, match="does not open under this backup's key"):
        driver.unwrap_key(aes_key_wrap_with_padding(bytes(32), der), kek, public, label="x")


def aes_key_unwrap(wrapped: bytes, kek: bytes) -> bytes:
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding

    return aes_key_unwrap_with_padding(kek, wrapped)


def test_one_file_holds_several_keys_each_renamed_on_restore(kms, tmp_path, root):
    kms.keys.create("Ed25519", 256, "signer", backup=(3, 5), aliases=["release"])
    backup, shares = backed_up(kms, tmp_path / "two.backup", refs=("root", "signer", "ca-root"))
    assert [k.name for k in backup.keys] == ["root", "signer"]  # one entry per key, however named
    b = second_engine(kms, tmp_path)
    with pytest.raises(InvalidInput, match="holds 2 keys; name each as ORIGINAL=NEW"):
        kms.backup.restore(backup, pick(shares, 1, 2, 3), b, name="root-b")
    with pytest.raises(Conflict, match="--name signer=NEW"):
        kms.backup.restore(backup, pick(shares, 1, 2, 3), b, name={"root": "root-b"})
    with pytest.raises(InvalidInput, match="no key named 'nope'"):
        kms.backup.restore(backup, pick(shares, 1, 2, 3), b, name={"nope": "x"})
    done = kms.backup.restore(backup, pick(shares, 4, 2, 3), b, name={"root": "root-b", "signer": "signer-b"})
    assert [(k.record.name, k.aliases_left) for k in done.keys] == [("root-b", ["ca-root"]), ("signer-b", ["release"])]
    for name, alg in (("root-b", ALG), ("signer-b", "ED25519")):
        assert kms.signing.verify(name.removesuffix("-b"), alg, b"m", kms.signing.sign(name, alg, b"m"))


def test_a_restore_that_fails_on_its_second_key_keeps_none_and_can_run_again(kms, tmp_path, root, monkeypatch):
    kms.keys.create("Ed25519", 256, "signer", backup=(3, 5))
    backup, shares = backed_up(kms, tmp_path / "two.backup", refs=("root", "signer"))
    b = second_engine(kms, tmp_path)
    names = {"root": "root-b", "signer": "signer-b"}
    real = SoftwareEngine.unwrap_key

    def second_fails(self, wrapped, kek, public_key, *, label):
        if label == "signer-b":
            raise InvalidInput("the engine cannot take this key")
        return real(self, wrapped, kek, public_key, label=label)

    monkeypatch.setattr(SoftwareEngine, "unwrap_key", second_fails)
    with pytest.raises(InvalidInput, match="cannot take this key"):
        kms.backup.restore(backup, pick(shares, 1, 2, 3), b, name=names)
    assert not [r for r in kms.keys.list() if r.engine_id == b] and not [
        p for k in backup.keys for p in (tmp_path / b).glob(f"{k.key_id}*")]
    assert not [r for r in kms.audit.rows(limit=100) if r.action == "key.restore"]
    monkeypatch.undo()
    done = kms.backup.restore(backup, pick(shares, 1, 2, 3), b, name=names)
    assert [k.record.name for k in done.keys] == ["root-b", "signer-b"]


def test_an_import_cannot_claim_a_backup_that_never_happened(kms):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    forged = {P.POLICY_KEY: "3-of-5", P.LAST_KEY: {"date": "2026-01-01T00:00:00Z", "custodians": 5, "threshold": 3,
                                                    "file_sha256": "0" * 64, "share_set": 1}}
    with pytest.raises(InvalidInput, match="kms-tui's own"):
        kms.keys.import_key(pem, "imported", metadata=forged)
    assert kms.keys.by_name("imported") is None


def test_nothing_of_a_changed_file_is_used_before_its_mac_is_checked(kms, tmp_path, root, monkeypatch):
    path = tmp_path / "root.backup"
    _, shares = backed_up(kms, path)
    kms.keys.create("ECDSA", 256, "taken")
    b = second_engine(kms, tmp_path)
    # A name taken here, an alias list too long to look up: the MAC refuses the file first.
    changed = _changed(path.read_bytes(), b'"name": "root"', b'"name": "taken"')
    with pytest.raises(KmsError, match="does not authenticate"):
        kms.backup.restore(kms.backup.read(changed), pick(shares, 1, 2, 3), b)
    document = json.loads(path.read_bytes())
    document["keys"][0]["aliases"] = [f"a{n}" for n in range(50_000)]
    calls = []
    store = kms.context.store
    real = store.key_by_alias
    monkeypatch.setattr(store, "key_by_alias", lambda alias: calls.append(alias) or real(alias))
    with pytest.raises(KmsError, match="does not authenticate"):
        kms.backup.restore(kms.backup.read(json.dumps(document).encode()), pick(shares, 1, 2, 3), b, name="x")
    assert calls == []


def test_a_new_key_cannot_claim_a_rotation_that_never_happened(kms, root):
    from kms_tui.service import retirement

    forged = {retirement.PREDECESSOR: {"engine_id": root.engine_id, "key_id": root.key_id, "name": "root", "ts": "2026"}}
    with pytest.raises(InvalidInput, match="kms-tui's own"):
        kms.keys.create("ECDSA", 256, "claims-root", metadata=forged)
    assert kms.keys.by_name("claims-root") is None


def test_the_cli_keeps_a_handed_out_backup_file_when_recording_it_fails(kms, tmp_path, root, monkeypatch, capsys):
    """Custodians who wrote their shares down hold the only way into that very file: it is never deleted
    once the hand-out finished; before that, the file is useless and goes."""
    import argparse
    import contextlib

    from kms_tui.cli import backup_cmds as C

    monkeypatch.setattr(C, "controlling_terminal", lambda: contextlib.nullcontext(None))
    monkeypatch.setattr(C, "hand_out", lambda shares, terminal: None)

    def fails(*args, **kwargs):
        raise Conflict("the database is locked")

    monkeypatch.setattr(B.BackupService, "_record_backup", fails)
    args = argparse.Namespace(refs=["root"], custodians=5, threshold=3, out=str(tmp_path / "kept.backup"),
                              so_pin_stdin=False, json=False)
    with pytest.raises(Conflict):
        C.backup(kms, args)
    assert kms.backup.read((tmp_path / "kept.backup").read_bytes()).keys[0].key_id == root.key_id
    assert "is kept" in capsys.readouterr().err

    def interrupted(shares, terminal):
        raise KeyboardInterrupt  # custodian 2 of 5 walked away: the file is useless without every share

    monkeypatch.setattr(C, "hand_out", interrupted)
    args.out = str(tmp_path / "gone.backup")
    with pytest.raises(KeyboardInterrupt):
        C.backup(kms, args)
    assert not (tmp_path / "gone.backup").exists()
