"""engines.algorithms: the tables, strength, message handling and spec validation."""

from __future__ import annotations

import hashlib

import pytest

from engines import algorithms as A
from engines.errors import AlgorithmMismatch, DigestLengthError, InvalidInput, KmsError, UnsupportedKeyType

# DESIGN §2, exactly.
STRENGTH = [
    ("RSA", 1024, "LOW"), ("RSA", 1536, "LOW"), ("RSA", 2047, "LOW"),
    ("RSA", 2048, "MEDIUM"), ("RSA", 3071, "MEDIUM"),
    ("RSA", 3072, "HIGH"), ("RSA", 4096, "HIGH"), ("RSA", 8192, "HIGH"),
    ("ECDSA", 224, "LOW"), ("ECDSA", 256, "MEDIUM"), ("ECDSA", 384, "HIGH"), ("ECDSA", 521, "HIGH"),
    ("Ed25519", 256, "HIGH"),
    ("DSA", 1024, "LOW"), ("DSA", 2048, "LOW"), ("DSA", 3072, "LOW"),
]


@pytest.mark.parametrize("algorithm,size,expected", STRENGTH)
def test_strength_table(algorithm, size, expected):
    assert A.strength(algorithm, size) == expected


@pytest.mark.parametrize("algorithm,size,expected", STRENGTH)
def test_strength_reason_names_the_level(algorithm, size, expected):
    reason = A.strength_reason(algorithm, size)
    assert reason.endswith(".") and expected in reason


@pytest.mark.parametrize(
    "spelling,canonical",
    [("rsa", "RSA"), ("RSA", "RSA"), (" ecdsa ", "ECDSA"), ("EC", "ECDSA"), ("ed25519", "Ed25519"),
     ("EdDSA", "Ed25519"), ("dsa", "DSA")],
)
def test_normalise_algorithm(spelling, canonical):
    assert A.normalise_algorithm(spelling) == canonical


@pytest.mark.parametrize("name", ["", "rsa2048", "Ed448", "x25519", None, 3])
def test_unknown_key_algorithm(name):
    with pytest.raises(UnsupportedKeyType) as info:
        A.normalise_algorithm(name)
    assert isinstance(info.value, InvalidInput) and info.value.message


def test_signing_algorithm_table():
    assert A.algorithms_for_key("RSA") == [
        f"{scheme}_SHA_{bits}" for bits in (256, 384, 512) for scheme in ("RSASSA_PKCS1_V1_5", "RSASSA_PSS")
    ]
    assert A.algorithms_for_key("ECDSA") == ["ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512"]
    assert A.algorithms_for_key("Ed25519") == ["ED25519"]
    assert A.algorithms_for_key("DSA") == []
    pss = A.signing_algorithm("rsassa_pss_sha_384")
    assert (pss.key_algorithm, pss.hash_name, pss.padding, pss.digest_size) == ("RSA", "sha384", "PSS", 48)
    assert A.signing_algorithm(" ed25519 ").digest_size is None
    assert A.signing_algorithm("ECDSA_SHA_512").hasher().digest_size == 64


@pytest.mark.parametrize("name", ["", "ECDSA_SHA_1", "RSASSA_PSS_SHA_224", "EDDSA", "HS256"])
def test_unknown_signing_algorithm(name):
    with pytest.raises(InvalidInput) as info:
        A.signing_algorithm(name)
    assert "Known:" in str(info.value)


def test_message_type_parse():
    assert A.MessageType.parse("raw") is A.MessageType.RAW
    assert A.MessageType.parse(A.MessageType.DIGEST) is A.MessageType.DIGEST
    for bad in ("hash", "", "RAWDIGEST"):
        with pytest.raises(InvalidInput):
            A.MessageType.parse(bad)


@pytest.mark.parametrize("name", [n for n, a in A.SIGNING_ALGORITHMS.items() if a.hash_name])
def test_prepare_digest(name):
    sig_alg = A.signing_algorithm(name)
    digest = hashlib.new(sig_alg.hash_name, b"message").digest()
    assert A.prepare_digest(sig_alg, b"message", A.MessageType.RAW) == digest
    assert A.prepare_digest(sig_alg, digest, "DIGEST") == digest
    for wrong in (digest[:-1], digest + b"\0", b"", hashlib.sha1(b"m").digest()):
        with pytest.raises(DigestLengthError) as info:
            A.prepare_digest(sig_alg, wrong, A.MessageType.DIGEST)
        assert str(sig_alg.digest_size) in info.value.message
        A.check_message(sig_alg, b"any length is fine raw", A.MessageType.RAW)
        with pytest.raises(DigestLengthError):
            A.check_message(sig_alg, wrong, A.MessageType.DIGEST)


