"""A full root + intermediate ceremony on SoftHSM2 through the installed command: rehearse, then run.

OpenSSL checks the chain and the CRL; ``ceremony verify`` passes, then fails after any
output file or any transcript line is changed.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess

import pytest

from kms_tui.ceremony import verify
from kms_tui.ceremony.transcript import load
from tests.ceremony.conftest import EXAMPLE
from tests.cli.runner import ProcessCli
from tests.engines.pkcs11.softhsm import MODULE, USER_PIN, SoftHsm, make_softhsm

ANSWERS = """# step 1: a deviation and a break before the administrator confirms
exception the HSM was unboxed late; serial checked against the purchase order
break coffee
resume
yes
BW
CW
""" + "yes\nBW\nCW\n" * 7


@pytest.fixture(scope="module")
def hsm(tmp_path_factory) -> SoftHsm:
    return make_softhsm(tmp_path_factory.mktemp("softhsm-ceremony"), tokens=("ceremony",))


@pytest.fixture
def p11(secret_service, hsm, tmp_path) -> ProcessCli:
    """The installed command: SoftHSM reads its configuration once per process."""
    return ProcessCli(hsm.env(base=secret_service), tmp_path / "data")


def openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


def test_rehearse_then_run_then_verify(p11, hsm, tmp_path, record_property):
    script = tmp_path / "ceremony.yaml"
    shutil.copyfile(EXAMPLE, script)
    out = tmp_path / "ceremony-2026"

    # Rehearsal: a scratch token, thrown away; the real token is untouched.
    rehearsal = p11("ceremony", "rehearse", str(script), "--output-dir", str(tmp_path / "rehearsal")).stdout.decode()
    assert "Final transcript hash" in rehearsal and "█" in rehearsal
    check = verify(tmp_path / "rehearsal" / "rehearsal-transcript.json", tmp_path / "rehearsal")
    assert check.ok and check.mode == "rehearsal", check.problems
    assert not [o for o in hsm.objects("ceremony") if o["kind"] == "Private Key"]
    assert not list((tmp_path / "data").glob("kms.db")) or not p11.json("keys", "list")

    # The real run: the registered engine, its PIN in the keyring, answers from a file.
    p11("engines", "add", "PKCS11", "--id", "ceremony-hsm", "--option", f"module={MODULE}", "--option",
        "token=ceremony", "--secret-stdin", input=USER_PIN + "\n")
    answers = tmp_path / "answers.txt"
    answers.write_text(ANSWERS)
    proc = p11("ceremony", "run", str(script), "--answers", str(answers))
    stdout = proc.stdout.decode()
    entries = load((out / "transcript.json").read_bytes()).entries
    final_hash = entries[-1]["hash"]
    assert f"paper log): {final_hash}" in stdout
    groups = [line for line in stdout.splitlines() if len(line) == 19 and line.count(" ") == 3]
    assert "".join(groups[-4:]).replace(" ", "") == final_hash  # under the large glyphs, in groups of four
    kinds = [e["kind"] for e in entries]
    assert kinds.count("step.result") == 8 and kinds.count("witness.ack") == 16 and kinds.count("key.generated") == 2
    assert kinds.count("exception") == 1 and kinds.count("break") == 1 and kinds[-1] == "ceremony.end"
    start = entries[0]
    assert start["environment"]["engine"]["token_label"] == "ceremony"
    assert start["environment"]["engine"]["token_serial"] and start["environment"]["engine"]["module"] == MODULE
    assert {"cryptography", "python-pkcs11", "PyYAML"} <= set(start["environment"]["libraries"])
    record_property("figure", f"ceremony transcript: {len(entries)} entries, final hash {final_hash}")

    # The keys live on the token, recorded and audited like any other key.
    keys = {k["name"]: k for k in p11.json("keys", "list")}
    assert set(keys) == {"example-root-2026", "example-issuing-2026"}
    assert all(k["pkcs11_uri"].startswith("pkcs11:token=ceremony;") for k in keys.values())
    with sqlite3.connect(p11.data_dir / "kms.db") as db:
        signs = db.execute("SELECT COUNT(*) FROM audit WHERE action = 'key.sign'").fetchone()[0]
    assert signs == 2 + 4  # two self-tests; root cert, CSR, intermediate cert, CRL
    for path in [*out.iterdir(), *(p11.data_dir).rglob("*")]:
        if path.is_file():
            assert USER_PIN.encode() not in path.read_bytes(), path

    # OpenSSL agrees.
    assert openssl("verify", "-CAfile", str(out / "root.pem"), str(out / "intermediate.pem")).returncode == 0
    crl = openssl("crl", "-in", str(out / "root.crl"), "-CAfile", str(out / "root.pem"), "-noout", "-verify")
    assert crl.returncode == 0 and "verify OK" in crl.stderr
    text = openssl("x509", "-in", str(out / "intermediate.pem"), "-noout", "-text").stdout
    assert "CA:TRUE, pathlen:0" in text and "http://pki.example.com/root-2026.crl" in text
    assert "OCSP - URI:http://ocsp.example.com" in text and "Policy: X509v3 Any Policy" in text

    ok = p11("ceremony", "verify", str(out / "transcript.json"), str(out)).stdout.decode()
    assert "Transcript intact" in ok

    # Any change is caught: one output byte (through the command), any transcript line.
    tampered = tmp_path / "tampered"
    shutil.copytree(out, tampered)
    data = bytearray((tampered / "root.crl").read_bytes())
    data[40] ^= 1
    (tampered / "root.crl").write_bytes(bytes(data))
    failed = p11("ceremony", "verify", str(tampered / "transcript.json"), str(tampered), code=1).stdout.decode()
    assert "root.crl was changed" in failed
    for name in [p.name for p in out.iterdir() if p.name != "transcript.json"]:
        shutil.copyfile(out / name, tampered / name)
        (tampered / name).write_bytes((out / name).read_bytes() + b"\n")
        assert not verify(tampered / "transcript.json", tampered).ok, name
        shutil.copyfile(out / name, tampered / name)
    assert verify(tampered / "transcript.json", tampered).ok
    lines = (out / "transcript.json").read_text().splitlines()
    for i, line in enumerate(lines):
        at = next(j for j, ch in enumerate(line) if ch.isalnum())  # a character that means something
        changed = line[:at] + ("x" if line[at] != "x" else "y") + line[at + 1:]
        (tampered / "transcript.json").write_text("\n".join([*lines[:i], changed, *lines[i + 1:]]) + "\n")
        assert not verify(tampered / "transcript.json", tampered).ok, f"line {i + 1} changed unnoticed"
    # The last hash of an entry changed: also caught (a value, not a key name).
    entry = lines[2]
    digest = json.loads(entry)["hash"]
    (tampered / "transcript.json").write_text("\n".join([*lines[:2], entry.replace(digest, "0" * 64), *lines[3:]]))
    assert not verify(tampered / "transcript.json", tampered).ok

    # A second run of the same script is refused before anything happens: the names are taken.
    again = p11("ceremony", "run", str(script), "--answers", str(answers), code=3).stderr.decode()
    assert "Ceremony refused" in again and "already used" in again
