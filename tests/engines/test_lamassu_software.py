"""A software engine shared with Lamassu: clear PEM only, and a directory of Lamassu's files proposes it.

Lamassu's filesystem engine (lamassuiot/lamassuiot engines/crypto/filesystem/filesystem.go,
``importKey``) writes ``<storage directory>/<key id>`` with mode 0600: the key id is the hex
SHA-256 of the PKIX public key, the content a clear PEM ``PRIVATE KEY`` block (PKCS#8, from
engines/crypto/software/software.go ``MarshalAndEncodePKIXPrivateKey``); ``GetPrivateKeyByID``
reads that file back through the same parser, so an encrypted file is unusable there.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engines.errors import EngineConfigError
from engines.testing import raises_kms
from tests.engines.lamassu_shared import refused, register_shared


def lamassu_file(directory, encrypted: bytes | None = None) -> str:
    """A key file written as Lamassu's filesystem engine writes one (or, with a passphrase, encrypted)."""
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_id = hashlib.sha256(spki).hexdigest()
    algorithm = serialization.BestAvailableEncryption(encrypted) if encrypted else serialization.NoEncryption()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, algorithm)
    directory.mkdir(mode=0o700, exist_ok=True)
    path = directory / key_id
    path.write_bytes(pem)
    os.chmod(path, 0o600)
    return key_id


def test_registered_shared_it_keeps_clear_pem_without_a_passphrase(tmp_path):
    directory = tmp_path / "lamassu-keys"
    cli = register_shared(tmp_path, "GOLANG", "fs", {"directory": str(directory)})
    shown = cli.json("engines", "show", "fs")
    assert shown["config"]["encrypt"] == "false" and not shown["has_secret"]
    created = cli.json("keys", "create", "--engine", "fs", "--algorithm", "ECDSA", "--size", "256", "--name", "k")
    written = (directory / created["key_id"]).read_bytes()
    assert written.startswith(b"-----BEGIN PRIVATE KEY-----\n"), written[:40]
    serialization.load_pem_private_key(written, None)  # clear PKCS#8, as Lamassu parses it
    # Only what Lamassu can use is offered (the create wizard lists these): no Ed25519.
    offered = cli.json("engines", "test", "fs")["supported_key_types"]
    assert sorted(offered) == ["ECDSA", "RSA"] and offered["ECDSA"] == [224, 256, 384, 521], offered
    assert sorted(shown["supported_key_types"]) == ["ECDSA", "RSA"], shown


def test_encrypt_true_on_a_shared_engine_is_refused_with_the_reason(tmp_path, kms):
    from tests.cli.runner import InProcessCli, home_env

    cli = InProcessCli(tmp_path / "data", env=home_env(tmp_path / "home"))
    line = refused(cli, "GOLANG", {"directory": str(tmp_path / "k"), "lamassu": "true", "encrypt": "true"},
                   "a long enough passphrase")
    assert "shared with Lamassu" in line and "encrypt" in line and "clear PEM" in line, line
    with raises_kms(EngineConfigError) as info:
        kms.engines.register("GOLANG", "fs", options={"directory": str(tmp_path / "k"), "lamassu": "TRUE",
                                                      "encrypt": "true"})
    assert "cannot encrypt" in str(info.value)
    with raises_kms(EngineConfigError) as info:
        kms.engines.register("GOLANG", "fs", options={"directory": str(tmp_path / "k"), "lamassu": "yes"})
    assert "must be one of true, false" in str(info.value)
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]


def test_an_engine_not_shared_stores_no_lamassu_option(kms, tmp_path):
    view = kms.engines.register("GOLANG", "plain", options={"directory": str(tmp_path / "p"), "lamassu": "false"},
                                secret="a long enough passphrase")
    assert "lamassu" not in view.record.config and not view.lamassu and view.to_json()["lamassu"] is False
    assert view.record.config["encrypt"] == "true"


def test_a_directory_of_lamassu_files_is_recognised(kms, tmp_path):
    lamassu, ours, mixed, other = (tmp_path / n for n in ("lamassu", "ours", "mixed", "other"))
    lamassu_file(lamassu)
    lamassu_file(ours, encrypted=b"passphrase-of-kms-tui")
    lamassu_file(mixed)
    lamassu_file(mixed, encrypted=b"passphrase-of-kms-tui")
    other.mkdir()
    (other / "notes.txt").write_text("-----BEGIN PRIVATE KEY-----\n")  # not a key id: not Lamassu's
    (other / ("0" * 64)).write_text("hello")  # a key id, but no private key in it
    assert kms.engines.looks_like_lamassu_directory(str(lamassu))
    for directory in (ours, mixed, other, tmp_path / "absent"):
        assert not kms.engines.looks_like_lamassu_directory(str(directory)), directory
    assert not kms.engines.looks_like_lamassu_directory("")


@pytest.mark.parametrize("given", [[], ["--option", "lamassu=false"], ["--option", "lamassu=true"]])
def test_registering_on_a_lamassu_directory_prints_the_hint_unless_the_option_is_given(tmp_path, given):
    from tests.cli.runner import InProcessCli, home_env

    directory = tmp_path / "lamassu"
    key_id = lamassu_file(directory)
    cli = InProcessCli(tmp_path / "data", env=home_env(tmp_path / "home"))
    proc = cli("engines", "add", "GOLANG", "--id", "fs", "--option", f"directory={directory}", *given,
               "--option", "encrypt=false")
    hint = [line for line in proc.stderr.decode().splitlines() if line.startswith("hint:")]
    if given:
        assert hint == []
    else:
        assert len(hint) == 1 and "--option lamassu=true" in hint[0] and "encrypt=false" in hint[0], hint
    assert str(directory) in proc.stderr.decode() or not hint
    assert key_id not in proc.stderr.decode()  # the hint names the directory, never a key


def test_no_hint_on_an_empty_directory(tmp_path):
    from tests.cli.runner import InProcessCli, home_env

    cli = InProcessCli(tmp_path / "data", env=home_env(tmp_path / "home"))
    proc = cli("engines", "add", "GOLANG", "--id", "fs", "--option", f"directory={tmp_path / 'empty'}",
               "--option", "encrypt=false")
    assert b"hint:" not in proc.stderr


def test_a_directory_holding_encrypted_keys_is_not_shared_with_lamassu(tmp_path):
    """Lamassu could not read them, and an engine with no passphrase could not either: refused, nothing changed."""
    from tests.cli.runner import InProcessCli, home_env

    directory = tmp_path / "keys"
    key_id = lamassu_file(directory, encrypted=b"an at-rest passphrase")
    before = (directory / key_id).read_bytes()
    cli = InProcessCli(tmp_path / "data", env=home_env(tmp_path / "home"))
    proc = cli("engines", "add", "GOLANG", "--id", "fs", "--option", f"directory={directory}",
               "--option", "lamassu=true", code=3)
    said = proc.stderr.decode()
    assert "1 encrypted key file(s)" in said and "reads clear PEM only" in said, said
    assert [e["id"] for e in cli.json("engines", "list")] == ["golang-default"]
    assert sorted(p.name for p in directory.iterdir()) == [key_id] and (directory / key_id).read_bytes() == before
