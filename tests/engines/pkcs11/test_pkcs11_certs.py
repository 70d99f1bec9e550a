"""Certificates next to their keys on a SoftHSM2 token: what other PKCS#11 clients see, and what sync finds."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.engines.pkcs11.softhsm import MODULE, USER_PIN
from tests.engines.pkcs11.test_pkcs11_service import register
from tests.service.test_certs import certificate, der, pem


def certificate_objects(softhsm, object_id: str) -> list[dict[str, str]]:
    return [o for o in softhsm.objects("service") if o["kind"] == "Certificate" and o.get("ID") == object_id]


def test_a_certificate_is_written_next_to_its_key_and_removed_from_there(kms, softhsm):
    register(kms)
    key = kms.keys.create("ECDSA", 256, "tls-on-token")
    issuer = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(kms.keys.public_key("tls-on-token"), "tls.example", issuer, "Some CA")
    [view] = kms.certs.add(pem(cert))
    assert (view.key_name, view.engine_id) == ("tls-on-token", "hsm")
    object_id = key.key_id.encode("ascii").hex()  # the key pair's CKA_ID, as pkcs11-tool prints it
    [listed] = certificate_objects(softhsm, object_id)
    assert listed["label"] == key.key_id  # the key's CKA_LABEL
    if shutil.which("p11tool"):
        env = softhsm.env()
        env["GNUTLS_PIN"] = USER_PIN
        out = subprocess.run(["p11tool", "--provider", MODULE, "--list-all-certs", "pkcs11:token=service"],
                             env=env, capture_output=True, text=True, timeout=60).stdout
        colons = ":".join(f"{b:02x}" for b in key.key_id.encode("ascii"))
        assert f"Label: {key.key_id}" in out and f"ID: {colons}" in out and "X.509 Certificate" in out
    kms.certs.add(pem(cert))  # run twice: one object on the token, one row
    assert len(certificate_objects(softhsm, object_id)) == 1
    store = kms.context.store
    real_delete = store.delete_certificate

    def killed(fingerprint):  # the process dies after the token object went, before the row did
        store.delete_certificate = real_delete
        raise KeyboardInterrupt

    store.delete_certificate = killed
    with pytest.raises(KeyboardInterrupt):
        kms.certs.remove(view.fingerprint)
    assert certificate_objects(softhsm, object_id) == []
    assert kms.certs.show(view.fingerprint).key_name == "tls-on-token"  # still recorded: run it again
    kms.certs.remove(view.fingerprint)
    assert kms.keys.resolve("tls-on-token").bindings == []
    rows = [r for r in kms.audit.rows(limit=50, newest_first=False) if r.action == "cert.remove"]
    assert rows and rows[-1].details["on_engine"] is True


def test_sync_records_a_certificate_another_tool_wrote_next_to_a_key(kms, softhsm, tmp_path, monkeypatch):
    from engines.pkcs11.engine import Pkcs11Engine

    def key_by_key(*args):
        raise AssertionError("sync lists the token's certificates once, never a search per key")

    monkeypatch.setattr(Pkcs11Engine, "certificates", key_by_key)  # thousands of keys: one search, not thousands
    register(kms)
    softhsm.tool("service", "--keypairgen", "--key-type", "EC:prime256v1", "--label", "written-by-tool",
                 "--id", "c0ffee01")
    kms.inventory.sync("hsm")
    public = kms.keys.public_key("written-by-tool")
    issuer = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "cert.der"
    path.write_bytes(der(certificate(public, "device-7", issuer, "Device CA", days=10)))
    softhsm.tool("service", "--write-object", str(path), "--type", "cert", "--id", "c0ffee01",
                 "--label", "written-by-tool")
    stranger = ec.generate_private_key(ec.SECP256R1())  # another key's certificate under the same id: not taken
    path.write_bytes(der(certificate(stranger.public_key(), "not-this-key", issuer, "Device CA")))
    softhsm.tool("service", "--write-object", str(path), "--type", "cert", "--id", "c0ffee01")
    [report] = kms.inventory.sync("hsm")
    [view] = kms.certs.list(key="written-by-tool")
    assert report.certificates == [view.fingerprint]
    assert (view.subject, view.source, view.days_left) == ("CN=device-7,O=Example", "token", 9)
    assert kms.certs.list(expiring_days=30) == [view]
    with pytest.raises(Exception, match="bound"):
        kms.keys.delete("written-by-tool")
    [again] = kms.inventory.sync("hsm")
    assert again.certificates == []


def test_a_record_pointed_at_another_key_pair_never_gets_its_certificate_written_there(kms, softhsm):
    from engines.errors import KeyIntegrityError

    register(kms)
    mine = kms.keys.create("ECDSA", 256, "mine")
    other = kms.keys.create("ECDSA", 256, "other")
    kms.context.store.update_key("hsm", mine.key_id, native_ref=other.native_ref)  # the database edited
    cert = certificate(kms.keys.public_key("mine"), "mine.example", ec.generate_private_key(ec.SECP256R1()), "CA")
    with pytest.raises(KeyIntegrityError):
        kms.certs.add(pem(cert))
    assert certificate_objects(softhsm, other.key_id.encode("ascii").hex()) == []
    assert kms.certs.list() == []
