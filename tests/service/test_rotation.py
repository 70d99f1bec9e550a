"""Key rotation through the service on the software engine: aliases move in one transaction, the two
keys are linked, the predecessor is retired (it verifies, it signs only when allowed)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kms_tui.service import retirement as R
from kms_tui.service.errors import KmsError, Refused
from kms_tui.service.rotation_doctor import rotation_findings
from kms_tui.service.rotation_links import open_rotations
from store.errors import Conflict as StoreConflict

ALG = "ECDSA_SHA_256"


@dataclass
class Item:
    id: object
    line: int
    data: bytes | None
    error: str | None = None


def actions(kms):
    return [r.action for r in kms.audit.rows(limit=1000, newest_first=False)]


def where_aliases(kms, *aliases):
    """Alias -> the names of the keys holding it (always exactly one when the store is right)."""
    return {a: [k.name for k in kms.keys.list() if a in k.aliases] for a in aliases}


def test_rotation_moves_aliases_links_and_retires(kms):
    old = kms.keys.create("ECDSA", 256, "app", aliases=["app-current", "billing"])
    kms.keys.bind("app", "ca", "ca-1")
    before = kms.signing.sign("app", ALG, b"m")
    result = kms.rotation.rotate("billing")
    new = result.successor
    assert new.name == "app-v2" and (new.algorithm, new.size, new.engine_id) == ("ECDSA", 256, old.engine_id)
    assert sorted(new.aliases) == ["app-current", "billing"] and result.predecessor.aliases == []
    assert result.bindings_left == [{"resource_type": "ca", "resource_id": "ca-1"}] and not result.bindings_moved
    assert kms.keys.resolve("billing").key_id == new.key_id
    assert kms.rotation.links("app").lines[0].startswith("Rotated to app-v2 on ")
    assert kms.rotation.links("app-v2").lines[0].startswith("Successor of app (since ")
    assert result.predecessor.bindings == old.bindings + [{"resource_type": "ca", "resource_id": "ca-1"}]
    with pytest.raises(Refused, match=r"retired \(rotated to 'app-v2'.*--allow-retired"):
        kms.signing.sign("app", ALG, b"m")
    with pytest.raises(Refused, match="retired"):
        kms.signing.sign_batch("app", ALG, [Item(1, 1, b"x")], emit=lambda *a: None)
    assert kms.signing.verify("app", ALG, b"m", before)  # still verifies
    allowed = kms.signing.sign("app", ALG, b"m", allow_retired=True)
    assert kms.signing.verify("app", ALG, b"m", allowed)
    out = []
    summary = kms.signing.sign_batch("app", ALG, [Item(1, 1, b"x")], emit=lambda *a: out.append(a),
                                     allow_retired=True)
    assert summary.signed == 1 and kms.signing.verify("app", ALG, b"x", out[0][2])
    assert kms.signing.verify("billing", ALG, b"m", kms.signing.sign("billing", ALG, b"m"))  # the alias: new key
    kms.keys.set_metadata("app", {"note": "x"})  # a metadata edit does not un-retire
    with pytest.raises(Refused, match="retired"):
        kms.signing.sign("app", ALG, b"m")
    rows = actions(kms)
    start = rows.index("key.rotate.intent")
    assert rows[start:start + 6] == ["key.rotate.intent", "key.create", "key.alias.move", "key.alias.move",
                                     "key.retire", "key.rotate"]
    [signed] = [r for r in kms.audit.rows(limit=1000, action="key.sign") if r.details.get("retired")]
    [batch] = [r for r in kms.audit.rows(limit=1000, action="key.sign_batch") if r.details.get("retired")]
    assert signed.key_id == batch.key_id == old.key_id
    assert open_rotations(kms.context.store) == []


def test_rotating_twice_is_refused_and_the_successor_rotates_on(kms):
    kms.keys.create("ECDSA", 256, "svc", aliases=["svc-now"])
    kms.keys.bind("svc", "service", "s1")
    kms.rotation.rotate("svc")
    with pytest.raises(Refused, match="already rotated to 'svc-v2'"):
        kms.rotation.rotate("svc")
    assert [k.name for k in kms.keys.list()] == ["svc", "svc-v2"]  # no second successor
    third = kms.rotation.rotate("svc-now", move_bindings=True)
    assert third.successor.name == "svc-v3" and third.successor.aliases == ["svc-now"]
    assert third.bindings_moved == [] and third.bindings_left == []  # svc-v2 had none; svc keeps its own
    for bad, said in (({"algorithm": "RSA"}, "Say the size"), ({"size": 1000}, "1000"), ({"name": "svc"}, "'svc'")):
        with pytest.raises(KmsError, match=said):
            kms.rotation.rotate("svc-v3", **bad)
    assert open_rotations(kms.context.store) == [] and "key.rotate.abandoned" not in actions(kms)
    moved = kms.rotation.rotate("svc-v3", algorithm="RSA", size=2048, name="svc-rsa")
    assert (moved.successor.algorithm, moved.successor.size, moved.successor.name) == ("RSA", 2048, "svc-rsa")
    kms.keys.bind("svc-rsa", "service", "s2")
    last = kms.rotation.rotate("svc-rsa", move_bindings=True)
    assert last.successor.name == "svc-rsa-v2" and last.successor.bindings == [
        {"resource_type": "service", "resource_id": "s2"}] and last.predecessor.bindings == []
    assert actions(kms)[-2:] == ["key.bind", "key.unbind"]


def test_a_kill_inside_the_move_rolls_everything_back_and_doctor_closes_it(kms, monkeypatch):
    kms.keys.create("ECDSA", 256, "db", aliases=["db-a", "db-b", "db-c"])
    store = kms.context.store
    real = store.audit.append

    def killed(action, **kwargs):
        if action == "key.retire":  # inside the transaction, after every alias row moved
            raise KeyboardInterrupt
        return real(action, **kwargs)

    monkeypatch.setattr(store.audit, "append", killed)
    with pytest.raises(KeyboardInterrupt):
        kms.rotation.rotate("db")
    monkeypatch.setattr(store.audit, "append", real)
    assert where_aliases(kms, "db-a", "db-b", "db-c") == {a: ["db"] for a in ("db-a", "db-b", "db-c")}
    assert kms.keys.resolve("db-v2").aliases == [] and not R.is_retired(kms.keys.resolve("db"))
    assert "key.alias.move" not in actions(kms)
    with pytest.raises(Refused, match="did not finish.*") as refused:
        kms.rotation.rotate("db")
    assert "doctor --repair" in refused.value.hint
    [finding] = rotation_findings(kms.context, repair=True)
    assert finding.repaired and "abandoned" in finding.message
    again = kms.rotation.rotate("db")  # db-v2 stays an ordinary key: the next free name
    assert again.successor.name == "db-v3" and sorted(again.successor.aliases) == ["db-a", "db-b", "db-c"]
    kms.keys.create("ECDSA", 256, "cache", aliases=["cache-a"])

    def conflict(*args, **kwargs):
        raise StoreConflict("another process took the alias")

    monkeypatch.setattr(store, "move_aliases", conflict)  # an error the service sees: recorded at once
    with pytest.raises(KmsError, match="another process"):
        kms.rotation.rotate("cache")
    assert kms.keys.resolve("cache-a").name == "cache" and open_rotations(store) == []
    [row] = kms.audit.rows(limit=1, action="key.rotate.abandoned")
    assert "cache-v2 is an ordinary key" in row.details["outcome"]


def test_a_successor_link_edited_to_a_missing_key_is_named_and_refused(kms):
    kms.keys.create("ECDSA", 256, "edited")
    store = kms.context.store
    record = kms.keys.resolve("edited")
    store.update_key(record.engine_id, record.key_id, metadata={R.SUCCESSOR: {"engine_id": "golang-default",
                                                                              "key_id": "ab" * 32}})
    links = kms.rotation.links("edited")
    assert links.successor.missing and "not recorded here" in links.lines[0]
    with pytest.raises(Refused, match=r"rotated to key abababab.*not recorded here"):
        kms.rotation.rotate("edited")
    with pytest.raises(Refused, match="retired"):
        kms.signing.sign("edited", ALG, b"m")
    store.update_key(record.engine_id, record.key_id, metadata={R.SUCCESSOR: "garbage"})
    assert kms.rotation.links("edited").successor.missing
    assert [k.name for k in kms.keys.list()] == ["edited"]


def test_a_key_under_a_backup_policy_hands_it_to_its_successor(kms):
    from kms_tui.service.backup_policy import POLICY_KEY

    kms.keys.create("ECDSA", 256, "root", backup=(2, 3))
    successor = kms.rotation.rotate("root").successor
    assert successor.metadata[POLICY_KEY] == "2-of-3"  # it can be backed up under the same custody
    kms.keys.create("ECDSA", 256, "plain")
    assert POLICY_KEY not in kms.rotation.rotate("plain").successor.metadata


def test_moving_bindings_leaves_a_certificate_binding_with_the_key_it_certifies(kms):
    kms.keys.create("ECDSA", 256, "web")
    kms.keys.bind("web", "ca", "web-ca")
    kms.keys.bind("web", "certificate", "ab" * 32)
    plan = kms.rotation.plan("web")
    assert plan.movable_bindings == [{"resource_type": "ca", "resource_id": "web-ca"}]
    result = kms.rotation.rotate("web", move_bindings=True)
    assert result.bindings_moved == [{"resource_type": "ca", "resource_id": "web-ca"}]
    assert result.bindings_left == [{"resource_type": "certificate", "resource_id": "ab" * 32}]
    assert kms.keys.resolve("web").bindings == result.bindings_left
    assert result.successor.bindings == result.bindings_moved
