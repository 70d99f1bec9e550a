"""Backup wrapping on SoftHSM2: a key with a backup policy leaves token A only wrapped under a
KEK its security officer trusted for that wrap, and comes back on token B as a sensitive,
non-extractable key that signs for the original public key; everything else is refused."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding, aes_key_wrap_with_padding

from engines import algorithms as A
from engines import keys as K
from engines.errors import EngineError, InvalidInput, KeyExists, KeyIntegrityError
from engines.pkcs11 import lookup as L
from engines.pkcs11 import wrapping as W
from engines.pkcs11.engine import Pkcs11Engine
from engines.testing import verify_independently
from tests.engines.pkcs11.softhsm import SO_PIN, USER_PIN, private_module, run

MESSAGE = b"the root CA's next CRL"
WRONG_SO_PIN = "not-the-officer-5309"


@pytest.fixture(scope="module")
def backup_module(softhsm, tmp_path_factory) -> str:
    """A token store of its own (tokens 'backup-a' and 'backup-b') behind a copy of the module:
    wraps log the user out of a token, which no other test's token should see."""
    base = tmp_path_factory.mktemp("backup-tokens")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    for label in ("backup-a", "backup-b"):
        run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", USER_PIN], env)
    return private_module(conf, base / "libsofthsm2-backup.so")


@pytest.fixture(scope="module")
def token_a(backup_module):
    with Pkcs11Engine("backup-a", {"module": backup_module, "token": "backup-a"}, USER_PIN) as engine:
        yield engine


@pytest.fixture(scope="module")
def token_b(backup_module):
    with Pkcs11Engine("backup-b", {"module": backup_module, "token": "backup-b"}, USER_PIN) as engine:
        yield engine


@pytest.fixture(scope="module")
def wrappable(token_a):
    """A P-256 key made on token A with a backup policy."""
    return token_a.create_wrappable("ECDSA", 256)


def on_token(engine, fn):
    return engine._link.run("look at the token", fn)


def private_attributes(engine, ref: str, *names):
    return on_token(engine, lambda shared: L.find_private(shared, engine._link.where, ref).get_attributes(list(names)))


def value_refusal(engine, ref: str) -> str:
    """What the token answers when asked for the private key's CKA_VALUE."""
    from pkcs11 import Attribute

    def read(shared) -> str:
        try:
            L.find_private(shared, engine._link.where, ref)[Attribute.VALUE]
        except Exception as exc:
            return type(exc).__name__
        return "readable"

    return on_token(engine, read)


def object_count(engine) -> int:
    return on_token(engine, lambda shared: len(list(shared.session.get_objects())))


def sign_checked(engine, ref: str, public_key) -> None:
    signature = engine.sign(ref, A.signing_algorithm("ECDSA_SHA_256"), MESSAGE, A.MessageType.RAW)
    verify_independently(public_key, "ECDSA_SHA_256", MESSAGE, signature)


def pkcs8_in(padded: bytes) -> bytes:
    """The PKCS#8 DER at the start of what SoftHSM2 wrapped (it pads with zeros to 8 bytes)."""
    assert padded[0] == 0x30
    if padded[1] < 0x80:
        end = 2 + padded[1]
    else:
        count = padded[1] & 0x7F
        end = 2 + count + int.from_bytes(padded[2:2 + count], "big")
    assert padded[end:] == b"\0" * (len(padded) - end) and len(padded) - end < 8
    return padded[:end]


def test_backup_moves_a_key_to_another_token_only_wrapped(token_a, token_b, wrappable):
    from pkcs11 import Attribute

    kek = os.urandom(32)
    assert value_refusal(token_a, wrappable.ref) == "AttributeSensitive"
    wrapped = token_a.wrap_key(wrappable.ref, kek, officer_pin=SO_PIN)
    assert token_a.leftover_backup_keks() == []
    sign_checked(token_a, wrappable.ref, wrappable.public_key)  # the user session is back
    # RFC 5649 of the PKCS#8 PrivateKeyInfo: what a software engine unwraps.
    private = serialization.load_der_private_key(pkcs8_in(aes_key_unwrap_with_padding(kek, wrapped)), None)
    assert K.key_id_of(private.public_key()) == wrappable.key_id

    restored = token_b.unwrap_key(wrapped, kek, wrappable.public_key, label="root")
    assert (restored.key_id, restored.ref, restored.extra["label"]) == (wrappable.key_id,) * 3
    assert token_b.get(restored.ref).public_key == wrappable.public_key
    sign_checked(token_b, restored.ref, wrappable.public_key)
    got = private_attributes(token_b, restored.ref, Attribute.SENSITIVE, Attribute.EXTRACTABLE, Attribute.TOKEN,
                             Attribute.PRIVATE, Attribute.SIGN, Attribute.WRAP_WITH_TRUSTED)
    assert got == {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.TOKEN: True,
                   Attribute.PRIVATE: True, Attribute.SIGN: True, Attribute.WRAP_WITH_TRUSTED: False}
    assert value_refusal(token_b, restored.ref) == "AttributeSensitive"
    assert [k.key_id for k in token_b.inventory()].count(wrappable.key_id) == 1

    before = object_count(token_b)
    with pytest.raises(KeyExists):  # run twice: never a second copy, never over the first
        token_b.unwrap_key(wrapped, kek, wrappable.public_key, label="root")
    assert object_count(token_b) == before


