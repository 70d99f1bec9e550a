"""The software (GOLANG) engine: the shared contract, and what is specific to its files."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import engines
from engines import algorithms as A
from engines import keys as K
from engines.errors import (
    EngineConfigError,
    EngineUnavailable,
    KeyExists,
    KeyNotFoundInEngine,
    KeyParseError,
    OperationNotSupported,
    PassphraseChanged,
    WrongPassphrase,
)
from engines.software.engine import SoftwareEngine
from engines.testing import (
    EngineContract,
    check_kms_error,
    raises_kms,
    spki_sha256,
    verify_independently,
)

PASSPHRASE = "correct horse battery staple"
SENTINEL = "SENTINEL-7f3a-do-not-log"


class TestSoftwareContract(EngineContract):
    KEY_TYPES = (
        ("ECDSA", 224), ("ECDSA", 256), ("ECDSA", 384), ("ECDSA", 521),
        ("Ed25519", 256),
        ("RSA", 2048), ("RSA", 3072), ("RSA", 4096),
        ("ML-DSA", 44), ("ML-DSA", 65), ("ML-DSA", 87),
    )
    SLOW_SIZES = frozenset({("RSA", 3072), ("RSA", 4096), ("ML-DSA", 44), ("ML-DSA", 87)})

    @pytest.fixture(scope="class")
    def driver(self, tmp_path_factory):
        directory = tmp_path_factory.mktemp("software") / "keys" / "golang-contract"
        with SoftwareEngine("golang-contract", {"directory": str(directory)}, PASSPHRASE) as engine:
            yield engine


class TestSoftwareClearContract(EngineContract):
    """The same contract with encryption off: Lamassu's own clear layout."""

    KEY_TYPES = TestSoftwareContract.KEY_TYPES
    SLOW_SIZES = TestSoftwareContract.SLOW_SIZES

    @pytest.fixture(scope="class")
    def driver(self, tmp_path_factory):
        directory = tmp_path_factory.mktemp("software-clear") / "golang-clear"
        with SoftwareEngine("golang-clear", {"directory": str(directory), "encrypt": "false"}, None) as engine:
            yield engine


# ---------------------------------------------------------------- helpers


def make(directory: Path, secret: str | None = PASSPHRASE, **options) -> SoftwareEngine:
    return SoftwareEngine("golang-test", {"directory": str(directory), **options}, secret)


def pem(private, fmt=serialization.PrivateFormat.PKCS8, password: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return private.private_bytes(serialization.Encoding.PEM, fmt, enc)


def drop(directory: Path, name: str, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(data)
    return path


def sign_checked(engine, ref: str, public_key, name: str) -> None:
    signature = engine.sign(ref, A.signing_algorithm(name), b"payload", A.MessageType.RAW)
    verify_independently(public_key, name, b"payload", signature)


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# ---------------------------------------------------------------- files and modes


def test_file_and_directory_modes(tmp_path):
    engine = make(tmp_path / "keys")
    key = engine.create("ECDSA", 256)
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "keys" / key.key_id).stat().st_mode) == 0o600
    assert key.ref == key.key_id


def test_an_existing_directory_keeps_its_mode_on_write(tmp_path):
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    engine = make(directory)
    engine.create("Ed25519", 256)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o755  # not kms-tui's to change
    assert len(engine.warnings()) == 1 and "0755" in engine.warnings()[0]
    os.chmod(directory, 0o750)  # shared with its group only: no warning
    assert engine.warnings() == []


def test_file_mode_ignores_umask(tmp_path):
    old = os.umask(0)
    try:
        key = make(tmp_path).create("Ed25519", 256)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / key.key_id).stat().st_mode) == 0o600


def test_encrypted_at_rest_by_default(tmp_path):
    key = make(tmp_path).create("ECDSA", 384)
    data = (tmp_path / key.key_id).read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    # Readable by any PKCS#8 tool with the passphrase, e.g. a Lamassu deployment told it.
    private = serialization.load_pem_private_key(data, PASSPHRASE.encode())
    assert spki_sha256(private.public_key()) == key.key_id
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(data, None)


def test_clear_pkcs8_when_encryption_is_off(tmp_path):
    key = make(tmp_path, None, encrypt="false").create("RSA", 2048)
    data = (tmp_path / key.key_id).read_bytes()
    assert data.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert spki_sha256(serialization.load_pem_private_key(data, None).public_key()) == key.key_id


def test_encrypt_option_spellings(tmp_path):
    assert make(tmp_path, None, encrypt="FALSE").encrypt is False
    assert make(tmp_path, PASSPHRASE, encrypt=True).encrypt is True
    with raises_kms(EngineConfigError):
        make(tmp_path, PASSPHRASE, encrypt="maybe")


