"""Keys kms-tui makes on a SoftHSM2 token, used by the PKCS#11 clients the compatibility check speaks for.

OpenSSL signs with them through its PKCS#11 engine (Debian's libengine-pkcs11-openssl; bookworm has no
PKCS#11 provider) and ``ssh-keygen -D`` lists them; each client's behaviour must match the verdict of
``kms_tui.service.compat`` — an Ed25519 key's too: ssh-keygen skips it, and once it is on the token
OpenSSL's engine cannot enumerate the token, so no key of it loads.

The token lives in a store of its own, loaded through a copy of the module (one loaded module reads
one SoftHSM configuration): the Ed25519 key made here must not reach the tokens other tests use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from kms_tui.service import Kms, compat
from store import CredentialStore
from tests.engines.pkcs11.softhsm import SO_PIN, USER_PIN, private_module, require_tools
from tests.memory_keyring import MemoryKeyring

TOKEN = "interop"
OPENSSL_ENGINE = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so"
OPENSSL = "OpenSSL (libengine-pkcs11-openssl)"
SSH_KEYGEN = "ssh-keygen -D"


def _require_clients() -> None:
    missing = [t for t in ("openssl", "ssh-keygen") if shutil.which(t) is None]
    if missing or not os.path.exists(OPENSSL_ENGINE):
        pytest.fail(f"{', '.join(missing) or OPENSSL_ENGINE} missing: run bash tests/run.sh "
                    "(it installs libengine-pkcs11-openssl and openssh-client)")


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    """(the client environment, the module copy) of a fresh token store with one token."""
    require_tools()
    _require_clients()
    base = tmp_path_factory.mktemp("interop")
    (base / "tokens").mkdir()
    conf, module = base / "softhsm2.conf", base / "libsofthsm2-interop.so"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf), "OPENSSL_CONF": str(base / "openssl.cnf")}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--so-pin", SO_PIN,
                    "--pin", USER_PIN], env=env, check=True, capture_output=True)
    # The engine reads its module and PIN from the configuration: no PIN in any argv.
    (base / "openssl.cnf").write_text(
        "openssl_conf = init\n[init]\nengines = engines\n[engines]\npkcs11 = pkcs11\n"
        f"[pkcs11]\nengine_id = pkcs11\nMODULE_PATH = {module}\nPIN = {USER_PIN}\ninit = 0\n")
    return env, private_module(conf, module)


def _openssl_signs(env, record, message: Path, tmp: Path) -> bool:
    """Whether OpenSSL signs a SHA-256 digest with the key through the engine, verified with the recorded key."""
    digest, signature, public = tmp / "digest", tmp / f"{record.name}.sig", tmp / f"{record.name}.pub"
    digest.write_bytes(subprocess.run(["openssl", "dgst", "-sha256", "-binary", str(message)], env=env,
                                      check=True, capture_output=True).stdout)
    public.write_text(record.public_key)
    signed = subprocess.run(["openssl", "pkeyutl", "-engine", "pkcs11", "-keyform", "engine", "-inkey",
                             record.pkcs11_uri, "-sign", "-in", str(digest), "-out", str(signature)],
                            env=env, capture_output=True)
    if signed.returncode != 0 or not signature.stat().st_size:
        return False
    verified = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public), "-in", str(digest),
                               "-sigfile", str(signature)], env=env, capture_output=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr  # a signature made is a right one
    return True


def _ssh_blob(record) -> str:
    key = serialization.load_pem_public_key(record.public_key.encode())
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode().split()[1]


def _ssh_listed(env, module: str) -> tuple[set[str], int]:
    """(the keys ssh-keygen -D lists as ssh keys, how many it lists as "ssh-unknown": keys ssh cannot use)."""
    listed = subprocess.run(["ssh-keygen", "-D", module], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    lines = [line.split() for line in listed.stdout.splitlines() if len(line.split()) > 1]
    return {blob for kind, blob, *_ in lines if kind != "ssh-unknown"}, sum(kind == "ssh-unknown" for kind, *_ in lines)


def _verdict(record, client: str) -> bool:
    found = compat.check("PKCS11", False, record.algorithm, record.size).verdict(client)
    assert found is not None
    return found.usable


def test_openssl_and_ssh_keygen_do_what_the_check_says(token, tmp_path):
    env, module = token
    message = tmp_path / "message"
    message.write_bytes(b"firmware image 1.4.2")
    with Kms(tmp_path / "data", credentials=CredentialStore(backend=MemoryKeyring())) as kms:
        kms.engines.register("PKCS11", "hsm", options={"module": module, "token": TOKEN}, secret=USER_PIN)
        usable = [kms.keys.create(alg, size, f"{alg.lower()}-{size}", engine_id="hsm")
                  for alg, size in (("RSA", 2048), ("ECDSA", 256))]
        p224 = kms.keys.create("ECDSA", 224, "ecdsa-224", engine_id="hsm")
        for record in usable:
            assert _verdict(record, OPENSSL) and _verdict(record, SSH_KEYGEN)
            assert _openssl_signs(env, record, message, tmp_path), record.name
        assert _verdict(p224, OPENSSL) and _openssl_signs(env, p224, message, tmp_path)
        assert not _verdict(p224, SSH_KEYGEN)
        assert _ssh_listed(env, module) == ({_ssh_blob(r) for r in usable}, 1)  # P-224: "ssh-unknown"

        ed = kms.keys.create("Ed25519", 256, "ed25519", engine_id="hsm")
        assert not _verdict(ed, OPENSSL) and not _verdict(ed, SSH_KEYGEN)
        assert _ssh_listed(env, module) == ({_ssh_blob(r) for r in usable}, 1)  # skipped; the others still listed
        # The verdict's reason: with an Ed25519 key on the token, OpenSSL loads none of its keys.
        assert not any(_openssl_signs(env, record, message, tmp_path) for record in (*usable, p224))
        kms.keys.delete("ed25519", force=True)
        # Sanity: the token is usable again once the Ed25519 key is gone (it was the Ed25519 key).
        assert _openssl_signs(env, usable[0], message, tmp_path)
