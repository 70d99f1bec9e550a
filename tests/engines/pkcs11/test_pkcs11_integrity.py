"""A PKCS#11 signature comes only from the recorded key (DESIGN §7.2), on SoftHSM2.

The token belongs to this module (its own copy of the library reads its own
configuration), so ``doctor`` sees only the keys made here; each test empties it.
Key pairs are replaced with ``pkcs11-tool``, as another program on the workstation could.
"""

from __future__ import annotations

import pytest

from engines.errors import KeyIntegrityError
from kms_tui.batch import BatchItem
from tests.engines.pkcs11.softhsm import USER_PIN, make_softhsm, private_module
from tests.service.test_key_integrity import refused_rows, tamper

TOKEN = "integrity"
MESSAGE = b"tbsCertificate"
LEGACY = "3f2a9c4e5b6d7e8f90a1b2c3d4e5f60718293a4b"  # a 40-hex (SKI-style) label, as older tools wrote


@pytest.fixture(scope="module")
def hsm(tmp_path_factory):
    """A token store and a copy of the library loaded with its configuration (read at C_Initialize only)."""
    hsm = make_softhsm(tmp_path_factory.mktemp("softhsm-integrity"), tokens=(TOKEN,))
    hsm.module = private_module(hsm.conf, hsm.base / "libsofthsm2-integrity.so")
    return hsm


@pytest.fixture
def p11(kms, hsm):
    kms.engines.register("PKCS11", "hsm", options={"module": hsm.module, "token": TOKEN}, secret=USER_PIN,
                        make_default=True)
    yield kms
    kms.context.driver("hsm")._link.run("empty the token", lambda shared: [
        obj.destroy() for obj in list(shared.session.get_objects())])


def pair(hsm, label: str, object_id: str) -> None:
    """A P-256 pair made by pkcs11-tool under ``label`` and ``object_id`` (hex)."""
    hsm.tool(TOKEN, "--keypairgen", "--key-type", "EC:prime256v1", "--label", label, "--id", object_id)


def replace_pair(hsm, label: str, object_id: str) -> None:
    for kind in ("privkey", "pubkey"):
        hsm.tool(TOKEN, "--delete-object", "--type", kind, "--label", label)
    pair(hsm, label, object_id)


def sign_batch(kms, ref: str):
    return kms.signing.sign_batch(ref, "ECDSA_SHA_256", [BatchItem(1, 1, MESSAGE)], emit=lambda *result: None)


def consistency_errors(report) -> list[str]:
    return [f.subject for f in report.open_findings if f.check == "consistency" and f.severity == "error"]


def test_a_record_pointed_at_another_token_key_does_not_sign(p11):
    a = p11.keys.create("ECDSA", 256, "a")
    b = p11.keys.create("ECDSA", 256, "b")
    tamper(p11, "UPDATE keys SET native_ref = ? WHERE name = 'a'", b.native_ref)
    for attempt in (lambda: p11.signing.sign("a", "ECDSA_SHA_256", MESSAGE), lambda: sign_batch(p11, "a")):
        with pytest.raises(KeyIntegrityError):
            attempt()
    assert [(r.engine_id, r.key_id) for r in refused_rows(p11)] == [("hsm", a.key_id)] * 2
    assert not any(r.action in ("key.sign", "key.sign_batch") for r in p11.audit.rows(limit=1000))
    assert consistency_errors(p11.doctor.run()) == ["a"]
    assert consistency_errors(p11.doctor.run(repair=True, deep=True)) == ["a"]


def test_a_token_key_record_with_another_public_key_or_a_forged_id_is_refused(p11):
    p11.keys.create("ECDSA", 256, "a")
    b = p11.keys.create("ECDSA", 256, "b")
    p11.keys.create("ECDSA", 256, "c")
    theirs = p11.signing.sign("b", "ECDSA_SHA_256", MESSAGE)
    tamper(p11, "UPDATE keys SET public_key = ? WHERE name = 'a'", b.public_key)
    tamper(p11, "UPDATE keys SET key_id = ? WHERE name = 'c'", "c" * 64)
    with pytest.raises(KeyIntegrityError):
        p11.signing.verify("a", "ECDSA_SHA_256", MESSAGE, theirs)
    for name in ("a", "c"):
        with pytest.raises(KeyIntegrityError):
            p11.signing.sign(name, "ECDSA_SHA_256", MESSAGE)
    report = p11.doctor.run()
    assert sorted(f.subject for f in report.open_findings if f.check == "database") == ["a", "c"]


def test_a_legacy_labelled_pair_replaced_on_the_token_does_not_sign(p11, hsm):
    pair(hsm, LEGACY, LEGACY)
    (report,) = p11.inventory.sync("hsm")
    record = p11.keys.resolve(report.adopted[0])
    assert record.native_ref == LEGACY and p11.signing.sign(record.name, "ECDSA_SHA_256", MESSAGE)
    replace_pair(hsm, LEGACY, LEGACY)
    p11.context.forget_driver("hsm")  # a new process: nothing proven yet
    with pytest.raises(KeyIntegrityError):
        p11.signing.sign(record.name, "ECDSA_SHA_256", MESSAGE)
    for repair in (False, True):
        found = p11.doctor.run(repair=repair)
        assert consistency_errors(found) == [record.name]
        assert not any(f.repaired for f in found.findings if f.check == "consistency")


def test_a_pair_replaced_after_its_proof_gives_no_signature(p11, hsm):
    """The proof is kept for the process; the signature's own check catches what changed since."""
    pair(hsm, "ca-key", "0a0b")
    (report,) = p11.inventory.sync("hsm")
    record = p11.keys.resolve(report.adopted[0])
    assert p11.signing.sign(record.name, "ECDSA_SHA_256", MESSAGE)  # proven now
    replace_pair(hsm, "ca-key", "0a0b")
    with pytest.raises(KeyIntegrityError, match="does not verify"):
        p11.signing.sign(record.name, "ECDSA_SHA_256", MESSAGE)
    with pytest.raises(KeyIntegrityError):
        sign_batch(p11, record.name)  # a batch proves afresh
    assert [r.details["operation"] for r in refused_rows(p11)] == ["sign_batch", "sign"]
    assert [r.action for r in p11.audit.rows(limit=1000)].count("key.sign") == 1
