"""Doctor never calls a workstation healthy while a key record and its key disagree.

The records are edited in kms.db and the key files rewritten as someone with write
access could; doctor must name each case, ``--deep`` must have the engine prove every
key, and ``--repair`` must claim only what it changed (checked again after the sync).
"""

from __future__ import annotations

import base64
import hashlib
from argparse import Namespace

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engines import keys as K
from kms_tui.cli.doctor_cmds import doctor as doctor_cmd
from tests.service.test_key_integrity import legacy_file, overwrite, refused_rows, tamper


def open_findings(report, check: str | None = None):
    """Open findings of the checks about keys (database rows, consistency with the engines)."""
    wanted = (check,) if check else ("database", "consistency")
    return [f for f in report.open_findings if f.check in wanted]


def test_a_record_pointed_at_another_key_is_found_and_proven_wrong(kms):
    kms.keys.create("ECDSA", 256, "a")
    b = kms.keys.create("ECDSA", 256, "b")
    tamper(kms, "UPDATE keys SET native_ref = ? WHERE name = 'a'", b.native_ref)
    report = kms.doctor.run()
    assert not report.clean
    (finding,) = open_findings(report)
    assert (finding.check, finding.severity, finding.subject, finding.repairable) == ("consistency", "error", "a",
                                                                                     False)
    assert kms.doctor.run(repair=True).open_findings  # nothing a sync could fix
    deep = kms.doctor.run(deep=True)
    assert [f.subject for f in open_findings(deep)] == ["a"]  # named once, not again by the proof


def test_deep_proves_every_key_and_records_what_failed(kms):
    kms.keys.create("ECDSA", 256, "a")
    kms.keys.create("Ed25519", 256, "b")
    assert open_findings(kms.doctor.run(deep=True)) == []
    assert refused_rows(kms) == []
    ski, key_id = legacy_file(kms, ec.generate_private_key(ec.SECP256R1()))
    overwrite(kms.data_dir / "keys" / "golang-default" / ski, ec.generate_private_key(ec.SECP256R1()))
    name = kms.keys.resolve(key_id).name
    report = kms.doctor.run(deep=True)
    (finding,) = open_findings(report)
    assert (finding.check, finding.subject) == ("consistency", name) and "replaced" in finding.message
    assert [(r.key_id, r.details["operation"]) for r in refused_rows(kms)] == [(key_id, "doctor")]


def test_a_changed_public_key_or_key_id_is_a_database_finding(kms):
    a = kms.keys.create("ECDSA", 256, "a")
    b = kms.keys.create("ECDSA", 256, "b")
    c = kms.keys.create("ECDSA", 256, "c")
    tamper(kms, "UPDATE keys SET public_key = ? WHERE name = 'a'", b.public_key)
    tamper(kms, "UPDATE keys SET key_id = ? WHERE name = 'c'", "e" * 64)
    report = kms.doctor.run()
    found = {f.subject: f for f in open_findings(report, "database")}
    assert set(found) == {"a", "c"} and all(f.severity == "error" for f in found.values())
    assert a.key_id[:16] in found["a"].message and c.key_id[:16] in found["c"].message
    assert report.checked["database"] == "findings"
    assert not kms.doctor.run(repair=True).clean


def test_a_record_whose_metadata_does_not_parse_is_named_not_passed_over(kms, capsys):
    kms.keys.create("ECDSA", 256, "a")
    kms.keys.create("ECDSA", 256, "b")
    tamper(kms, "UPDATE keys SET metadata = '{not json' WHERE name = 'a'")
    report = kms.doctor.run()
    assert not report.clean
    assert [(f.check, f.subject) for f in open_findings(report, "database")] == [("database", "a")]
    assert open_findings(report, "consistency")  # the engine's records could not be compared: said so
    assert doctor_cmd(kms, Namespace(json=False, repair=False)) == 1
    assert "Healthy" not in capsys.readouterr().out


def test_repair_claims_only_what_it_changed_for_an_overwritten_legacy_file(kms, capsys):
    """The key in an overwritten 40-hex file is not a new key for a sync to adopt: repair leaves it named."""
    ski, key_id = legacy_file(kms, ec.generate_private_key(ec.SECP256R1()))
    overwrite(kms.data_dir / "keys" / "golang-default" / ski, ec.generate_private_key(ec.SECP256R1()))
    for repair in (False, True, False):
        report = kms.doctor.run(repair=repair)
        assert not report.clean
        assert not any(f.repaired for f in report.findings if f.check == "consistency")
        (finding,) = open_findings(report)
        assert finding.subject == kms.keys.resolve(key_id).name and not finding.repairable
    assert doctor_cmd(kms, Namespace(json=False, repair=True, deep=True)) == 1
    out = capsys.readouterr().out
    assert "[repaired]" not in out and "Healthy" not in out


def test_a_repair_the_sync_made_is_still_claimed_after_the_check_again(kms):
    """The re-check after --repair keeps an honest "repaired": an unrecorded key the sync adopted."""
    stray = kms.context.driver("golang-default").create("ECDSA", 256)
    report = kms.doctor.run(repair=True)
    assert open_findings(report) == [] and report.checked["consistency"] == "repaired"
    assert [(f.repaired, f.changed) for f in report.findings if f.check == "consistency"] == [
        (True, "adopted by a sync of golang-default")]
    assert kms.keys.resolve(stray.key_id).status == "ok"


def test_a_key_id_that_is_the_hash_of_another_encoding_of_the_public_key_is_named(kms):
    """The recorded id is the SHA-256 of the key's DER as kms-tui writes it; a record that carries another
    encoding of the same key (a compressed point) with that encoding's hash is still named."""
    a = kms.keys.create("ECDSA", 256, "a")
    point = K.load_public_pem(a.public_key).public_bytes(serialization.Encoding.X962,
                                                          serialization.PublicFormat.CompressedPoint)
    der = K.spki_der(K.load_public_pem(a.public_key))
    algorithm = der[2:2 + 2 + der[3]]  # the AlgorithmIdentifier, as it is
    bits = bytes([0x03, len(point) + 1, 0]) + point
    compressed = bytes([0x30, len(algorithm) + len(bits)]) + algorithm + bits
    compressed_pem = _pem(compressed)
    assert K.spki_der(K.load_public_pem(compressed_pem)) == der  # the same key, read from the other encoding
    tamper(kms, "UPDATE keys SET public_key = ?, key_id = ? WHERE name = 'a'", compressed_pem,
           hashlib.sha256(compressed).hexdigest())
    (finding,) = open_findings(kms.doctor.run(), "database")
    assert finding.subject == "a" and "key id" in finding.message


def _pem(der: bytes) -> str:
    body = base64.b64encode(der).decode()
    return "-----BEGIN PUBLIC KEY-----\n" + "".join(body[i:i + 64] + "\n" for i in range(0, len(body), 64)) + (
        "-----END PUBLIC KEY-----\n")
