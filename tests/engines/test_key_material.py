"""engines.keys: parsing, identity, description, signatures and export.

(Named test_key_material, not test_keys: tests/service/test_keys.py exists and pytest's
default import mode needs unique basenames across test directories without __init__.py.)
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines import algorithms as A
from engines import keys as K
from engines.errors import (
    AlgorithmMismatch,
    DigestLengthError,
    EngineError,
    InvalidInput,
    KeyParseError,
    KmsError,
    UnsupportedKeyType,
    WrongPassphrase,
)

Enc = serialization.Encoding
Priv = serialization.PrivateFormat
Pub = serialization.PublicFormat
CURVES = {224: ec.SECP224R1, 256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}
PASSWORD = b"s3cret passphrase"

# A 512-bit RSA key (cryptography refuses to generate one): must be refused on import.
RSA_512_PEM = b"""-----BEGIN PRIVATE KEY-----
MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAxtgxFE8MxoD+MH+R
WCCr/086++lDQDoOvjdUTNRuP/gcNzefnZSnEY9xFeSgtQE2d3MGEoYUbX2/BS4Y
4C4xewIDAQABAkBbdlv07HuC3xiMtFDliXmz4PzPnLb7VvkrE4YqJNhlgWjiStgD
IRkJMC72J8yMa340M0cNeXA7ekUt4SvmB8vJAiEA+NzzMYXS8w8mOWtOkOoT/6ok
jPev1Vred9BckwPWdQ0CIQDMjAajOITawd4lf5vWxgsPJUYoLxY60Z4xrVaH7l2u
pwIhAKCTeLwYnG/G86QTEEPDNho+f40R+LvTAT8QC9u0mzk1AiEAyZqRyDoip8JB
A9CcdrlHmSvx1BVk4aBNPUVNbjjAWS0CIDmJeO+axOeRnJVclsz+rRNO5LEwiZ98
cw6deNTr4M6/
-----END PRIVATE KEY-----
"""


def sha256_spki(public_key) -> str:
    return hashlib.sha256(public_key.public_bytes(Enc.DER, Pub.SubjectPublicKeyInfo)).hexdigest()


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_int(value: int, width: int | None = None) -> str:
    return b64u(value.to_bytes(width or max(1, (value.bit_length() + 7) // 8), "big"))


@pytest.fixture(scope="module")
def keyset():
    return {
        "RSA": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ECDSA-224": ec.generate_private_key(ec.SECP224R1()),
        "ECDSA-256": ec.generate_private_key(ec.SECP256R1()),
        "ECDSA-384": ec.generate_private_key(ec.SECP384R1()),
        "ECDSA-521": ec.generate_private_key(ec.SECP521R1()),
        "Ed25519": ed25519.Ed25519PrivateKey.generate(),
    }


EXPECTED = {
    "RSA": ("RSA", 2048), "ECDSA-224": ("ECDSA", 224), "ECDSA-256": ("ECDSA", 256),
    "ECDSA-384": ("ECDSA", 384), "ECDSA-521": ("ECDSA", 521), "Ed25519": ("Ed25519", 256),
}


def assert_parsed(parsed, private_key, label, fmt, has_private=True):
    assert (parsed.algorithm, parsed.size) == EXPECTED[label]
    assert parsed.has_private_key is has_private
    assert parsed.source_format == fmt
    assert parsed.key_id == sha256_spki(private_key.public_key())
    assert K.key_id_of(parsed.public_key) == parsed.key_id


# ---------------------------------------------------------------- identity


def test_key_id_is_sha256_of_der_spki(keyset):
    for private in keyset.values():
        key_id = K.key_id_of(private.public_key())
        assert key_id == sha256_spki(private.public_key())
        assert len(key_id) == 64 and key_id == key_id.lower()
        assert K.is_key_id(key_id)
        assert K.spki_der(private.public_key()) == private.public_key().public_bytes(Enc.DER, Pub.SubjectPublicKeyInfo)


@pytest.mark.parametrize("text", ["", "a" * 63, "a" * 65, "A" * 64, "g" * 64, "a" * 40, None, b"a" * 64, " " + "a" * 63])
def test_is_key_id_rejects(text):
    assert not K.is_key_id(text)


def test_describe(keyset):
    for label, private in keyset.items():
        assert K.describe(private) == EXPECTED[label]
        assert K.describe(private.public_key()) == EXPECTED[label]
    assert K.describe(dsa.generate_private_key(1024).public_key()) == ("DSA", 1024)
    for odd in (x25519.X25519PrivateKey.generate().public_key(), ec.generate_private_key(ec.SECP256K1()), object()):
        with pytest.raises(UnsupportedKeyType):
            K.describe(odd)


@pytest.mark.parametrize("algorithm,size", [("RSA", 2048), ("ECDSA", 224), ("ECDSA", 256), ("ECDSA", 384),
                                            ("ECDSA", 521), ("Ed25519", 256)])
def test_generate(algorithm, size):
    assert K.describe(K.generate(algorithm, size)) == (algorithm, size)


def test_generate_refuses_dsa():
    with pytest.raises(UnsupportedKeyType):
        K.generate("DSA", 2048)


# ---------------------------------------------------------------- parse: PEM and DER

PRIVATE_FORMATS = {
    "pkcs8": (Priv.PKCS8, None), "pkcs8-encrypted": (Priv.PKCS8, PASSWORD), "traditional": (Priv.TraditionalOpenSSL, None),
}
# Ed25519 has no traditional (PKCS#1 / SEC1) form.
PRIVATE_CASES = [(label, f) for label in EXPECTED for f in PRIVATE_FORMATS if (label, f) != ("Ed25519", "traditional")]


@pytest.mark.parametrize("encoding", [Enc.PEM, Enc.DER], ids=["pem", "der"])
@pytest.mark.parametrize("label,fmt_name", PRIVATE_CASES, ids=["-".join(c) for c in PRIVATE_CASES])
def test_parse_private(keyset, label, fmt_name, encoding):
    private = keyset[label]
    fmt, password = PRIVATE_FORMATS[fmt_name]
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    data = private.private_bytes(encoding, fmt, enc)
    if encoding is Enc.PEM and fmt is Priv.TraditionalOpenSSL:
        assert data.startswith(b"-----BEGIN RSA PRIVATE KEY" if label == "RSA" else b"-----BEGIN EC PRIVATE KEY")
    expected_fmt = "pem" if encoding is Enc.PEM else "der"
    assert_parsed(K.parse_key(data, password), private, label, expected_fmt)
    assert_parsed(K.parse_key(data, password.decode() if password else None), private, label, expected_fmt)
    if password:
        with pytest.raises(WrongPassphrase):
            K.parse_key(data)
        with pytest.raises(WrongPassphrase):
            K.parse_key(data, b"not the passphrase")
    else:  # a passphrase given for a clear key is ignored, as for Lamassu's clear files
        assert_parsed(K.parse_key(data, PASSWORD), private, label, expected_fmt)


@pytest.mark.parametrize("encoding", [Enc.PEM, Enc.DER], ids=["pem", "der"])
@pytest.mark.parametrize("label", list(EXPECTED))
def test_parse_public_spki(keyset, label, encoding):
    private = keyset[label]
    data = private.public_key().public_bytes(encoding, Pub.SubjectPublicKeyInfo)
    parsed = K.parse_key(data)
    assert_parsed(parsed, private, label, "public-pem" if encoding is Enc.PEM else "public-der", has_private=False)
    assert parsed.private_key is None


@pytest.mark.parametrize("encoding", [Enc.PEM, Enc.DER], ids=["pem", "der"])
def test_parse_public_pkcs1_rsa(keyset, encoding):
    data = keyset["RSA"].public_key().public_bytes(encoding, Pub.PKCS1)
    parsed = K.parse_key(data)
    assert_parsed(parsed, keyset["RSA"], "RSA", "public-pem" if encoding is Enc.PEM else "public-der", False)


def test_parse_accepts_text(keyset):
    data = keyset["ECDSA-256"].private_bytes(Enc.PEM, Priv.PKCS8, serialization.NoEncryption()).decode()
    assert_parsed(K.parse_key("\n  " + data + "\n\n"), keyset["ECDSA-256"], "ECDSA-256", "pem")


# ---------------------------------------------------------------- parse: OpenSSH and JWK


@pytest.mark.parametrize("label", ["RSA", "ECDSA-256", "ECDSA-384", "ECDSA-521", "Ed25519"])
def test_parse_openssh(keyset, label):
    private = keyset[label]
    data = private.private_bytes(Enc.PEM, Priv.OpenSSH, serialization.NoEncryption())
    assert_parsed(K.parse_key(data), private, label, "openssh")
    public = private.public_key().public_bytes(Enc.OpenSSH, Pub.OpenSSH) + b" user@host\n"
    assert_parsed(K.parse_key(public), private, label, "public-openssh", has_private=False)


def jwk_of(private, with_private: bool, with_crt: bool = True) -> bytes:
    if isinstance(private, rsa.RSAPrivateKey):
        n = private.private_numbers()
        jwk = {"kty": "RSA", "n": b64u_int(n.public_numbers.n), "e": b64u_int(n.public_numbers.e)}
        if with_private:
            jwk.update(d=b64u_int(n.d), p=b64u_int(n.p), q=b64u_int(n.q))
            if with_crt:
                jwk.update(dp=b64u_int(n.dmp1), dq=b64u_int(n.dmq1), qi=b64u_int(n.iqmp))
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        size = private.curve.key_size
        width = (size + 7) // 8
        n = private.private_numbers()
        jwk = {"kty": "EC", "crv": f"P-{size}", "x": b64u_int(n.public_numbers.x, width),
               "y": b64u_int(n.public_numbers.y, width)}
        if with_private:
            jwk["d"] = b64u_int(n.private_value, width)
    else:
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64u(private.public_key().public_bytes_raw())}
        if with_private:
            jwk["d"] = b64u(private.private_bytes_raw())
    return json.dumps(jwk).encode()


@pytest.mark.parametrize("label", list(EXPECTED))
def test_parse_jwk(keyset, label):
    private = keyset[label]
    assert_parsed(K.parse_key(jwk_of(private, True)), private, label, "jwk")
    assert_parsed(K.parse_key(jwk_of(private, False)), private, label, "public-jwk", has_private=False)
    if label == "RSA":  # CRT members are optional
        assert_parsed(K.parse_key(jwk_of(private, True, with_crt=False)), private, label, "jwk")
    signature = K.sign_with(K.parse_key(jwk_of(private, True)).private_key, A.signing_algorithm(
        A.algorithms_for_key(EXPECTED[label][0])[0]), b"m", A.MessageType.RAW)
    assert K.verify_with(private.public_key(), A.signing_algorithm(A.algorithms_for_key(EXPECTED[label][0])[0]),
                         b"m", A.MessageType.RAW, signature)


@pytest.mark.parametrize(
    "text,error",
    [
        (b"{not json", KeyParseError),
        (b'{"kty": "RSA"}', KeyParseError),
        (b'{"kty": "RSA", "n": 5, "e": "AQAB"}', KeyParseError),
        (b'{"kty": "RSA", "n": "!!!", "e": "AQAB"}', KeyParseError),
        (b'{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}', KeyParseError),
        (b'{"kty": "EC", "crv": "P-192", "x": "AA", "y": "AA"}', UnsupportedKeyType),
        (b'{"kty": "EC", "crv": ["P-256"], "x": "AA", "y": "AA"}', KeyParseError),
        (b'{"kty": "OKP", "crv": "Ed25519"}', KeyParseError),
        (b'{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}', KeyParseError),
        (b'{"kty": "OKP", "crv": "X25519", "x": "AAAA"}', UnsupportedKeyType),
        (b'{"kty": "oct", "k": "AAAA"}', UnsupportedKeyType),
        (b'{"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQ"}', KeyParseError),
        (b"[1, 2, 3]", KeyParseError),
        (b"{" * 100000 + b"}" * 100000, KeyParseError),
    ],
    ids=lambda v: v if isinstance(v, type) else v[:30].decode(errors="replace"),
)
def test_parse_bad_jwk(text, error):
    with pytest.raises(error):
        K.parse_key(text)


def test_to_jwk(keyset):
    for label, private in keyset.items():
        jwk = K.to_jwk(private.public_key())
        assert jwk["kid"] == sha256_spki(private.public_key())
        assert "d" not in jwk
        assert jwk["kty"] == {"RSA": "RSA", "ECDSA": "EC", "Ed25519": "OKP"}[EXPECTED[label][0]]
    with pytest.raises(UnsupportedKeyType):
        K.to_jwk(dsa.generate_private_key(1024).public_key())


# ---------------------------------------------------------------- parse: refusals


@pytest.fixture(scope="module")
def dsa_key():
    return dsa.generate_private_key(2048)


@pytest.mark.parametrize("encoding", [Enc.PEM, Enc.DER], ids=["pem", "der"])
def test_dsa_public_accepted_as_public_only(dsa_key, encoding):
    parsed = K.parse_key(dsa_key.public_key().public_bytes(encoding, Pub.SubjectPublicKeyInfo))
    assert (parsed.algorithm, parsed.size, parsed.has_private_key) == ("DSA", 2048, False)
    assert parsed.key_id == sha256_spki(dsa_key.public_key())
    assert A.strength(parsed.algorithm, parsed.size) == "LOW"


@pytest.mark.parametrize("fmt", [Priv.PKCS8, Priv.TraditionalOpenSSL], ids=["pkcs8", "traditional"])
@pytest.mark.parametrize("encoding", [Enc.PEM, Enc.DER], ids=["pem", "der"])
def test_dsa_private_refused(dsa_key, fmt, encoding):
    with pytest.raises(UnsupportedKeyType) as info:
        K.parse_key(dsa_key.private_bytes(encoding, fmt, serialization.NoEncryption()))
    assert "DSA" in info.value.message


def test_rsa_512_refused():
    with pytest.raises(UnsupportedKeyType) as info:
        K.parse_key(RSA_512_PEM)
    assert "512" in info.value.message
    public = serialization.load_pem_private_key(RSA_512_PEM, None).public_key()
    with pytest.raises(UnsupportedKeyType):
        K.parse_key(public.public_bytes(Enc.PEM, Pub.SubjectPublicKeyInfo))


def test_rsa_1024_accepted_for_import():
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    parsed = K.parse_key(private.private_bytes(Enc.PEM, Priv.PKCS8, serialization.NoEncryption()))
    assert (parsed.algorithm, parsed.size) == ("RSA", 1024)
    assert A.strength("RSA", 1024) == "LOW"


@pytest.mark.parametrize(
    "private",
    [ec.generate_private_key(ec.SECP256K1()), x25519.X25519PrivateKey.generate(), ed448.Ed448PrivateKey.generate()],
    ids=["secp256k1", "x25519", "ed448"],
)
def test_other_key_kinds_refused(private):
    for data in (
        private.private_bytes(Enc.PEM, Priv.PKCS8, serialization.NoEncryption()),
        private.public_key().public_bytes(Enc.DER, Pub.SubjectPublicKeyInfo),
    ):
        with pytest.raises(UnsupportedKeyType) as err:
            K.parse_key(data)
        assert "PublicKey" not in err.value.message and "PrivateKey" not in err.value.message
    if isinstance(private, ed448.Ed448PrivateKey):
        assert "Ed448 keys are not supported" in err.value.message


def certificate(private) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )


def unreadable_inputs(keyset):
    pem = keyset["ECDSA-256"].private_bytes(Enc.PEM, Priv.PKCS8, serialization.NoEncryption())
    der = keyset["RSA"].private_bytes(Enc.DER, Priv.PKCS8, serialization.NoEncryption())
    cert = certificate(keyset["ECDSA-256"])
    return {
        "truncated-pem": pem[: len(pem) // 2],
        "truncated-pem-body": pem[:60] + b"\n-----END PRIVATE KEY-----\n",
        "truncated-der": der[: len(der) // 2],
        "truncated-der-1": der[:-1],
        "random": bytes(range(256)) * 3,
        "empty": b"",
        "whitespace": b" \n\t\r\n",
        "text": b"hello, this is not a key",
        "certificate-pem": cert.public_bytes(Enc.PEM),
        "certificate-der": cert.public_bytes(Enc.DER),
        "unknown-pem": b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n",
        "ssh-garbage": b"ssh-rsa AAAA!!!! user@host",
        "over-size": b"-----BEGIN PRIVATE KEY-----\n" + b"A" * (K.MAX_KEY_FILE_BYTES + 1),
        "not-bytes": 12345,
    }


UNREADABLE = [
    "truncated-pem", "truncated-pem-body", "truncated-der", "truncated-der-1", "random", "empty", "whitespace",
    "text", "certificate-pem", "certificate-der", "unknown-pem", "ssh-garbage", "over-size", "not-bytes",
]


@pytest.mark.parametrize("name", UNREADABLE)
def test_unreadable_input_is_a_key_parse_error(keyset, name):
    data = unreadable_inputs(keyset)[name]
    with pytest.raises(KeyParseError) as info:
        K.parse_key(data)
    assert type(info.value) is KeyParseError and info.value.message
    with pytest.raises(KeyParseError):
        K.parse_key(data, PASSWORD)


def test_certificate_error_says_so(keyset):
    with pytest.raises(KeyParseError) as info:
        K.parse_key(certificate(keyset["RSA"]).public_bytes(Enc.PEM))
    assert "certificate" in info.value.message


# ---------------------------------------------------------------- ECDSA signature encodings


@pytest.mark.parametrize("size", [224, 256, 384, 521])
def test_ecdsa_der_raw_round_trip(size):
    private = ec.generate_private_key(CURVES[size]())
    width = (size + 7) // 8
    for _ in range(8):  # several signatures, so short r/s values get exercised too
        der = private.sign(b"message", ec.ECDSA(hashes.SHA256()))
        raw = K.ecdsa_der_to_raw(der, size)
        assert len(raw) == 2 * width
        r, s = decode_dss_signature(der)
        assert raw == r.to_bytes(width, "big") + s.to_bytes(width, "big")
        assert K.ecdsa_raw_to_der(raw) == der
        private.public_key().verify(K.ecdsa_raw_to_der(raw), b"message", ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("half", [32, 48, 66])
@pytest.mark.parametrize("r_first, s_first", [(0x01, 0x7F), (0x80, 0x01), (0x7F, 0xFF), (0xFF, 0x80),
                                              (0x00, 0x80), (0x80, 0x00), (0x00, 0x00)])
def test_ecdsa_raw_to_der_is_the_der_of_r_and_s_whatever_their_top_bytes(half, r_first, s_first):
    r = bytes((r_first,)) + bytes(range(1, half))
    s = bytes((s_first,)) + bytes(range(half - 1, 0, -1))
    der = K.ecdsa_raw_to_der(r + s)
    assert der == encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    assert K.ecdsa_raw_to_der(bytearray(r + s)) == der


def test_ecdsa_raw_many_to_der_is_each_signature_converted_alone():
    tops = (0x01, 0x7F, 0x80, 0xFF, 0x00)
    made = [bytes((a,)) + bytes(range(1, half)) + bytes((b,)) + bytes(range(half - 1, 0, -1))
            for half in (32, 48) for a in tops for b in tops]
    mixed = [*made, bytearray(made[0]), made[0][:-2]]  # a bytearray, and a shorter signature among P-256 ones
    assert K.ecdsa_raw_many_to_der(mixed) == [K.ecdsa_raw_to_der(raw) for raw in mixed]
    assert K.ecdsa_raw_many_to_der([bytes(66) + bytes((1,)) * 66]) == [K.ecdsa_raw_to_der(bytes(66) + b"\x01" * 66)]
    assert K.ecdsa_raw_many_to_der([]) == []
    with pytest.raises(InvalidInput):
        K.ecdsa_raw_many_to_der([made[0], b"\x01\x02\x03"])


def test_ecdsa_encoding_errors():
    with pytest.raises(InvalidInput):
        K.ecdsa_der_to_raw(b"\x30\x03garbage", 256)
    with pytest.raises(InvalidInput):
        K.ecdsa_der_to_raw(encode_dss_signature(2**300, 1), 256)
    for raw in (b"", b"\x01\x02\x03", "abcd", None):
        with pytest.raises(InvalidInput):
            K.ecdsa_raw_to_der(raw)


# ---------------------------------------------------------------- sign and verify


@pytest.mark.parametrize("name", list(A.SIGNING_ALGORITHMS))
def test_sign_with_and_verify_with(keyset, name):
    sig_alg = A.signing_algorithm(name)
    label = {"RSA": "RSA", "ECDSA": "ECDSA-384", "Ed25519": "Ed25519", "ML-DSA": "ML-DSA-65"}[sig_alg.key_algorithm]
    private = keyset[label] if label in keyset else K.generate(A.ML_DSA, 65)
    message_types = [A.MessageType.RAW] + ([A.MessageType.DIGEST] if sig_alg.hash_name else [])
    for message_type in message_types:
        data = b"message" if message_type is A.MessageType.RAW else hashlib.new(sig_alg.hash_name, b"message").digest()
        signature = K.sign_with(private, sig_alg, data, message_type)
        assert K.verify_with(private.public_key(), sig_alg, data, message_type, signature)
        assert K.verify_with(private.public_key(), sig_alg, b"message", A.MessageType.RAW, signature)
        assert not K.verify_with(private.public_key(), sig_alg, b"messagE", A.MessageType.RAW, signature)
        assert not K.verify_with(private.public_key(), sig_alg, b"message", A.MessageType.RAW, b"\x00" * 8)
    if sig_alg.padding == "PSS":  # salt = hash length, checked with cryptography directly
        h = sig_alg.hasher()
        private.public_key().verify(signature, b"message", _pss(h), h)
        with pytest.raises(InvalidSignature):
            private.public_key().verify(signature, b"message", _pss(h, salt=h.digest_size - 1), h)


def _pss(h, salt=None):
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size if salt is None else salt)


def test_sign_with_refuses_misuse(keyset):
    with pytest.raises(AlgorithmMismatch):
        K.sign_with(keyset["RSA"], A.signing_algorithm("ECDSA_SHA_256"), b"m", A.MessageType.RAW)
    with pytest.raises(AlgorithmMismatch):
        K.sign_with(keyset["ECDSA-256"], A.signing_algorithm("ED25519"), b"m", A.MessageType.RAW)
    with pytest.raises(AlgorithmMismatch):
        K.verify_with(keyset["Ed25519"].public_key(), A.signing_algorithm("RSASSA_PSS_SHA_256"), b"m", "RAW", b"s")
    with pytest.raises(DigestLengthError):
        K.sign_with(keyset["ECDSA-256"], A.signing_algorithm("ECDSA_SHA_384"), b"\0" * 32, A.MessageType.DIGEST)
    with pytest.raises(DigestLengthError):
        K.sign_with(keyset["RSA"], A.signing_algorithm("RSASSA_PKCS1_V1_5_SHA_256"), b"short", "DIGEST")
    with pytest.raises(InvalidInput):
        K.sign_with(keyset["Ed25519"], A.signing_algorithm("ED25519"), b"\0" * 64, A.MessageType.DIGEST)
    with pytest.raises(InvalidInput):
        K.sign_with(keyset["Ed25519"], A.signing_algorithm("ED25519"), b"m", "HASHED")


def test_self_test(keyset):
    private = keyset["ECDSA-256"]
    K.self_test(lambda alg, data, mt: K.sign_with(private, alg, data, mt), private.public_key(), "ECDSA")
    with pytest.raises(EngineError):
        K.self_test(lambda alg, data, mt: b"\x30\x06\x02\x01\x01\x02\x01\x01", private.public_key(), "ECDSA")
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(EngineError):
        K.self_test(lambda alg, data, mt: K.sign_with(other, alg, data, mt), private.public_key(), "ECDSA")


# ---------------------------------------------------------------- export


@pytest.mark.parametrize("fmt", ["pem", "der", "jwk", "ssh", "PEM", "openssh"])
@pytest.mark.parametrize("label", list(EXPECTED))
def test_export_public_round_trips(keyset, label, fmt):
    public = keyset[label].public_key()
    if label == "ECDSA-224" and fmt.lower() in ("ssh", "openssh"):
        with pytest.raises(UnsupportedKeyType):
            K.export_public(public, fmt)
        return
    data = K.export_public(public, fmt)
    parsed = K.parse_key(data)
    assert parsed.key_id == sha256_spki(public) and not parsed.has_private_key
    assert (parsed.algorithm, parsed.size) == EXPECTED[label]


def test_export_unknown_format(keyset):
    for fmt in ("xml", "", "pkcs12"):
        with pytest.raises(InvalidInput):
            K.export_public(keyset["RSA"].public_key(), fmt)


def test_public_pem_and_load(keyset):
    public = keyset["Ed25519"].public_key()
    text = K.public_pem(public)
    assert text.startswith("-----BEGIN PUBLIC KEY-----")
    assert K.key_id_of(K.load_public_pem(text)) == K.key_id_of(K.load_public_pem(text.encode())) == sha256_spki(public)
    for bad in ("", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "garbage"):
        with pytest.raises(KeyParseError):
            K.load_public_pem(bad)


def test_private_pkcs8_pem(keyset):
    private = keyset["ECDSA-521"]
    clear = K.private_pkcs8_pem(private)
    assert clear.startswith(b"-----BEGIN PRIVATE KEY-----")
    encrypted = K.private_pkcs8_pem(private, PASSWORD)
    assert encrypted.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert K.parse_key(encrypted, PASSWORD).key_id == K.parse_key(clear).key_id == sha256_spki(private.public_key())
    with pytest.raises(WrongPassphrase):
        K.parse_key(encrypted, b"wrong")


# ---------------------------------------------------------------- property: typed errors only


def _samples() -> list[bytes]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    none = serialization.NoEncryption()
    out = []
    for key in (rsa_key, ec_key, ed_key):
        for encoding in (Enc.PEM, Enc.DER):
            out.append(key.private_bytes(encoding, Priv.PKCS8, none))
            out.append(key.public_key().public_bytes(encoding, Pub.SubjectPublicKeyInfo))
        out.append(key.private_bytes(Enc.PEM, Priv.PKCS8, serialization.BestAvailableEncryption(PASSWORD)))
        out.append(key.private_bytes(Enc.PEM, Priv.OpenSSH, none))
        out.append(key.public_key().public_bytes(Enc.OpenSSH, Pub.OpenSSH))
        out.append(jwk_of(key, True))
    for key in (rsa_key, ec_key):
        out.append(key.private_bytes(Enc.PEM, Priv.TraditionalOpenSSL, none))
        out.append(key.private_bytes(Enc.DER, Priv.TraditionalOpenSSL, none))
    return out


SAMPLES = _samples()


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        if kind == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[i:i + draw(st.integers(1, 32))]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(st.binary(max_size=2048), mutated(), st.text(max_size=512)),
    passphrase=st.one_of(st.none(), st.just(PASSWORD), st.binary(max_size=8)),
)
def test_parse_key_only_raises_typed_errors(data, passphrase):
    try:
        parsed = K.parse_key(data, passphrase)
    except KmsError as exc:
        assert exc.title and exc.message
    else:
        assert K.is_key_id(parsed.key_id)
        assert parsed.algorithm in ("RSA", "ECDSA", "Ed25519", "DSA")


def test_a_wrong_passphrase_that_decrypts_to_garbage_is_still_a_wrong_passphrase():
    """About one wrong passphrase in 256 leaves valid padding on an encrypted DER key, and
    cryptography then fails to parse the result: that is a wrong passphrase, not unreadable data."""
    private = ec.generate_private_key(ec.SECP256R1())
    data = private.private_bytes(Enc.DER, Priv.PKCS8, serialization.BestAvailableEncryption(b"right passphrase"))
    garbled = None
    for i in range(20000):
        candidate = f"wrong {i}".encode()
        try:
            serialization.load_der_private_key(data, password=candidate)
        except ValueError as exc:
            if "password" not in str(exc).lower() and "bad decrypt" not in str(exc).lower():
                garbled = candidate
                break
    assert garbled is not None
    with pytest.raises(WrongPassphrase):
        K.parse_key(data, garbled)
