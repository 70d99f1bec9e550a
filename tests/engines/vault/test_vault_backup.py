"""Backup and restore with Vault KV v2 engines (OpenBao): a key kept as a KV secret is wrapped from one
mount and restored into another as the same key; a restore to a lower security level asks first."""

from __future__ import annotations

import pytest

from engines import keys as K
from engines.algorithms import MessageType, signing_algorithm
from kms_tui.service.errors import Refused

TYPE = "HASHICORP_VAULT_KV_V2"
ALG = "ECDSA_SHA_256"


def _vault(kms, openbao, lab, engine_id: str) -> str:
    options = {"address": openbao.address, "mount": openbao.new_mount(), "timeout": "5", "security_level": "1"}
    kms.engines.register(TYPE, engine_id, options=options, secret=lab.full_token)
    return engine_id


def test_a_vault_key_restores_into_another_vault_as_the_same_key(kms, openbao, lab, tmp_path):
    source, target = _vault(kms, openbao, lab, "vault-a"), _vault(kms, openbao, lab, "vault-b")
    root = kms.keys.create("ECDSA", 256, "root", engine_id=source, backup=(2, 3))
    handed = []
    with open(tmp_path / "root.backup", "xb") as out:
        kms.backup.create(["root"], custodians=3, threshold=2, out=out, hand_out=handed.append)
    backup = kms.backup.read((tmp_path / "root.backup").read_bytes())
    shares = handed[0].shares
    assert backup.keys[0].security_level == 1 and backup.keys[0].engine_type == TYPE
    with pytest.raises(Refused, match="security level 1"):  # SL1 → the software engine's SL0
        kms.backup.restore(backup, [shares[0], shares[2]], "golang-default", name="root-soft")
    (restored,) = kms.backup.restore(backup, [shares[2], shares[1]], target, name="root-b").keys
    assert (restored.record.key_id, restored.record.engine_id) == (root.key_id, target)
    signature = kms.signing.sign("root-b", ALG, b"challenge")
    assert K.verify_with(K.load_public_pem(root.public_key), signing_algorithm(ALG), b"challenge", MessageType.RAW,
                         signature)
    assert kms.context.driver(target).get(restored.record.native_ref).key_id == root.key_id
