"""Rotation on AWS KMS (moto): the key's own KMS aliases follow the local ones (UpdateAlias), and a kill
between the two moves is completed by ``doctor --repair``."""

from __future__ import annotations

import pytest

from kms_tui.service import retirement, rotation
from kms_tui.service import rotation_links as R
from kms_tui.service.doctor_intents import intent_findings
from kms_tui.service.errors import KmsError, Refused
from tests.engines.aws.moto_server import SECRET

REGION = "il-central-1"


def targets(aws):
    return {a["AliasName"]: a.get("TargetKeyId") for a in aws.list_aliases()["Aliases"]
            if not a["AliasName"].startswith("alias/aws/")}


def test_kms_aliases_move_and_doctor_completes_a_killed_rotation(kms, moto, monkeypatch):
    kms.engines.register("AWS_KMS", "aws-rot", options=moto.options(region=REGION), secret=SECRET)
    old = kms.keys.create("ECDSA", 256, "issuer", engine_id="aws-rot", aliases=["issuer-now"])
    aws = moto.client("kms", REGION)
    aws.create_alias(AliasName="alias/issuer-app", TargetKeyId=old.native_ref)
    plan = kms.rotation.plan("issuer")
    assert plan.engine_aliases == ["alias/issuer-app"] and plan.aliases == ["issuer-now"]
    assert plan.argv() == ["keys", "rotate", "issuer", "--name", "issuer-v2"]

    def killed(*args):
        raise KeyboardInterrupt  # the process dies after the local commit, before UpdateAlias

    monkeypatch.setattr(rotation, "move_engine_aliases", killed)
    with pytest.raises(KeyboardInterrupt):
        kms.rotation.rotate("issuer")
    monkeypatch.undo()
    new = kms.keys.resolve("issuer-now")
    assert new.name == "issuer-v2" and retirement.is_retired(kms.keys.resolve("issuer"))
    assert targets(aws)["alias/issuer-app"] == old.native_ref  # not moved yet
    for half_done in ("issuer", "issuer-v2"):  # neither end of an unfinished rotation rotates
        with pytest.raises(Refused, match="did not finish"):
            kms.rotation.rotate(half_done)
    [finding] = intent_findings(kms.context, repair=True)  # doctor's check of unfinished operations
    assert finding.repaired and "1 engine alias(es) moved to 'issuer-v2'" in finding.message
    names = targets(aws)
    assert names["alias/issuer-app"] == new.native_ref
    assert names[f"alias/{old.key_id}"] == old.native_ref and names[f"alias/{new.key_id}"] == new.native_ref
    [done] = kms.audit.rows(limit=10, action="key.rotate")
    assert done.details["completed_by"] == "doctor" and R.open_rotations(kms.context.store) == []
    last = kms.rotation.rotate("issuer-v2")  # the whole path at once: local and KMS aliases move
    assert last.engine_aliases == ["alias/issuer-app"] and last.aliases == ["issuer-now"]
    assert targets(aws)["alias/issuer-app"] == last.successor.native_ref


def test_an_edited_record_never_moves_another_key_s_kms_aliases(kms, moto, monkeypatch):
    kms.engines.register("AWS_KMS", "aws-edit", options=moto.options(region=REGION), secret=SECRET)
    aws = moto.client("kms", REGION)
    store = kms.context.store
    victim = kms.keys.create("ECDSA", 256, "victim", engine_id="aws-edit")
    aws.create_alias(AliasName="alias/victim-app", TargetKeyId=victim.native_ref)
    app = kms.keys.create("ECDSA", 256, "app", engine_id="aws-edit")
    aws.create_alias(AliasName="alias/app-live", TargetKeyId=app.native_ref)
    # The predecessor's record pointed at another KMS key: its aliases are not that key's to move.
    store.update_key("aws-edit", app.key_id, native_ref=victim.native_ref)
    with pytest.raises(KmsError, match="not the recorded key"):
        kms.rotation.rotate("app")
    assert targets(aws)["alias/victim-app"] == victim.native_ref
    assert R.open_rotations(store) == []  # refused before anything started
    store.update_key("aws-edit", app.key_id, native_ref=app.native_ref)

    def killed(*args):
        raise KeyboardInterrupt  # after the local commit, before UpdateAlias

    monkeypatch.setattr(rotation, "move_engine_aliases", killed)
    with pytest.raises(KeyboardInterrupt):
        kms.rotation.rotate("app")
    monkeypatch.undo()
    # Before the repair, the predecessor's successor link is edited to name another recorded key.
    record = kms.keys.resolve("app")
    link = dict(record.metadata[retirement.SUCCESSOR], key_id=victim.key_id, name="victim")
    store.update_key("aws-edit", app.key_id, metadata={**record.metadata, retirement.SUCCESSOR: link})
    [finding] = intent_findings(kms.context, repair=True)
    assert not finding.repaired and targets(aws)["alias/app-live"] == app.native_ref
    assert R.open_rotations(store)
    # The link put back, the successor's record pointed at another KMS key instead: refused too.
    store.update_key("aws-edit", app.key_id, metadata=record.metadata)
    successor = kms.keys.resolve("app-v2")
    store.update_key("aws-edit", successor.key_id, native_ref=victim.native_ref)
    [finding] = intent_findings(kms.context, repair=True)
    assert not finding.repaired and targets(aws)["alias/app-live"] == app.native_ref
    store.update_key("aws-edit", successor.key_id, native_ref=successor.native_ref)
    [finding] = intent_findings(kms.context, repair=True)
    assert finding.repaired and targets(aws)["alias/app-live"] == successor.native_ref
