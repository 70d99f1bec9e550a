"""The PKCS#11 engine through the installed command, on SoftHSM2 and a real Secret Service.

Every test here runs ``kms-tui`` as a process: SoftHSM reads its configuration and its token
list when a process first loads it, and these tests have tokens and a restricted configuration
of their own.

Each error an operator can hit (wrong PIN, missing module, a file that is no PKCS#11
module, a missing token, a mechanism the token lacks) ends with exit code 3 and one
specific line on stderr.
"""

from __future__ import annotations

import base64
import sqlite3

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from tests.cli.runner import ProcessCli
from tests.engines.pkcs11.softhsm import MODULE, RESTRICTED_TOKEN, USER_PIN, SoftHsm, make_softhsm

MESSAGE = b"a certificate signing request's body"


@pytest.fixture(scope="module")
def hsm(tmp_path_factory) -> SoftHsm:
    return make_softhsm(tmp_path_factory.mktemp("softhsm-cli"), tokens=("cli", "other"))


@pytest.fixture
def p11(secret_service, hsm, tmp_path) -> ProcessCli:
    return ProcessCli(hsm.env(base=secret_service), tmp_path / "data")


def add(cli: ProcessCli, token: str = "cli", pin: str = USER_PIN, module: str = MODULE, code: int = 0):
    return cli("engines", "add", "PKCS11", "--id", "hsm", "--option", f"module={module}", "--option",
               f"token={token}", "--secret-stdin", input=pin + "\n", code=code)


def failure(proc) -> str:
    """The one stderr line of a failed command."""
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_register_create_sign_verify_delete(p11, hsm, tmp_path):
    tokens = {t["label"]: t for t in p11.json("engines", "discover", "PKCS11", "--option", f"module={MODULE}")["token"]}
    assert tokens["cli"]["initialized"] and tokens["other"]["model"] == "SoftHSM v2"
    add(p11)
    assert p11.json("engines", "show", "hsm")["supported_key_types"]["Ed25519"] == [256]
    key = p11.json("keys", "create", "--engine", "hsm", "--algorithm", "ECDSA", "--size", "384", "--name", "root-ca")
    assert key["pkcs11_uri"].startswith("pkcs11:token=cli;id=%") and key["engine_id"] == "hsm"
    assert sorted(o["kind"] for o in hsm.objects("cli") if o.get("label") == key["key_id"]) == ["Private Key", "Public Key"]
    signature = tmp_path / "sig"
    p11("keys", "sign", key["pkcs11_uri"], "--algorithm", "ECDSA_SHA_384", "--out", str(signature), input=MESSAGE)
    public = serialization.load_pem_public_key(p11("keys", "export-public", "root-ca").stdout)
    public.verify(base64.b64decode(signature.read_bytes()), MESSAGE, ec.ECDSA(hashes.SHA384()))  # DER, checked
    p11("keys", "verify", "root-ca", "--algorithm", "ECDSA_SHA_384", "--signature", str(signature), input=MESSAGE)
    # The PIN went to the keyring: not to SQLite, not to the log.
    for path in p11.data_dir.rglob("*"):
        if path.is_file():
            assert USER_PIN.encode() not in path.read_bytes(), path
    with sqlite3.connect(p11.data_dir / "kms.db") as db:
        assert USER_PIN not in repr(db.execute("SELECT * FROM engines").fetchall())
    p11("keys", "delete", "root-ca", "--yes")
    assert not [o for o in hsm.objects("cli") if o.get("label") == key["key_id"]]


def test_adopts_a_key_made_by_pkcs11_tool(p11, hsm):
    add(p11, token="other")
    hsm.tool("other", "--keypairgen", "--key-type", "rsa:2048", "--label", "made-elsewhere", "--id", "4242")
    report = p11.json("sync", "hsm")
    assert len(report[0]["adopted"]) == 1
    shown = p11.json("keys", "show", "made-elsewhere")
    assert shown["pkcs11_uri"] == "pkcs11:token=other;id=%42%42;object=made-elsewhere;type=private"
    signed = p11("keys", "sign", "made-elsewhere", "--algorithm", "RSASSA_PSS_SHA_512", input=MESSAGE).stdout
    public = serialization.load_pem_public_key(p11("keys", "export-public", "made-elsewhere").stdout)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
    public.verify(base64.b64decode(signed), MESSAGE, pss, hashes.SHA512())


def test_wrong_pin(p11):
    line = failure(add(p11, pin="wrong-pin-0000", code=3))
    assert line.startswith(f"kms-tui: Wrong PIN: The user PIN of token 'cli' of module {MODULE} is wrong.")
    assert "CKF_USER_PIN_COUNT_LOW" in line and "wrong-pin-0000" not in line
    assert [e["id"] for e in p11.json("engines", "list")] == ["golang-default"]
    # A new PIN for a registered engine is tried on the token before it replaces the stored one.
    add(p11)
    line = failure(p11("engines", "secret", "hsm", "--secret-stdin", input="changed-elsewhere\n", code=3))
    assert line.startswith("kms-tui: Wrong PIN: The user PIN of token 'cli'")
    p11("keys", "create", "--engine", "hsm", "--algorithm", "ECDSA", "--size", "256", "--name", "k")
    assert b"reachable" in p11("engines", "test", "hsm").stdout


