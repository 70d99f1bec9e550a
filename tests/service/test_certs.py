"""``kms.certs`` on the software engine: certificates bound to their keys, chains, expiry, altered rows."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from engines.errors import KeyIntegrityError
from kms_tui.service.certs import CHAIN_BAD, CHAIN_SELF_SIGNED, CHAIN_UNKNOWN, CHAIN_VERIFIED, CertService
from kms_tui.service.errors import InvalidInput, Refused


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def certificate(subject_key, cn: str, issuer_key=None, issuer_cn: str | None = None, days: int = 365,
                ca: bool = False) -> x509.Certificate:
    """A certificate of ``subject_key`` (a public key), signed by ``issuer_key`` (self-signed without one)."""
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(issuer_cn or cn))
            .public_key(subject_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                                         crl_sign=ca, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
            .sign(issuer_key, hashes.SHA256()))


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def imported(kms, key_name: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key made here and imported (so the test can sign certificates with it)."""
    private = ec.generate_private_key(ec.SECP256R1())
    data = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    kms.keys.import_key(data, key_name)
    return private


def actions(kms) -> list[str]:
    return [r.action for r in kms.audit.rows(limit=1000, newest_first=False)]


@pytest.fixture
def pki(kms):
    """A root key and a leaf key recorded; an intermediate CA known only by its certificate."""
    root_key, leaf_key = imported(kms, "root-ca"), imported(kms, "web")
    sub_key = ec.generate_private_key(ec.SECP256R1())
    root = certificate(root_key.public_key(), "Root", root_key, days=3650, ca=True)
    sub = certificate(sub_key.public_key(), "Sub", root_key, "Root", days=1800, ca=True)
    leaf = certificate(leaf_key.public_key(), "web.example", sub_key, "Sub", days=20)
    return {"root": root, "sub": sub, "leaf": leaf, "leaf_key": leaf_key}


def test_add_show_export_list_remove_with_a_chain(kms, pki):
    assert type(kms.certs) is CertService
    leaf, sub, root = pki["leaf"], pki["sub"], pki["root"]
    added = kms.certs.add(pem(leaf, sub))  # a bundle: the leaf and its issuer (a key nobody recorded)
    assert [(v.subject, v.key_name, v.source) for v in added] == [
        ("CN=web.example,O=Example", "web", "file"), ("CN=Sub,O=Example", None, "chain")]
    assert added[0].chain == CHAIN_VERIFIED and added[1].chain == CHAIN_UNKNOWN  # Root not recorded yet
    [root_view] = kms.certs.add(der(root))  # DER, of the recorded root key
    assert root_view.chain == CHAIN_SELF_SIGNED and root_view.key_name == "root-ca"
    forger = ec.generate_private_key(ec.SECP256R1())  # names Root as its issuer; Root's key did not sign it
    [forged] = kms.certs.add(pem(certificate(pki["leaf_key"].public_key(), "forged", forger, "Root", days=200)))
    assert forged.chain == CHAIN_BAD and forged.key_name == "web"
    kms.certs.remove(forged.fingerprint)
    assert kms.certs.add(pem(leaf)) == [kms.certs.show(added[0].fingerprint)]  # again: nothing new
    fp = added[0].fingerprint
    shown = kms.certs.show(fp[:8])  # a unique prefix
    assert shown.fingerprint == fp and shown.serial == format(leaf.serial_number, "x") and 18 <= shown.days_left <= 20
    bundle = x509.load_pem_x509_certificates(kms.certs.export(fp))
    assert bundle == [leaf, sub, root]
    bundle[0].verify_directly_issued_by(bundle[1])
    bundle[1].verify_directly_issued_by(bundle[2])
    assert x509.load_pem_x509_certificates(kms.certs.export(fp, chain=False)) == [leaf]
    assert [v.fingerprint for v in kms.certs.list(expiring_days=30)] == [fp]
    assert [v.subject for v in kms.certs.list()] == ["CN=web.example,O=Example", "CN=Sub,O=Example", "CN=Root,O=Example"]
    assert [v.fingerprint for v in kms.certs.list(key="root-ca")] == [root_view.fingerprint]
    assert kms.certs.expiring_counts() == {30: 1, 90: 1}
    # A certificate is a binding: the key cannot be deleted while it is bound.
    assert {"resource_type": "certificate", "resource_id": fp} in kms.keys.resolve("web").bindings
    with pytest.raises(Refused, match="bound"):
        kms.keys.delete("web")
    kms.certs.remove(fp[:12])
    assert kms.keys.resolve("web").bindings == [] and kms.certs.list(key="web") == []
    kms.keys.delete("web")
    assert actions(kms).count("cert.add") == 3 and actions(kms).count("cert.remove") == 2


def test_a_certificate_of_no_recorded_key_is_refused(kms, pki):
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(Refused, match="matches no recorded key"):
        kms.certs.add(pem(certificate(stranger.public_key(), "stranger", stranger)))
    # A bundle whose extra certificate issued nothing in it is refused whole.
    with pytest.raises(Refused, match="not kept as a chain member"):
        kms.certs.add(pem(pki["leaf"], certificate(stranger.public_key(), "stranger", stranger)))
    with pytest.raises(Refused, match="is not of key 'root-ca'"):
        kms.certs.add(pem(pki["leaf"]), key="root-ca")
    with pytest.raises(InvalidInput, match="no readable X.509"):
        kms.certs.add(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    assert kms.certs.list() == [] and "cert.add" not in actions(kms)


def test_an_edited_row_is_flagged_and_never_shown_or_exported(kms, pki, data_dir):
    """An attacker swaps the DER of the web key's certificate for the root's; then edits an expiry date."""
    [web] = kms.certs.add(pem(pki["leaf"]), key="web")
    [root] = kms.certs.add(pem(pki["root"]))
    with sqlite3.connect(data_dir / "kms.db") as con:
        con.execute("UPDATE certificates SET der = ? WHERE fingerprint = ?", [der(pki["root"]), web.fingerprint])
    with pytest.raises(KeyIntegrityError, match="fingerprint is not the SHA-256"):
        kms.certs.show(web.fingerprint)
    with pytest.raises(KeyIntegrityError):
        kms.certs.export(web.fingerprint)
    flagged = {v.fingerprint: v.intact for v in kms.certs.list()}
    assert flagged == {web.fingerprint: False, root.fingerprint: True}
    [finding] = [f for f in kms.doctor.run(timeout=5).findings if f.subject.startswith("certificate ")]
    assert finding.severity == "error" and web.fingerprint[:16] in finding.message and not finding.repairable
    with sqlite3.connect(data_dir / "kms.db") as con:
        con.execute("UPDATE certificates SET der = ?, not_after = '2099-01-01T00:00:00Z' WHERE fingerprint = ?",
                    [der(pki["leaf"]), web.fingerprint])
    with pytest.raises(KeyIntegrityError, match="not after column"):
        kms.certs.show(web.fingerprint)
    kms.certs.remove(web.fingerprint)  # an altered row can still be forgotten (and its binding goes)
    assert kms.keys.resolve("web").bindings == []
