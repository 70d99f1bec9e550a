"""A signature comes only from the recorded key (DESIGN §7.2), on the software engine.

Each test edits kms.db or a key file the way someone with write access could, then
asks for a signature or a verification: none may be produced or accepted, a
``KeyIntegrityError`` says why, and an audit row records the refusal (with no
``key.sign`` row written for it).
"""

from __future__ import annotations

import sqlite3
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from engines import keys as K
from engines.errors import KeyIntegrityError
from kms_tui.batch import BatchItem

MESSAGE = b"tbsCertificate"


def tamper(kms, sql: str, *params) -> None:
    """Change kms.db behind the service's back, as another program could."""
    conn = sqlite3.connect(str(kms.context.store.path), isolation_level=None)
    try:
        conn.execute(sql, params)
    finally:
        conn.close()


def actions(kms) -> list[str]:
    return [row.action for row in kms.audit.rows(limit=1000)]


def refused_rows(kms):
    return [row for row in kms.audit.rows(limit=1000) if row.action == "key.integrity_failure"]


def batch(kms, ref: str, count: int = 3):
    emitted = []
    summary = kms.signing.sign_batch(ref, "ECDSA_SHA_256", [BatchItem(n, n + 1, b"m%d" % n) for n in range(count)],
                             emit=lambda *result: emitted.append(result))
    return summary, emitted


def test_a_record_pointed_at_another_key_does_not_sign(kms):
    a = kms.keys.create("ECDSA", 256, "a")
    b = kms.keys.create("ECDSA", 256, "b")
    assert kms.signing.sign("a", "ECDSA_SHA_256", MESSAGE)  # proven and kept for the process
    signs_before = actions(kms).count("key.sign")
    tamper(kms, "UPDATE keys SET native_ref = ? WHERE name = 'a'", b.native_ref)
    with pytest.raises(KeyIntegrityError) as info:
        kms.signing.sign("a", "ECDSA_SHA_256", MESSAGE)
    assert a.key_id[:16] in info.value.message and b.key_id[:16] in info.value.message
    with pytest.raises(KeyIntegrityError):
        batch(kms, "a")
    assert actions(kms).count("key.sign") == signs_before and "key.sign_batch" not in actions(kms)
    rows = refused_rows(kms)
    assert [(r.engine_id, r.key_id, r.details["operation"]) for r in rows] == [
        ("golang-default", a.key_id, "sign_batch"), ("golang-default", a.key_id, "sign")]
    assert kms.signing.sign("b", "ECDSA_SHA_256", MESSAGE)  # the other key is untouched


def test_a_record_given_another_public_key_neither_verifies_nor_signs(kms):
    kms.keys.create("ECDSA", 256, "a")
    b = kms.keys.create("ECDSA", 256, "b")
    theirs = kms.signing.sign("b", "ECDSA_SHA_256", MESSAGE)
    tamper(kms, "UPDATE keys SET public_key = ? WHERE name = 'a'", b.public_key)
    with pytest.raises(KeyIntegrityError, match="does not agree with itself"):
        kms.signing.verify("a", "ECDSA_SHA_256", MESSAGE, theirs)
    with pytest.raises(KeyIntegrityError):
        kms.signing.sign("a", "ECDSA_SHA_256", MESSAGE)
    assert [r.details["operation"] for r in refused_rows(kms)] == ["sign", "verify"]


@pytest.mark.parametrize("forged", ["f" * 64, "0" * 40])
def test_a_forged_key_id_is_neither_signed_with_nor_audited_as_the_key(kms, forged):
    a = kms.keys.create("ECDSA", 256, "a")
    signature = kms.signing.sign("a", "ECDSA_SHA_256", MESSAGE)
    tamper(kms, "UPDATE keys SET key_id = ? WHERE name = 'a'", forged)
    for attempt in (lambda: kms.signing.sign("a", "ECDSA_SHA_256", MESSAGE), lambda: batch(kms, "a"),
                    lambda: kms.signing.verify("a", "ECDSA_SHA_256", MESSAGE, signature)):
        with pytest.raises(KeyIntegrityError, match="key id does not name its public key"):
            attempt()
    signed = [r for r in kms.audit.rows(limit=1000) if r.action in ("key.sign", "key.sign_batch")]
    assert [r.key_id for r in signed] == [a.key_id]  # the one signature made before the forgery
    assert len(refused_rows(kms)) == 3


def legacy_file(kms, private) -> tuple[str, str]:
    """A clear Lamassu key file named by its certificate SKI (40 hex), adopted by a sync: (name, key id)."""
    ski = x509.SubjectKeyIdentifier.from_public_key(private.public_key()).digest.hex()
    path = kms.data_dir / "keys" / "golang-default" / ski
    for directory in (path.parent.parent, path.parent):  # private, as kms-tui makes them
        directory.mkdir(mode=0o700, exist_ok=True)
        directory.chmod(0o700)
    path.write_bytes(K.private_pkcs8_pem(private))
    path.chmod(0o600)
    (report,) = kms.inventory.sync("golang-default")
    assert report.adopted == [K.key_id_of(private.public_key())]
    return ski, report.adopted[0]


def overwrite(path, private) -> None:
    """Rewrite a key file in place with another key (a new mtime, so any cached proof is stale)."""
    time.sleep(0.01)
    path.write_bytes(K.private_pkcs8_pem(private))


def test_a_legacy_named_key_file_overwritten_with_another_key_does_not_sign(kms):
    ski, key_id = legacy_file(kms, ec.generate_private_key(ec.SECP256R1()))
    record = kms.keys.resolve(key_id)
    assert record.native_ref == ski and kms.signing.sign(record.name, "ECDSA_SHA_256", MESSAGE)
    overwrite(kms.data_dir / "keys" / "golang-default" / ski, ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(KeyIntegrityError):
        kms.signing.sign(record.name, "ECDSA_SHA_256", MESSAGE)
    with pytest.raises(KeyIntegrityError):
        batch(kms, record.name)
    assert len(refused_rows(kms)) == 2 and actions(kms).count("key.sign") == 1


def test_a_proof_is_kept_for_the_process_and_made_again_when_the_file_changes(kms):
    record = kms.keys.create("ECDSA", 256, "a")
    driver = kms.context.driver("golang-default")
    proofs = []
    original = driver.prove
    driver.prove = lambda ref, public_key: (proofs.append(ref), original(ref, public_key))[1]
    for _ in range(5):
        kms.signing.sign("a", "ECDSA_SHA_256", MESSAGE)
    assert proofs == [record.native_ref]  # once for the process (a batch proves the key object it loads)
    path = kms.data_dir / "keys" / "golang-default" / record.native_ref
    data = path.read_bytes()
    time.sleep(0.01)
    path.write_bytes(data)  # the same key, rewritten: proven again
    kms.signing.sign("a", "ECDSA_SHA_256", MESSAGE)
    assert len(proofs) == 2