def test_missing_module(p11):
    line = failure(add(p11, module="/nonexistent/libvendor-p11.so", code=3))
    assert line == ("kms-tui: PKCS#11 module not found: The PKCS#11 module file /nonexistent/libvendor-p11.so does "
                    "not exist. Give the path of the vendor's PKCS#11 library (.so).")


def test_a_file_that_is_not_a_pkcs11_module(p11, tmp_path):
    fake = tmp_path / "libfake.so"
    fake.write_text("#!/bin/sh\n")
    line = failure(add(p11, module=str(fake), code=3))
    assert line.startswith(f"kms-tui: Not a PKCS#11 module: {fake} is not a PKCS#11 module")
    line = failure(p11("engines", "discover", "PKCS11", "--option", f"module={fake}", code=3))
    assert line.startswith("kms-tui: Not a PKCS#11 module:")


def test_missing_token(p11):
    line = failure(add(p11, token="no-such-token", code=3))
    assert line.startswith(f"kms-tui: Token not found: Module {MODULE} has no token labelled 'no-such-token'. "
                           "Tokens: 'cli' (serial ")
    assert "'other' (serial " in line


def test_mechanism_the_token_lacks(secret_service, hsm, tmp_path):
    limited = ProcessCli(hsm.env(restricted=True, base=secret_service), tmp_path / "data")
    add(limited, token=RESTRICTED_TOKEN)
    line = failure(limited("keys", "create", "--engine", "hsm", "--algorithm", "Ed25519", "--size", "256",
                           "--name", "ed", code=3))
    assert line.startswith("kms-tui: Unsupported key type: This engine cannot create Ed25519 keys: the token has no "
                           "CKM_EC_EDWARDS_KEY_PAIR_GEN mechanism.")
    limited("keys", "create", "--engine", "hsm", "--algorithm", "RSA", "--size", "2048", "--name", "rsa")
    line = failure(limited("keys", "sign", "rsa", "--algorithm", "RSASSA_PSS_SHA_256", input=MESSAGE, code=3))
    assert line == (f"kms-tui: Mechanism not supported: Token 'restricted' of module {MODULE} has no "
                    "CKM_RSA_PKCS_PSS mechanism: it cannot sign RSASSA_PSS_SHA_256.")
    limited("keys", "sign", "rsa", "--algorithm", "RSASSA_PKCS1_V1_5_SHA_256", input=MESSAGE)


def test_sign_by_any_spelling_of_the_key_uri(p11, tmp_path):
    """RFC 7512 attributes in another order and escaping, with another tool's query attributes and a
    PIN (never read, never shown), and Lamassu's ``token-id`` form (lamassuiot/lamassuiot
    core/pkg/models/kms.go, ``Key.AfterFind``) all name the key; a URI naming none says what it sought."""
    add(p11)
    key = p11.json("keys", "create", "--engine", "hsm", "--algorithm", "ECDSA", "--size", "256", "--name", "uri-key")
    pin = "pin-in-the-uri-7731"
    reordered = f"pkcs11:type=private;object={key['key_id']};id={key['key_id']};token=cli?module-path={MODULE}" \
                f"&pin-value={pin}"
    signature = tmp_path / "sig"
    p11("keys", "sign", reordered, "--algorithm", "ECDSA_SHA_256", "--out", str(signature), input=MESSAGE)
    public = serialization.load_pem_public_key(key["public_key"].encode())
    public.verify(base64.b64decode(signature.read_bytes()), MESSAGE, ec.ECDSA(hashes.SHA256()))
    lamassu = f"pkcs11:token-id=hsm;id={key['key_id']};type=private"
    assert p11.json("keys", "show", lamassu)["name"] == "uri-key"
    line = failure(p11("keys", "sign", f"pkcs11:id=%99;token=cli?pin-value={pin}", "--algorithm", "ECDSA_SHA_256",
                       input=MESSAGE, code=3))
    assert line == ("kms-tui: Key not found: No recorded key matches the pkcs11: URI (token 'cli', id 99). "
                    "Try: kms-tui keys list --filter TEXT (keys show NAME prints a key's URI).")
    with sqlite3.connect(p11.data_dir / "kms.db") as db:
        assert pin not in repr(db.execute("SELECT * FROM audit").fetchall())
    assert not [path for path in p11.data_dir.rglob("*") if path.is_file() and pin.encode() in path.read_bytes()]
