"""The pure checks behind "a signature comes only from the recorded key": key ids and signatures."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from engines import algorithms as A
from engines import integrity as I
from engines import keys as K
from engines.errors import KeyIntegrityError

KEYS = [rsa.generate_private_key(65537, 2048), ec.generate_private_key(ec.SECP384R1()),
        ed25519.Ed25519PrivateKey.generate()]


@pytest.mark.parametrize("private", KEYS, ids=["RSA", "P-384", "Ed25519"])
def test_a_key_id_names_exactly_one_public_key(private):
    public, other = private.public_key(), ec.generate_private_key(ec.SECP256R1()).public_key()
    assert I.key_id_matches(K.key_id_of(public), public)
    assert not I.key_id_matches(K.key_id_of(other), public)
    ski = x509.SubjectKeyIdentifier.from_public_key(public).digest.hex()  # RFC 5280 method 1
    assert I.key_id_matches(ski, public) and not I.key_id_matches(ski, other)
    spki_sha1 = hashlib.sha1(K.spki_der(public)).hexdigest()  # noqa: S324 - an SKI method, not security
    assert I.key_id_matches(spki_sha1, public)
    for forged in ("0" * 40, "0" * 64, K.key_id_of(public).upper(), K.key_id_of(public)[:63], None, ""):
        assert not I.key_id_matches(forged, public)


def test_require_same_key_names_both_keys_and_no_material():
    held, expected = KEYS[1].public_key(), KEYS[0].public_key()
    I.require_same_key("e", "ref", held, held)
    with pytest.raises(KeyIntegrityError) as info:
        I.require_same_key("e", "ref", held, expected)
    assert K.key_id_of(held)[:16] in info.value.message and K.key_id_of(expected)[:16] in info.value.message


def test_made_by_accepts_any_pss_salt_of_the_key_and_nothing_of_another_key():
    private, stranger = KEYS[0], rsa.generate_private_key(65537, 2048)
    sig_alg = A.signing_algorithm("RSASSA_PSS_SHA_256")
    for salt in (32, padding.PSS.MAX_LENGTH):
        signature = private.sign(b"m", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt),
                                 hashes.SHA256())
        assert I.made_by(private.public_key(), sig_alg, b"m", A.MessageType.RAW, signature)
        assert not I.made_by(stranger.public_key(), sig_alg, b"m", A.MessageType.RAW, signature)
    ecdsa = A.signing_algorithm("ECDSA_SHA_384")
    signature = K.sign_with(KEYS[1], ecdsa, b"m", A.MessageType.RAW)
    assert I.made_by(KEYS[1].public_key(), ecdsa, b"m", A.MessageType.RAW, signature)
    assert not I.made_by(KEYS[1].public_key(), ecdsa, b"n", A.MessageType.RAW, signature)