@pytest.mark.parametrize("how", ["copied", "renamed"])
def test_only_keys_made_with_a_backup_policy_can_leave(token_a, how):
    from pkcs11 import Attribute

    shared = on_token(token_a, lambda shared: shared)
    shared.copy_refused = how == "renamed"
    try:
        plain, backed = token_a.create("ECDSA", 256), token_a.create_wrappable("ECDSA", 256)
    finally:
        shared.copy_refused = False
    flags = [Attribute.EXTRACTABLE, Attribute.WRAP_WITH_TRUSTED, Attribute.SENSITIVE]
    assert private_attributes(token_a, backed.ref, *flags) == dict.fromkeys(flags, True)
    assert private_attributes(token_a, plain.ref, *flags) == {Attribute.EXTRACTABLE: False,
                                                              Attribute.WRAP_WITH_TRUSTED: False,
                                                              Attribute.SENSITIVE: True}
    with pytest.raises(W.NotWrappable, match="made without a backup policy") as refused:
        token_a.wrap_key(plain.ref, os.urandom(32), officer_pin=SO_PIN)
    assert SO_PIN not in str(refused.value)
    assert token_a.leftover_backup_keks() == []


def test_ed25519_is_neither_made_wrappable_nor_restored_on_cryptoki_2_40(token_a, token_b):
    with pytest.raises(W.NotWrappable, match="Cryptoki 2.40.*never be backed up"):
        token_a.create_wrappable("Ed25519", 256)
    private = ed25519.Ed25519PrivateKey.generate()
    kek = os.urandom(32)
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    before = object_count(token_b)
    with pytest.raises(W.NotWrappable, match="cannot be restored there"):
        token_b.unwrap_key(aes_key_wrap_with_padding(kek, der), kek, private.public_key(), label="ed")
    assert object_count(token_b) == before


def test_wrong_officer_pin_is_refused_and_leaves_nothing(token_a, wrappable):
    with pytest.raises(W.OfficerPinRefused, match="security officer PIN .* was refused") as refused:
        token_a.wrap_key(wrappable.ref, os.urandom(32), officer_pin=WRONG_SO_PIN)
    assert WRONG_SO_PIN not in str(refused.value) and SO_PIN not in str(refused.value)
    with pytest.raises(W.OfficerPinRefused, match="needs the security officer"):
        token_a.wrap_key(wrappable.ref, os.urandom(32))
    with pytest.raises(InvalidInput, match="32 bytes"):
        token_a.wrap_key(wrappable.ref, os.urandom(16), officer_pin=SO_PIN)
    assert token_a.leftover_backup_keks() == []
    sign_checked(token_a, wrappable.ref, wrappable.public_key)


def test_a_wrap_cut_short_destroys_its_kek(token_a, wrappable, monkeypatch):
    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(W, "wrap_under", killed)
    with pytest.raises(KeyboardInterrupt):
        token_a.wrap_key(wrappable.ref, os.urandom(32), officer_pin=SO_PIN)
    assert token_a.leftover_backup_keks() == []
    sign_checked(token_a, wrappable.ref, wrappable.public_key)


def test_the_officer_destroys_a_kek_the_user_may_not(token_a, wrappable, monkeypatch):
    def refused(shared, label=None):
        raise EngineError("CKR_ACTION_PROHIBITED")

    monkeypatch.setattr(W, "destroy_keks", refused)
    kek = os.urandom(32)
    wrapped = token_a.wrap_key(wrappable.ref, kek, officer_pin=SO_PIN)
    monkeypatch.undo()
    assert token_a.leftover_backup_keks() == []
    assert aes_key_unwrap_with_padding(kek, wrapped)[:1] == b"\x30"
    sign_checked(token_a, wrappable.ref, wrappable.public_key)


def test_a_kek_left_behind_is_listed_and_never_readable(token_a, wrappable, monkeypatch):
    from pkcs11 import Attribute, ObjectClass

    monkeypatch.setattr(W, "_remove_kek", lambda *args: None)  # the process died before destroying it
    token_a.wrap_key(wrappable.ref, os.urandom(32), officer_pin=SO_PIN)
    monkeypatch.undo()
    [label] = token_a.leftover_backup_keks()
    assert label.startswith("kms-tui-backup-kek-")

    def inspect(shared):
        kek = shared.session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
        got = kek.get_attributes([Attribute.TRUSTED, Attribute.PRIVATE, Attribute.SENSITIVE, Attribute.EXTRACTABLE,
                                  Attribute.UNWRAP])
        try:
            kek[Attribute.VALUE]
        except Exception as exc:
            return got, type(exc).__name__
        return got, "readable"

    got, value = on_token(token_a, inspect)
    assert value == "AttributeSensitive"
    assert got == {Attribute.TRUSTED: True, Attribute.PRIVATE: False, Attribute.SENSITIVE: True,
                   Attribute.EXTRACTABLE: False, Attribute.UNWRAP: False}
    assert on_token(token_a, W.destroy_keks) == 1
    assert token_a.leftover_backup_keks() == []


