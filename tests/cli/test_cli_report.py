"""``kms-tui report quantum``: the migration inventory of a software engine's mixed keys, as a table, JSON and CSV."""

from __future__ import annotations

import csv
import io
import sys
from datetime import date

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa

from kms_tui.service.quantum_report import QuantumService
from tests.service.test_certs import certificate, pem
from tests.tui.conftest import KEYS

MARK = "<the next row is read here>\n"


def _ml_dsa_pem() -> bytes:
    key = mldsa.MLDSA65PrivateKey.from_seed_bytes(bytes(range(32)))
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_report_quantum_lists_every_key_by_replace_by_date_in_each_format(cli, tmp_path, monkeypatch):
    for fixture, name in (("rsa2048.pem", "legacy-rsa"), ("p256.pem", "web-tls"), ("ed25519.pem", "firmware"),
                          ("p384.pem", "root-ca")):
        cli("keys", "import", str(KEYS / fixture), "--name", name)
    (tmp_path / "pq.pem").write_bytes(_ml_dsa_pem())
    cli("keys", "import", str(tmp_path / "pq.pem"), "--name", "pq-root")
    cli("keys", "bind", "web-tls", "--type", "service", "--id", "frontend")
    root_key = serialization.load_pem_private_key((KEYS / "p384.pem").read_bytes(), None)
    root = certificate(root_key.public_key(), "Root", root_key, days=3650, ca=True)  # ends ten years from now
    (tmp_path / "root.pem").write_bytes(pem(root))
    cli("certs", "add", str(tmp_path / "root.pem"))
    outlives = (root.not_valid_after_utc.date() - date(2030, 12, 31)).days

    rows = cli.json("report", "quantum", "--json")
    assert [(r["name"], r["replace_by"]) for r in rows] == [
        ("legacy-rsa", "2030-12-31"), ("web-tls", "2035-12-31"), ("root-ca", "2035-12-31"),
        ("firmware", "2035-12-31"), ("pq-root", None)]
    by_name = {r["name"]: r for r in rows}
    assert by_name["root-ca"]["role"] == "Root CA" and by_name["root-ca"]["suggested"] == "ML-DSA-87"
    assert by_name["root-ca"]["outlives_2030_days"] == outlives > 0
    assert by_name["root-ca"]["certificates"] == [{"subject": "CN=Root,O=Example", "not_after": root.not_valid_after_utc
                                                   .strftime("%Y-%m-%dT%H:%M:%SZ")}]
    assert (by_name["web-tls"]["role"], by_name["web-tls"]["bindings"]) == ("Other binding", ["service/frontend"])
    assert (by_name["legacy-rsa"]["strength_bits"], by_name["legacy-rsa"]["security_level"]) == ("112", 0)
    pq = by_name["pq-root"]
    assert (pq["algorithm"], pq["size"], pq["quantum_vulnerable"], pq["suggested"], pq["strength_bits"]) == (
        "ML-DSA", 65, False, None, "category 3")

    parsed = list(csv.DictReader(io.StringIO(cli("report", "quantum", "--csv").stdout.decode())))
    assert [r["name"] for r in parsed] == [r["name"] for r in rows]
    assert {(r["name"], r["quantum_vulnerable"], r["replace_by"], r["suggested"]) for r in parsed} == {
        ("legacy-rsa", "yes", "2030-12-31", "ML-DSA-65"), ("web-tls", "yes", "2035-12-31", "ML-DSA-65"),
        ("root-ca", "yes", "2035-12-31", "ML-DSA-87"), ("firmware", "yes", "2035-12-31", "ML-DSA-65"),
        ("pq-root", "no", "", "")}
    assert parsed[2]["outlives_2030_days"] == str(outlives) and "CN=Root,O=Example (until" in parsed[2]["certificates"]

    table = cli("report", "quantum").stdout.decode().splitlines()
    assert table[0].split()[:3] == ["NAME", "KEY", "ENGINE"]
    assert [line.split()[0] for line in table[2:]] == [r["name"] for r in rows]
    root_line = next(line for line in table if line.startswith("root-ca"))
    assert f"+{outlives} d" in root_line and "ML-DSA-87" in root_line and "Root CA" in root_line
    cli("report", "quantum", "--json", "--csv", code=2)
    mistyped = cli("report", "quantum", "--csv", "--engine", "golang-defualt", code=4)
    assert mistyped.stdout == b"" and b"golang-defualt" in mistyped.stderr  # not an empty report

    read = QuantumService.row

    def row_then_mark(self, *args):  # marks each row as it is read: one mark more before each row written
        found = read(self, *args)
        sys.stdout.write(MARK)
        return found

    monkeypatch.setattr(QuantumService, "row", row_then_mark)
    for fmt in ("--csv", "--json"):
        out = cli("report", "quantum", fmt).stdout.decode()
        assert [out[:out.index(r["name"])].count(MARK) for r in rows] == [1, 2, 3, 4, 5]