def test_ed25519_signs_messages_not_digests():
    ed = A.signing_algorithm("ED25519")
    with pytest.raises(InvalidInput):
        A.check_message(ed, hashlib.sha512(b"m").digest(), A.MessageType.DIGEST)
    with pytest.raises(InvalidInput):
        A.prepare_digest(ed, b"m", A.MessageType.RAW)
    A.check_message(ed, b"m", "raw")


@pytest.mark.parametrize(
    "sig_name,key_algorithm",
    [("ECDSA_SHA_256", "RSA"), ("RSASSA_PSS_SHA_256", "ECDSA"), ("ED25519", "RSA"),
     ("RSASSA_PKCS1_V1_5_SHA_256", "Ed25519"), ("ECDSA_SHA_256", "DSA")],
)
def test_algorithm_mismatch(sig_name, key_algorithm):
    with pytest.raises(AlgorithmMismatch) as info:
        A.check_fits(A.signing_algorithm(sig_name), key_algorithm)
    assert sig_name in info.value.message


def test_pss_needs_room_for_the_salt():
    # emLen >= 2*hLen + 2: a 1024-bit key (128 bytes) fits SHA-384 (98) but not SHA-512 (130).
    A.check_fits(A.signing_algorithm("RSASSA_PSS_SHA_384"), "RSA", 1024)
    A.check_fits(A.signing_algorithm("RSASSA_PKCS1_V1_5_SHA_512"), "RSA", 1024)
    with pytest.raises(AlgorithmMismatch):
        A.check_fits(A.signing_algorithm("RSASSA_PSS_SHA_512"), "RSA", 1024)
    A.check_fits(A.signing_algorithm("RSASSA_PSS_SHA_512"), "RSA", 2048)


SUPPORTED = {"RSA": (2048, 3072, 4096), "ECDSA": (256, 384)}


def test_validate_spec():
    assert A.validate_spec("rsa", "3072", SUPPORTED) == ("RSA", 3072)
    assert A.validate_spec("EC", 256, SUPPORTED) == ("ECDSA", 256)


@pytest.mark.parametrize(
    "algorithm,size,error",
    [("RSA", 1000, UnsupportedKeyType), ("RSA", 1024, UnsupportedKeyType), ("ECDSA", 521, UnsupportedKeyType),
     ("Ed25519", 256, UnsupportedKeyType), ("nope", 256, UnsupportedKeyType), ("RSA", "big", InvalidInput),
     ("RSA", None, InvalidInput)],
)
def test_validate_spec_refuses(algorithm, size, error):
    with pytest.raises(error) as info:
        A.validate_spec(algorithm, size, SUPPORTED)
    assert isinstance(info.value, KmsError) and info.value.title and info.value.message


def test_tables_are_consistent():
    assert A.RSA_CREATE_SIZES == (2048, 3072, 4096)
    assert A.ECDSA_SIZES == (224, 256, 384, 521)
    assert A.ED25519_SIZES == (256,)
    assert A.RSA_MIN_IMPORT_SIZE == 1024
    assert set(A.CURVE_BY_SIZE) == set(A.ECDSA_SIZES) == set(A.NIST_NAME)
    assert all(A.SIZE_BY_CURVE[A.CURVE_BY_SIZE[s]] == s for s in A.ECDSA_SIZES)


def test_ml_dsa_signs_the_message_and_takes_a_64_byte_mu_only():
    sig_alg = A.signing_algorithm("ml_dsa_shake_256")
    assert A.normalise_algorithm("ml-dsa") == A.ML_DSA and A.algorithms_for_key(A.ML_DSA) == ["ML_DSA_SHAKE_256"]
    A.check_message(sig_alg, b"x" * 10_000, "raw")
    A.check_message(sig_alg, b"m" * 64, "external-mu")
    with pytest.raises(InvalidInput, match="not a digest.*external-mu"):
        A.check_message(sig_alg, hashlib.sha256(b"m").digest(), "digest")
    with pytest.raises(DigestLengthError, match="64 bytes; got 32"):
        A.check_message(sig_alg, b"m" * 32, A.MessageType.EXTERNAL_MU)
    with pytest.raises(InvalidInput, match="ML-DSA message type"):
        A.check_message(A.signing_algorithm("ED25519"), b"m" * 64, "external_mu")
    assert [A.display_name(A.ML_DSA, s) for s in A.ML_DSA_SIZES] == ["ML-DSA-44", "ML-DSA-65", "ML-DSA-87"]
    assert A.strength(A.ML_DSA, 44) == A.HIGH and "category 5" in A.strength_reason(A.ML_DSA, 87)
