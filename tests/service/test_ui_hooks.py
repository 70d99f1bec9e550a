"""Service methods the workstation's wizards and background checks rely on."""

from __future__ import annotations

import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from keyring.backends import fail

from engines.errors import KeyParseError, WrongPassphrase
from kms_tui.service import Kms
from kms_tui.service.errors import Cancelled
from store import CredentialStore


def test_cancelled_create_discards_the_generated_key(kms):
    cancel = threading.Event()
    cancel.set()
    directory = kms.context.store.get_engine("golang-default").config["directory"]
    with pytest.raises(Cancelled):
        kms.keys.create("ECDSA", 256, "never", cancel=cancel)
    assert kms.keys.count() == 0
    import os

    assert os.listdir(directory) == []


def test_name_problem_explains_taken_and_empty_names(kms):
    kms.keys.create("Ed25519", 256, "taken", aliases=["alias-taken"])
    assert kms.keys.name_problem("free") is None
    assert "already used" in kms.keys.name_problem("taken")
    assert "already used" in kms.keys.name_problem("alias-taken")
    assert "already used" in kms.keys.name_problem("free", ["taken"])
    assert kms.keys.name_problem("  ") is not None


def test_inspect_key_previews_without_storing(kms):
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(b"pw"))
    with pytest.raises(WrongPassphrase):
        kms.keys.inspect(pem)
    parsed = kms.keys.inspect(pem, "pw")
    assert (parsed.algorithm, parsed.size, parsed.has_private_key) == ("ECDSA", 384, True)
    with pytest.raises(KeyParseError):
        kms.keys.inspect(b"garbage")
    assert kms.keys.count() == 0 and kms.audit.rows(limit=10)[0].action == "engine.register"


def test_verify_with_a_pasted_public_key(kms):
    key = ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives import hashes

    signature = key.sign(b"m", ec.ECDSA(hashes.SHA256()))
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert kms.signing.verify_with_public_key(pem, "ECDSA_SHA_256", b"m", signature)
    assert not kms.signing.verify_with_public_key(pem, "ECDSA_SHA_256", b"x", signature)


def test_background_check_never_prompts(data_dir):
    asked = []
    with Kms(data_dir, credentials=CredentialStore(backend=fail.Keyring()), prompt=asked.append) as kms:
        check = kms.engines.test("golang-default", interactive=False)
        assert not check.reachable and "keyring" in check.message.lower()
        assert asked == []
        kms.engines.test("golang-default")  # interactive: the prompt is asked
        assert len(asked) == 1
