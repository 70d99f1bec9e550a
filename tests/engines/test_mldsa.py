"""ML-DSA (FIPS 204) keys: key material and the software engine (the service: tests/service/test_mldsa_signing.py).

Vault KV v2 and Secrets Manager run the same create / sign (raw and external mu) / import
round trip through the engine contract (their KEY_TYPES list ML-DSA-44/65/87).
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.backends.openssl.backend import backend
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa

from engines import algorithms as A
from engines import keys as K
from engines import mldsa as M
from engines.errors import (
    DigestLengthError,
    InvalidInput,
    KeyParseError,
    UnsupportedKeyType,
    WrongPassphrase,
)
from engines.software.engine import SoftwareEngine

Enc, Priv, Pub = serialization.Encoding, serialization.PrivateFormat, serialization.PublicFormat
ML_DSA = A.signing_algorithm("ML_DSA_SHAKE_256")
CLASSES = {44: mldsa.MLDSA44PrivateKey, 65: mldsa.MLDSA65PrivateKey, 87: mldsa.MLDSA87PrivateKey}
SIGNATURE_BYTES = {44: 2420, 65: 3309, 87: 4627}  # FIPS 204, Table 2


def mu_of(public_key, message: bytes) -> bytes:
    hasher = mldsa.MLDSAMuHasher(public_key)
    hasher.update(message)
    return hasher.finalize()


@pytest.mark.parametrize("size", A.ML_DSA_SIZES)
def test_ml_dsa_key_material(size):
    private = K.generate(A.ML_DSA, size)
    public = private.public_key()
    assert isinstance(private, CLASSES[size])
    assert K.describe(private) == K.describe(public) == (A.ML_DSA, size)
    key_id = hashlib.sha256(public.public_bytes(Enc.DER, Pub.SubjectPublicKeyInfo)).hexdigest()
    assert K.key_id_of(public) == key_id
    # PKCS#8 clear and encrypted, PEM and DER; SPKI PEM and DER: every one is the same key.
    forms = {
        "pem": private.private_bytes(Enc.PEM, Priv.PKCS8, serialization.NoEncryption()),
        "der": private.private_bytes(Enc.DER, Priv.PKCS8, serialization.NoEncryption()),
        "public-pem": K.export_public(public, "pem"),
        "public-der": K.export_public(public, "der"),
    }
    for fmt, data in forms.items():
        parsed = K.parse_key(data)
        assert (parsed.source_format, parsed.algorithm, parsed.size, parsed.key_id) == (fmt, A.ML_DSA, size, key_id)
        assert parsed.has_private_key is not fmt.startswith("public")
    for encoding, fmt in ((Enc.PEM, "pem"), (Enc.DER, "der")):
        encrypted = private.private_bytes(encoding, Priv.PKCS8, serialization.BestAvailableEncryption(b"pass phrase"))
        assert K.parse_key(encrypted, "pass phrase").key_id == key_id and K.parse_key(encrypted, b"pass phrase").source_format == fmt
        with pytest.raises(WrongPassphrase):
            K.parse_key(encrypted, "wrong")
    assert b"ENCRYPTED PRIVATE KEY" in K.private_pkcs8_pem(private, b"pass phrase")
    with pytest.raises(UnsupportedKeyType, match="OpenSSH has no format for ML-DSA"):
        K.export_public(public, "ssh")
    jwk = json.loads(K.export_public(public, "jwk"))
    assert set(jwk) == {"kty", "alg", "pub", "kid"} and (jwk["kty"], jwk["alg"], jwk["kid"]) == ("AKP", f"ML-DSA-{size}", key_id)
    assert K.parse_key(json.dumps(jwk)).key_id == key_id
    # Pure ML-DSA and an external mu: both verified by cryptography itself, both the FIPS 204 size.
    signature = K.sign_with(private, ML_DSA, b"message", A.MessageType.RAW)
    mu_signature = K.signer_for(private, ML_DSA, "EXTERNAL_MU")(K.ml_dsa_mu(public, [b"mes", b"", b"sage"]))
    for made in (signature, mu_signature):
        public.verify(made, b"message")
        assert len(made) == SIGNATURE_BYTES[size]
        K.check_signature_length(A.ML_DSA, size, made)
        assert K.verify_with(public, ML_DSA, b"message", "RAW", made)
        assert K.verify_with(public, ML_DSA, mu_of(public, b"message"), "EXTERNAL_MU", made)
        assert not K.verify_with(public, ML_DSA, b"messagE", "RAW", made)
    with pytest.raises(InvalidInput, match="Wrong signature length|is 3309|is 2420|is 4627"):
        K.check_signature_length(A.ML_DSA, size, signature[:-1])
    assert K.natural_algorithm(A.ML_DSA, size) == "ML_DSA_SHAKE_256"
    K.self_test(lambda alg, data, mt: K.sign_with(private, alg, data, mt), public, A.ML_DSA)


def test_ml_dsa_misuse_is_refused_with_the_reason():
    private = K.generate(A.ML_DSA, 44)
    digest = hashlib.sha256(b"m").digest()
    for attempt in (lambda: K.sign_with(private, ML_DSA, digest, "DIGEST"),
                    lambda: K.signer_for(private, ML_DSA, "DIGEST")):
        with pytest.raises(InvalidInput, match="signs the whole message, not a digest.*external-mu"):
            attempt()
    with pytest.raises(DigestLengthError, match="64 bytes"):
        K.signer_for(private, ML_DSA, "EXTERNAL_MU")(b"\0" * 32)
    with pytest.raises(DigestLengthError):
        K.sign_with(private, ML_DSA, b"\0" * 65, "EXTERNAL_MU")
    ecdsa = K.generate(A.ECDSA, 256)
    with pytest.raises(InvalidInput, match="ML-DSA message type"):
        K.signer_for(ecdsa, A.signing_algorithm("ECDSA_SHA_256"), "EXTERNAL_MU")
    with pytest.raises(UnsupportedKeyType):
        K.ml_dsa_mu(ecdsa.public_key(), [b"m"])
    with pytest.raises(UnsupportedKeyType):
        K.generate(A.ML_DSA, 66)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_akp_jwk_is_rfc_9964s():
    """RFC 9964 (draft-ietf-cose-dilithium) Appendix A: the all-zeros ML-DSA-44 seed, its "pub" and its thumbprint."""
    private = M.ml_dsa_private_from_seed(44, b"\0" * 32)
    jwk = json.loads(K.export_public(private.public_key(), "jwk"))
    assert jwk["pub"].startswith("unH59k4RuutY-pxvu24U5h8YZD2rSVtHU5qRZsoBmBMcRPgmu9VuNOVdteXi1zNIXjnq")
    assert jwk["pub"].endswith("DZgbTP07e7gEWzw4MFRrndjbDQ")
    thumbprint = json.dumps({"alg": jwk["alg"], "kty": "AKP", "pub": jwk["pub"]}, separators=(",", ":"))  # RFC 7638
    assert b64u(hashlib.sha256(thumbprint.encode()).digest()) == "T4xl70S7MT6Zeq6r9V9fPJGVn76wfnXJ21-gyo0Gu6o"
    full = {"kty": "AKP", "alg": "ML-DSA-44", "pub": jwk["pub"], "priv": "A" * 43}  # the example's "priv"
    parsed = K.parse_key(json.dumps(full))
    assert parsed.source_format == "jwk" and parsed.key_id == jwk["kid"] and parsed.has_private_key
    other = b64u(K.generate(A.ML_DSA, 44).private_bytes_raw())
    refusals = [
        ({**full, "priv": other}, KeyParseError, "does not make"),
        ({**full, "priv": b64u(b"\0" * 31)}, KeyParseError, "32-byte seed"),
        ({**full, "alg": "ML-DSA-65"}, UnsupportedKeyType, "not an ML-DSA-65 public key"),
        ({**full, "alg": "HASH-ML-DSA-44"}, UnsupportedKeyType, "not supported"),
        ({"kty": "AKP", "alg": "ML-DSA-44", "priv": "A" * 43}, KeyParseError, "must have its public key"),
    ]
    for jwk_in, error, text in refusals:
        with pytest.raises(error, match=text):
            K.parse_key(json.dumps(jwk_in))


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + (bytes([len(body)]) if len(body) < 128 else b"\x82" + len(body).to_bytes(2, "big")) + body


def test_a_cryptography_without_ml_dsa_says_what_is_needed(monkeypatch):
    """As a wheel built against OpenSSL before 3.5 behaves (cryptography 47's did): a clear error, never a crash.
    Where ML-DSA is at hand, a private key without its seed (RFC 9881's expanded form) is named as such."""
    pem = K.private_pkcs8_pem(K.generate(A.ML_DSA, 65))
    ml_dsa_44 = _der(0x30, bytes.fromhex("0609608648016503040311"))
    expanded = _der(0x30, _der(0x02, b"\0") + ml_dsa_44 + _der(0x04, _der(0x04, bytes(2560))))
    with pytest.raises(UnsupportedKeyType, match="form that cannot be read") as caught:
        K.parse_key(expanded)
    assert "seed" in caught.value.hint and "ML-DSA support" not in str(caught.value)
    monkeypatch.setattr(backend, "mldsa_supported", lambda: False)
    with pytest.raises(UnsupportedKeyType, match="need a cryptography built with ML-DSA support"):
        K.parse_key(expanded)
    with pytest.raises(UnsupportedKeyType, match="need a cryptography built with ML-DSA support") as caught:
        K.generate(A.ML_DSA, 65)
    assert "OpenSSL 3.5" in str(caught.value)
    with pytest.raises(UnsupportedKeyType, match="ML-DSA support"):
        M.ml_dsa_private_from_seed(44, b"\0" * 32)
    monkeypatch.delattr(mldsa, "MLDSAMuHasher")
    with pytest.raises(UnsupportedKeyType, match="ML-DSA support"):
        K.ml_dsa_mu(K.parse_key(pem).public_key, [b"m"])
    assert M.ml_dsa_oid_in(pem) and M.ml_dsa_oid_in(K.parse_key(pem).public_key.public_bytes(Enc.DER, Pub.SubjectPublicKeyInfo))
    assert not M.ml_dsa_oid_in(K.private_pkcs8_pem(K.generate(A.ED25519, 256)))


def test_software_engine_keeps_ml_dsa_encrypted_and_signs_both_ways(tmp_path):
    with SoftwareEngine("sw", {"directory": str(tmp_path / "keys")}, "correct horse battery") as engine:
        assert engine.supported_key_types()[A.ML_DSA] == (44, 65, 87) and engine.CAPABILITIES.external_mu
        made = engine.create("ml-dsa", 65)
        assert (made.algorithm, made.size) == (A.ML_DSA, 65)
        stored = (tmp_path / "keys" / made.ref).read_bytes()
        assert stored.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        raw = engine.sign(made.ref, ML_DSA, b"payload", A.MessageType.RAW)
        by_mu = engine.sign(made.ref, ML_DSA, mu_of(made.public_key, b"payload"), A.MessageType.EXTERNAL_MU)
        for signature in (raw, by_mu):
            made.public_key.verify(signature, b"payload")
        imported = engine.import_key(K.parse_key(
            mldsa.MLDSA87PrivateKey.generate().private_bytes(Enc.PEM, Priv.PKCS8, serialization.BestAvailableEncryption(b"p")),
            "p"))
        assert (imported.algorithm, imported.size) == (A.ML_DSA, 87)
        assert {k.key_id for k in engine.inventory()} == {made.key_id, imported.key_id}