def test_the_token_refuses_a_wrap_under_an_untrusted_key(token_a, wrappable):
    from pkcs11 import Attribute, KeyType, ObjectClass

    label = W.KEK_PREFIX + "untrusted"

    def wrap_untrusted(shared):
        kek = shared.session.create_object({
            Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES, Attribute.VALUE: os.urandom(32),
            Attribute.TOKEN: False, Attribute.WRAP: True, Attribute.LABEL: label})
        try:
            return W.wrap_under(shared, token_a._link.where, wrappable.ref, label)
        finally:
            kek.destroy()

    with pytest.raises(W.WrapRefused, match="marked trusted"):
        on_token(token_a, wrap_untrusted)


@pytest.fixture(scope="module")
def wrapped_elsewhere():
    """A P-384 key wrapped as a software engine wraps it (the exact PKCS#8 DER), with its KEK."""
    private = ec.generate_private_key(ec.SECP384R1())
    kek = os.urandom(32)
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return private.public_key(), kek, aes_key_wrap_with_padding(kek, der)


def test_unwrap_refuses_a_changed_byte_a_wrong_kek_and_a_wrong_key(token_b, wrapped_elsewhere):
    public_key, kek, wrapped = wrapped_elsewhere
    before = object_count(token_b)
    changed = bytearray(wrapped)
    changed[len(changed) // 2] ^= 0x01
    with pytest.raises(W.WrappedKeyRefused):
        token_b.unwrap_key(bytes(changed), kek, public_key, label="changed")
    with pytest.raises(W.WrappedKeyRefused):
        token_b.unwrap_key(wrapped, os.urandom(32), public_key, label="other kek")
    with pytest.raises(W.WrappedKeyRefused):
        token_b.unwrap_key(wrapped[:-3], kek, public_key, label="cut")
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(KeyIntegrityError, match="does not sign"):
        token_b.unwrap_key(wrapped, kek, other, label="another key's record")
    assert object_count(token_b) == before
    assert K.key_id_of(other) not in {k.key_id for k in token_b.inventory()}


def test_unwrap_reuses_the_public_half_an_interrupted_restore_left(token_b, wrapped_elsewhere):
    from pkcs11 import Attribute, ObjectClass

    public_key, kek, wrapped = wrapped_elsewhere
    key_id = K.key_id_of(public_key)
    on_token(token_b, lambda shared: shared.session.create_object(
        W.public_template(public_key, key_id, key_id.encode("ascii"))))
    restored = token_b.unwrap_key(wrapped, kek, public_key, label="interrupted")
    assert restored.key_id == key_id
    publics = on_token(token_b, lambda shared: list(shared.session.get_objects(
        {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: key_id.encode("ascii")})))
    assert len(publics) == 1
    signature = token_b.sign(restored.ref, A.signing_algorithm("ECDSA_SHA_384"), MESSAGE, A.MessageType.RAW)
    verify_independently(public_key, "ECDSA_SHA_384", MESSAGE, signature)


def test_an_rsa_key_wrapped_in_software_comes_back_on_a_token(token_b):
    private = rsa.generate_private_key(65537, 2048)
    kek = os.urandom(32)
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    restored = token_b.unwrap_key(aes_key_wrap_with_padding(kek, der), kek, private.public_key(), label="rsa")
    assert restored.key_id == K.key_id_of(private.public_key()) and restored.algorithm == A.RSA
    signature = token_b.sign(restored.ref, A.signing_algorithm("RSASSA_PSS_SHA_256"), MESSAGE, A.MessageType.RAW)
    verify_independently(private.public_key(), "RSASSA_PSS_SHA_256", MESSAGE, signature)


def test_other_drivers_and_open_batches_of_the_token_outlive_a_wrap(backup_module, token_a, wrappable):
    """The wrap logs the token's one shared session out and opens a new one: every driver of
    the token, and a signing batch begun before the wrap, carry on on the new session."""
    sig_alg = A.signing_algorithm("ECDSA_SHA_256")
    with Pkcs11Engine("backup-a-too", {"module": backup_module, "token": "backup-a"}, USER_PIN) as other:
        sign_checked(other, wrappable.ref, wrappable.public_key)
        with token_a.signer(wrappable.ref, sig_alg, A.MessageType.RAW, expected=wrappable.public_key) as sign:
            verify_independently(wrappable.public_key, "ECDSA_SHA_256", MESSAGE, sign(MESSAGE))
            token_a.wrap_key(wrappable.ref, os.urandom(32), officer_pin=SO_PIN)
            verify_independently(wrappable.public_key, "ECDSA_SHA_256", MESSAGE, sign(MESSAGE))
        sign_checked(other, wrappable.ref, wrappable.public_key)
    sign_checked(token_a, wrappable.ref, wrappable.public_key)  # the other driver's close logged no one out
    assert token_a.leftover_backup_keks() == []