# ---------------------------------------------------------------- Lamassu files


def test_clear_lamassu_files_are_read_as_they_are(tmp_path, rsa_key):
    directory = tmp_path / "keys"
    keys = {
        "pkcs8": ec.generate_private_key(ec.SECP256R1()),
        "pkcs1": rsa_key,
        "sec1": ec.generate_private_key(ec.SECP384R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
    }
    traditional = serialization.PrivateFormat.TraditionalOpenSSL
    files = {
        "pkcs8": pem(keys["pkcs8"]),
        "pkcs1": pem(keys["pkcs1"], traditional),
        "sec1": pem(keys["sec1"], traditional),
        "ed25519": pem(keys["ed25519"]),
    }
    assert files["pkcs1"].startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert files["sec1"].startswith(b"-----BEGIN EC PRIVATE KEY-----")
    ids = {}
    for label, private in keys.items():
        ids[label] = spki_sha256(private.public_key())
        drop(directory, ids[label], files[label])
    engine = make(directory)  # encrypted engine: clear files still count
    listed = {k.ref: k for k in engine.inventory()}
    assert set(listed) == set(ids.values())
    for label, private in keys.items():
        key = listed[ids[label]]
        assert key.key_id == ids[label]
        assert (key.algorithm, key.size) == K.describe(private.public_key())
        sign_checked(engine, key.ref, private.public_key(), A.algorithms_for_key(key.algorithm)[0])
    engine.check()  # no encrypted file yet: nothing to prove about the passphrase
    for label in keys:  # read as they are: never rewritten
        assert (directory / ids[label]).read_bytes() == files[label]


def test_legacy_ski_named_file(tmp_path):
    private = ec.generate_private_key(ec.SECP256R1())
    legacy = hashlib.sha1(b"a certificate's subject key identifier").hexdigest()
    drop(tmp_path, legacy, pem(private))
    engine = make(tmp_path)
    (key,) = list(engine.inventory())
    assert key.ref == legacy
    assert key.key_id == spki_sha256(private.public_key()) != legacy
    assert engine.get(legacy).key_id == key.key_id
    sign_checked(engine, legacy, private.public_key(), "ECDSA_SHA_256")
    engine.delete(legacy)
    assert not (tmp_path / legacy).exists()


def test_misnamed_file_is_skipped_not_listed(tmp_path, caplog):
    """A file named by one key id that holds another key was replaced: never listed (tests/reliability)."""
    private = ed25519.Ed25519PrivateKey.generate()
    wrong_name = "ab" * 32
    drop(tmp_path, wrong_name, pem(private))
    with caplog.at_level(logging.WARNING, logger="engines.software"):
        assert list(make(tmp_path).inventory()) == []
    assert wrong_name in caplog.text


# ---------------------------------------------------------------- passphrase


def test_wrong_passphrase(tmp_path):
    key = make(tmp_path, "the right one").create("ECDSA", 256)
    other = make(tmp_path, "the wrong one")
    with raises_kms(WrongPassphrase) as info:
        other.sign(key.ref, A.signing_algorithm("ECDSA_SHA_256"), b"x", A.MessageType.RAW)
    assert key.key_id in info.value.message
    assert "the wrong one" not in str(info.value) and "the right one" not in str(info.value)
    with raises_kms(WrongPassphrase):
        other.check()
    with raises_kms(WrongPassphrase):
        other.get(key.ref)
    with raises_kms(WrongPassphrase):  # a sync must not take every key for gone
        list(other.inventory())
    make(tmp_path, "the right one").check()


def test_check_passes_when_one_encrypted_file_decrypts(tmp_path):
    make(tmp_path, PASSPHRASE).create("Ed25519", 256)
    stranger = K.generate("Ed25519", 256)  # a file under another passphrase, put there by hand
    foreign = tmp_path / K.key_id_of(stranger.public_key())
    foreign.write_bytes(K.private_pkcs8_pem(stranger, b"old passphrase"))
    os.chmod(foreign, 0o600)
    make(tmp_path, PASSPHRASE).check()


def test_no_key_is_written_under_a_passphrase_that_opens_none_of_the_files(tmp_path):
    make(tmp_path, "old passphrase").create("Ed25519", 256)
    with raises_kms(PassphraseChanged) as info:
        make(tmp_path, PASSPHRASE).create("Ed25519", 256)
    assert "two passphrases" in info.value.message
    assert len(os.listdir(tmp_path)) == 1


def test_encrypted_file_without_passphrase(tmp_path):
    key = make(tmp_path).create("Ed25519", 256)
    clear = make(tmp_path, None, encrypt="false")
    with raises_kms(WrongPassphrase) as info:
        clear.get(key.ref)
    assert "no passphrase" in info.value.message


# ---------------------------------------------------------------- hostile references

HOSTILE_REFS = [
    "../../etc/passwd", "/etc/passwd", "a" * 10000, "..", ".", "", "0" * 63, "0" * 65, "g" * 64,
    "../" + "0" * 61, "0" * 40 + "/", "a\x00" * 32, None, 12345,
]


@pytest.mark.parametrize("ref", HOSTILE_REFS, ids=lambda r: repr(r)[:20])
def test_hostile_refs_never_become_paths(tmp_path, ref):
    engine = make(tmp_path / "keys")
    with raises_kms(KeyNotFoundInEngine) as info:
        engine.get(ref)
    assert len(info.value.message) < 200
    with raises_kms(KeyNotFoundInEngine):
        engine.sign(ref, A.signing_algorithm("ED25519"), b"x", A.MessageType.RAW)
    with raises_kms(KeyNotFoundInEngine):
        engine.delete(ref)


def test_traversal_touches_nothing_outside(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("precious")
    directory = tmp_path / "keys"
    engine = make(directory)
    key = engine.create("Ed25519", 256)
    for ref in ("../outside", str(outside), "keys/../../outside", key.key_id.upper(), key.key_id[:-1]):
        with raises_kms(KeyNotFoundInEngine):
            engine.delete(ref)
        with raises_kms(KeyNotFoundInEngine):
            engine.get(ref)
    assert outside.read_text() == "precious"
    assert engine.get(key.ref).key_id == key.key_id
    assert sorted(os.listdir(tmp_path)) == ["keys", "outside"]


# ---------------------------------------------------------------- corrupt and foreign files


def test_corrupt_and_foreign_files(tmp_path, caplog):
    engine = make(tmp_path)
    good = engine.create("Ed25519", 256)
    corrupt = hashlib.sha256(b"corrupt").hexdigest()
    drop(tmp_path, corrupt, f"-----BEGIN PRIVATE KEY-----\n{SENTINEL}\n-----END PRIVATE KEY-----\n".encode())
    public_only = hashlib.sha256(b"public").hexdigest()
    drop(tmp_path, public_only, K.public_pem(ed25519.Ed25519PrivateKey.generate().public_key()).encode())
    drop(tmp_path, "README", SENTINEL.encode())
    drop(tmp_path, ".hidden", SENTINEL.encode())
    drop(tmp_path, f".{good.key_id}.0123.tmp", SENTINEL.encode())
    (tmp_path / ("c" * 64)).mkdir()  # a directory with a key's name
    with caplog.at_level(logging.WARNING, logger="engines.software"):
        listed = [k.ref for k in engine.inventory()]
    assert listed == [good.ref]
    assert corrupt in caplog.text and public_only in caplog.text and "c" * 64 in caplog.text
    assert "README" not in caplog.text and ".hidden" not in caplog.text
    assert SENTINEL not in caplog.text
    for ref in (corrupt, public_only, "c" * 64):
        with raises_kms(KeyParseError) as info:
            engine.get(ref)
        assert SENTINEL not in str(info.value)
    engine.check()


def test_oversize_file_is_not_read(tmp_path):
    name = "d" * 64
    drop(tmp_path, name, b"-" * (K.MAX_KEY_FILE_BYTES + 10))
    with raises_kms(KeyParseError):
        make(tmp_path).get(name)


# ---------------------------------------------------------------- writes


def test_atomic_write_leaves_only_key_files(tmp_path, rsa_key):
    engine = make(tmp_path)
    made = {engine.create("ECDSA", 256).ref, engine.create("Ed25519", 256).ref}
    made.add(engine.import_key(K.parse_key(pem(rsa_key))).ref)
    engine.check()
    assert set(os.listdir(tmp_path)) == made


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    engine = make(tmp_path)

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with raises_kms(EngineUnavailable):
        engine.create("Ed25519", 256)
    assert os.listdir(tmp_path) == []


def test_existing_file_is_never_overwritten(tmp_path):
    engine = make(tmp_path)
    private = ed25519.Ed25519PrivateKey.generate()
    parsed = K.parse_key(pem(private))
    engine.import_key(parsed)
    before = (tmp_path / parsed.key_id).read_bytes()
    with raises_kms(KeyExists):
        engine.import_key(parsed)
    with raises_kms(KeyExists):  # another tool wrote it in clear: still not ours to replace
        make(tmp_path, None, encrypt="false").import_key(parsed)
    assert (tmp_path / parsed.key_id).read_bytes() == before


def test_import_public_only_is_refused_clearly(tmp_path):
    parsed = K.parse_key(K.public_pem(ed25519.Ed25519PrivateKey.generate().public_key()))
    with raises_kms(OperationNotSupported) as info:
        make(tmp_path).import_key(parsed)
    assert "public" in info.value.message
    assert os.listdir(tmp_path) == []


def test_import_rsa_1024(tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    engine = make(tmp_path)
    key = engine.import_key(K.parse_key(pem(private)))
    assert (key.algorithm, key.size) == ("RSA", 1024)
    sign_checked(engine, key.ref, private.public_key(), "RSASSA_PKCS1_V1_5_SHA_256")


# ---------------------------------------------------------------- cache and threads


def test_private_key_cache(tmp_path, monkeypatch):
    engine = make(tmp_path)
    key = engine.create("ECDSA", 256)
    calls = []
    real = K.parse_key
    monkeypatch.setattr(K, "parse_key", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    for _ in range(5):
        sign_checked(engine, key.ref, key.public_key, "ECDSA_SHA_256")
    assert len(calls) == 1
    engine.delete(key.ref)
    with raises_kms(KeyNotFoundInEngine):
        engine.sign(key.ref, A.signing_algorithm("ECDSA_SHA_256"), b"x", A.MessageType.RAW)


def test_cache_notices_a_file_removed_behind_its_back(tmp_path):
    engine = make(tmp_path)
    key = engine.create("Ed25519", 256)
    sign_checked(engine, key.ref, key.public_key, "ED25519")
    (tmp_path / key.ref).unlink()
    with raises_kms(KeyNotFoundInEngine):
        engine.sign(key.ref, A.signing_algorithm("ED25519"), b"x", A.MessageType.RAW)


def test_cache_is_bounded(tmp_path):
    engine = make(tmp_path)
    refs = [engine.create("Ed25519", 256).ref for _ in range(70)]
    for ref in refs:
        engine.sign(ref, A.signing_algorithm("ED25519"), b"x", A.MessageType.RAW)
    assert len(engine._cache) <= 64


def test_concurrent_signing(tmp_path):
    engine = make(tmp_path)
    keys = [engine.create("ECDSA", 256), engine.create("Ed25519", 256)]
    errors = []

    def work():
        try:
            for i in range(20):
                key = keys[i % 2]
                sign_checked(engine, key.ref, key.public_key, A.algorithms_for_key(key.algorithm)[0])
        except Exception as exc:  # collected, re-raised by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# ---------------------------------------------------------------- configuration


def test_no_passphrase_with_encryption_on(tmp_path):
    for secret in (None, ""):
        with raises_kms(EngineConfigError):
            make(tmp_path, secret)
    assert not (tmp_path / "keys").exists()


def test_options(tmp_path):
    with raises_kms(EngineConfigError):
        make(tmp_path, colour="blue")
    with raises_kms(EngineConfigError):
        SoftwareEngine("golang-test", {}, PASSPHRASE)
    assert SoftwareEngine.default_options("golang-default", "/data") == {"directory": "/data/keys/golang-default"}
    assert SoftwareEngine.needs_secret(SoftwareEngine.validate_options({"directory": "/k"}))
    assert not SoftwareEngine.needs_secret(SoftwareEngine.validate_options({"directory": "/k", "encrypt": "False"}))
    spec = SoftwareEngine.SECRET
    assert spec.generated and not spec.required
    caps = SoftwareEngine.CAPABILITIES
    assert caps.can_create and caps.can_import and caps.can_delete
    assert not caps.can_import_public and not caps.native_verify


def test_registry_points_here():
    assert engines.driver_class("GOLANG") is SoftwareEngine
    assert engines.available("GOLANG")


def test_check_creates_the_directory(tmp_path):
    directory = tmp_path / "a" / "b"
    make(directory).check()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert os.listdir(directory) == []


def test_unusable_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    engine = make(blocker)
    with raises_kms(EngineUnavailable):
        engine.check()
    with raises_kms(EngineUnavailable):
        engine.create("Ed25519", 256)
    with raises_kms(EngineUnavailable):
        list(engine.inventory())
    with raises_kms(KeyNotFoundInEngine):
        engine.get("e" * 64)


def test_missing_directory_is_an_empty_engine(tmp_path):
    engine = make(tmp_path / "never-made")
    assert list(engine.inventory()) == []
    assert not (tmp_path / "never-made").exists()


def test_engines_never_import_the_ui_or_the_store():
    code = (
        "import sys, engines, engines.software.engine, engines.keys, engines.algorithms\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'kms_tui', 'store'))\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_errors_are_readable(tmp_path):
    engine = make(tmp_path)
    for call in (lambda: engine.get("nope"), lambda: engine.create("RSA", 1000), lambda: engine.delete("f" * 64)):
        with pytest.raises(Exception) as info:
            call()
        check_kms_error(info.value)
