"""``kms-tui keys sign`` and ``doctor`` when a key record or key file was changed behind kms-tui's back.

Through the command line: a refused signature is exit code 3 with one line on stderr and
nothing on stdout, an audit row says why, and doctor exits 1 without ever printing
"Healthy" or claiming a repair it did not make.
"""

from __future__ import annotations

import json
import sqlite3
import time

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from engines import keys as K

REFUSED = b"kms-tui: Key does not match its id: "


def tamper(cli, sql: str, *params) -> None:
    conn = sqlite3.connect(str(cli.data_dir / "kms.db"), isolation_level=None)
    try:
        conn.execute(sql, params)
    finally:
        conn.close()


def refused(cli, name: str) -> None:
    proc = cli("keys", "sign", name, "--algorithm", "ECDSA_SHA_256", input=b"payload", code=3)
    assert proc.stdout == b"" and len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(REFUSED)


def unhealthy(cli, *args: str) -> str:
    out = cli("doctor", *args, code=1).stdout.decode()
    assert "Healthy" not in out
    assert not [line for line in out.splitlines() if "consistency:" in line and "[repaired]" in line]
    return out


def test_a_record_pointed_at_another_key_signs_nothing(process_cli):
    cli = process_cli  # the main path through the real entry point
    a = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "a")
    b = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "b")
    cli("keys", "sign", "a", "--algorithm", "ECDSA_SHA_256", input=b"payload")
    tamper(cli, "UPDATE keys SET native_ref = ? WHERE name = 'a'", b["native_ref"])
    refused(cli, "a")
    assert "ERROR consistency: a" in unhealthy(cli)
    deep = json.loads(cli("doctor", "--deep", "--json", code=1).stdout)
    assert deep["clean"] is False
    rows = [r for r in cli.json("audit", "list", "--limit", "100") if r["action"] == "key.integrity_failure"]
    assert {(r["key_id"], r["details"]["operation"]) for r in rows} == {(a["key_id"], "sign"), (a["key_id"], "doctor")}


def test_a_forged_key_id_and_a_swapped_public_key_are_refused(cli, tmp_path):
    cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "a")
    b = cli.json("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "b")
    signature = tmp_path / "b.sig"
    cli("keys", "sign", "b", "--algorithm", "ECDSA_SHA_256", "--out", str(signature), input=b"payload")
    tamper(cli, "UPDATE keys SET public_key = ? WHERE name = 'a'", b["public_key"])
    proc = cli("keys", "verify", "a", "--algorithm", "ECDSA_SHA_256", "--signature", str(signature),
               input=b"payload", code=3)
    assert proc.stderr.startswith(REFUSED)
    tamper(cli, "UPDATE keys SET key_id = ? WHERE name = 'b'", "b" * 64)
    refused(cli, "b")
    assert "ERROR database: b" in unhealthy(cli) and "ERROR database: a" in unhealthy(cli)


def test_an_overwritten_legacy_key_file_is_refused_and_never_repaired(cli):
    first, second = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ski = x509.SubjectKeyIdentifier.from_public_key(first.public_key()).digest.hex()
    cli("engines", "list")  # first run: the data directory and the default engine
    path = cli.key_dir() / ski
    for directory in (path.parent.parent, path.parent):  # private, as kms-tui makes them
        directory.mkdir(mode=0o700, exist_ok=True)
        directory.chmod(0o700)
    path.write_bytes(K.private_pkcs8_pem(first))
    path.chmod(0o600)
    cli("sync")
    name = cli.json("keys", "show", K.key_id_of(first.public_key()))["name"]
    cli("keys", "sign", name, "--algorithm", "ECDSA_SHA_256", input=b"payload")
    time.sleep(0.01)
    path.write_bytes(K.private_pkcs8_pem(second))
    refused(cli, name)
    for args in (("--repair",), (), ("--deep",)):
        assert f"ERROR consistency: {name}" in unhealthy(cli, *args)
