"""Key material: parsing, identity, description, signing and verification.

Everything here works on ``cryptography`` key objects and is shared by the
software-backed drivers (software, Secrets Manager, Vault) and by the offline
verifier. ``key_id`` follows Lamassu: lowercase hex SHA-256 of the DER
SubjectPublicKeyInfo.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.hashes import HashAlgorithm

from . import algorithms as A
from .errors import InvalidInput, KeyParseError, UnsupportedKeyType, WrongPassphrase
from .limits import MAX_KEY_FILE_BYTES as MAX_KEY_FILE_BYTES
from .mldsa import (
    ML_DSA_PRIVATE_TYPES,
    ML_DSA_PUBLIC_TYPES,
    MLDSAPrivateKey,
    MLDSAPublicKey,
    is_ml_dsa_private,
    is_ml_dsa_public,
    ml_dsa_generate,
    ml_dsa_mu,
    ml_dsa_oid_in,
    ml_dsa_private_from_seed,
    ml_dsa_public_from_bytes,
    ml_dsa_size,
    ml_dsa_unreadable,
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | MLDSAPrivateKey
PublicKey = (rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | dsa.DSAPublicKey
             | MLDSAPublicKey)


@dataclass(frozen=True)
class ParsedKey:
    """A key read from bytes: the private key when there was one, always the public key."""

    public_key: PublicKey
    private_key: PrivateKey | None
    algorithm: str
    size: int
    source_format: str

    @property
    def has_private_key(self) -> bool:
        return self.private_key is not None

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)


# ---------------------------------------------------------------- identity


def spki_der(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id_of(public_key: PublicKeyTypes) -> str:
    """Lamassu's key id: lowercase hex SHA-256 of the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(spki_der(public_key)).hexdigest()


def is_key_id(text: str) -> bool:
    """True for a 64-char lowercase hex id (safe to use as a file name)."""
    return isinstance(text, str) and len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def describe(public_key: PublicKeyTypes | PrivateKeyTypes) -> tuple[str, int]:
    """(algorithm, size) of a public or private key object."""
    if isinstance(public_key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return A.RSA, public_key.key_size
    if isinstance(public_key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        size = A.SIZE_BY_CURVE.get(public_key.curve.name)
        if size is None:
            raise UnsupportedKeyType(
                f"Elliptic curve {public_key.curve.name} is not supported; use P-224, P-256, P-384 or P-521."
            )
        return A.ECDSA, size
    if isinstance(public_key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return A.ED25519, 256
    if isinstance(public_key, (dsa.DSAPublicKey, dsa.DSAPrivateKey)):
        return A.DSA, public_key.key_size
    size = ml_dsa_size(public_key)
    if size is not None:
        return A.ML_DSA, size
    raise _unsupported(public_key)


def _unsupported(key: object) -> UnsupportedKeyType:
    """Named as people name the kind ("Ed448 keys"), not as the library's class ("Ed448PublicKey")."""
    kind = type(key).__name__
    for suffix in ("PrivateKeyWithSerialization", "PublicKeyWithSerialization", "PrivateKey", "PublicKey"):
        kind = kind.removesuffix(suffix)
    what = f"{kind} keys are" if kind and kind != type(key).__name__ else "This kind of key is"
    return UnsupportedKeyType(f"{what} not supported; use RSA, ECDSA (P-224 to P-521), Ed25519 or ML-DSA.")


def supported_public(key: PublicKeyTypes) -> PublicKey:
    """``key`` as one of the public key types kms-tui handles; ``UnsupportedKeyType`` for another."""
    if isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, dsa.DSAPublicKey)):
        return key
    if is_ml_dsa_public(key):
        return key
    raise _unsupported(key)


def supported_private(key: PrivateKeyTypes) -> PrivateKey:
    """``key`` as one of the private key types kms-tui handles; ``UnsupportedKeyType`` for another."""
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        return key
    if is_ml_dsa_private(key):
        return key
    raise _unsupported(key)


# ---------------------------------------------------------------- generation


def generate(algorithm: str, size: int) -> PrivateKey:
    """A new private key object."""
    if algorithm == A.RSA:
        return rsa.generate_private_key(public_exponent=65537, key_size=size)
    if algorithm == A.ECDSA:
        return ec.generate_private_key(_curve(size))
    if algorithm == A.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == A.ML_DSA:
        return ml_dsa_generate(size)
    raise UnsupportedKeyType(f"Cannot generate {algorithm} keys.")


_CURVES: dict[int, Callable[[], ec.EllipticCurve]] = {
    224: ec.SECP224R1, 256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1,
}


def _curve(size: int) -> ec.EllipticCurve:
    return _CURVES[size]()


# ---------------------------------------------------------------- parsing


def parse_key(data: bytes | str, passphrase: bytes | str | None = None) -> ParsedKey:
    """Read a private or public key from PEM, DER, OpenSSH or JWK.

    Raises ``KeyParseError`` for anything unreadable, ``WrongPassphrase`` for an
    encrypted key with a missing or wrong passphrase, ``UnsupportedKeyType`` for
    keys of another kind. Never another exception.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if not isinstance(data, (bytes, bytearray)):
        raise KeyParseError("Key data must be bytes or text.")
    data = bytes(data)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyParseError(f"Key input is {len(data)} bytes; the limit is {MAX_KEY_FILE_BYTES} bytes.")
    if not data.strip():
        raise KeyParseError("The key input is empty.")
    if isinstance(passphrase, str):
        passphrase = passphrase.encode()
    passphrase = passphrase or None
    try:
        loaded, fmt = _load(data, passphrase)
    except (WrongPassphrase, KeyParseError, UnsupportedKeyType) as exc:
        if ml_dsa_oid_in(data) and "algorithm or encryption" in str(exc):
            raise ml_dsa_unreadable() from None  # without ML-DSA here, or in a form cryptography does not read
        raise
    except Exception:  # cryptography raises ValueError/TypeError/others on hostile input
        if ml_dsa_oid_in(data):
            raise ml_dsa_unreadable() from None
        raise KeyParseError(
            "The data is not a readable key (PEM or DER PKCS#1, PKCS#8, SEC1, SPKI, OpenSSH or JWK)."
        ) from None
    if isinstance(loaded, _Private):
        found: PrivateKeyTypes | None = loaded.key
        loaded_public = loaded.key.public_key()
    else:
        found, loaded_public = None, loaded
    if isinstance(found, dsa.DSAPrivateKey):
        raise UnsupportedKeyType("DSA private keys cannot be imported; DSA is accepted as a public key only.")
    public = supported_public(loaded_public)
    private = None if found is None else supported_private(found)
    algorithm, size = describe(public)
    if algorithm == A.RSA and size < A.RSA_MIN_IMPORT_SIZE:
        raise UnsupportedKeyType(f"RSA keys below {A.RSA_MIN_IMPORT_SIZE} bits are refused ({size} bits).")
    return ParsedKey(public, private, algorithm, size, fmt)


@dataclass(frozen=True)
class _Private:
    """A private key a loader read; a public key is returned as it is."""

    key: PrivateKeyTypes


# What a loader returns: the key read and its source format ("public-…" for a public key).
_Loaded = tuple[_Private | PublicKeyTypes, str]
_PrivateLoader = Callable[..., PrivateKeyTypes]


def _load(data: bytes, passphrase: bytes | None) -> _Loaded:
    stripped = data.strip()
    if stripped.startswith(b"{"):
        return _load_jwk(stripped)
    if stripped.startswith(b"-----BEGIN OPENSSH PRIVATE KEY"):
        return _private(serialization.load_ssh_private_key, stripped, passphrase), "openssh"
    if stripped.split(b" ", 1)[0] in (b"ssh-rsa", b"ssh-ed25519") or stripped.startswith(b"ecdsa-sha2-"):
        return serialization.load_ssh_public_key(stripped), "public-openssh"
    if b"-----BEGIN" in stripped:
        if b"PUBLIC KEY-----" in stripped:
            return serialization.load_pem_public_key(stripped), "public-pem"
        if b"-----BEGIN CERTIFICATE" in stripped:
            raise KeyParseError("This is a certificate, not a key; import its public key instead.")
        encrypted = b"ENCRYPTED" in stripped
        return _private(serialization.load_pem_private_key, stripped, passphrase, encrypted), "pem"
    # DER: try private first (PKCS#8, PKCS#1, SEC1), then public (SPKI, PKCS#1 RSA).
    try:
        return _private(serialization.load_der_private_key, data, passphrase, _der_encrypted(data)), "der"
    except (WrongPassphrase, UnsupportedKeyType):
        raise
    except Exception:
        pass
    return serialization.load_der_public_key(data), "public-der"


# The algorithm of a DER EncryptedPrivateKeyInfo: PKCS#5 (PBES1, PBES2) or PKCS#12 password-based encryption.
_PBE_OIDS = (bytes.fromhex("06092a864886f70d0105"), bytes.fromhex("060a2a864886f70d010c01"))


def _der_encrypted(data: bytes) -> bool:
    """Whether DER data is an encrypted PKCS#8 key. A wrong passphrase decrypts to garbage whose
    padding is valid about once in 256 tries; the parse error that follows is then still a wrong
    passphrase, not an unreadable key (as ``ENCRYPTED`` in a PEM header says for PEM)."""
    return data[:1] == b"\x30" and any(oid in data[:16] for oid in _PBE_OIDS)


def _private(loader: _PrivateLoader, data: bytes, passphrase: bytes | None,
             encrypted: bool | None = None) -> _Private:
    try:
        return _Private(loader(data, password=passphrase))
    except TypeError as exc:
        text = str(exc)
        # Checked first: "...private key is not encrypted." also contains "encrypted".
        if "Password was given but" in text:
            return _Private(loader(data, password=None))
        if "encrypted" in text or "Password was not given" in text:
            raise WrongPassphrase("The key is encrypted: a passphrase is needed.") from None
        raise
    except ValueError as exc:
        if encrypted or "Bad decrypt" in str(exc) or "password" in str(exc).lower():
            raise WrongPassphrase("The passphrase does not decrypt this key.") from None
        raise
    except UnsupportedAlgorithm:
        raise UnsupportedKeyType("The key uses an algorithm or encryption that is not supported.") from None


# ---------------------------------------------------------------- JWK


def _b64u_decode(value: Any) -> bytes:
    if not isinstance(value, str):
        raise KeyParseError("JWK member is not a base64url string.")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise KeyParseError("JWK member is not valid base64url.") from None


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(jwk: dict[str, Any], name: str) -> int:
    if name not in jwk:
        raise KeyParseError(f"JWK is missing {name!r}.")
    return int.from_bytes(_b64u_decode(jwk[name]), "big")


_JWK_CURVES = {"P-224": 224, "P-256": 256, "P-384": 384, "P-521": 521}


def _load_jwk(data: bytes) -> _Loaded:
    try:
        jwk: object = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise KeyParseError("The data looks like JSON but is not valid JSON.") from None
    if not isinstance(jwk, dict):
        raise KeyParseError("A JWK must be a JSON object.")
    kty = jwk.get("kty")
    if kty in ("RSA", "RSA-HSM"):
        pub = rsa.RSAPublicNumbers(_int(jwk, "e"), _int(jwk, "n"))
        if "d" not in jwk:
            return pub.public_key(), "public-jwk"
        p, q, d = _int(jwk, "p"), _int(jwk, "q"), _int(jwk, "d")
        priv = rsa.RSAPrivateNumbers(
            p, q, d,
            _int(jwk, "dp") if "dp" in jwk else rsa.rsa_crt_dmp1(d, p),
            _int(jwk, "dq") if "dq" in jwk else rsa.rsa_crt_dmq1(d, q),
            _int(jwk, "qi") if "qi" in jwk else rsa.rsa_crt_iqmp(p, q),
            pub,
        )
        return _Private(priv.private_key()), "jwk"
    if kty in ("EC", "EC-HSM"):
        crv: Any = jwk.get("crv")  # any JSON value; one that is no curve name is refused below
        size = _JWK_CURVES.get(crv)
        if size is None:
            raise UnsupportedKeyType(f"JWK curve {crv!r} is not supported.")
        point = ec.EllipticCurvePublicNumbers(_int(jwk, "x"), _int(jwk, "y"), _curve(size))
        if "d" not in jwk:
            return point.public_key(), "public-jwk"
        return _Private(ec.EllipticCurvePrivateNumbers(_int(jwk, "d"), point).private_key()), "jwk"
    if kty == "AKP":
        return _load_akp(jwk)
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        if "d" in jwk:
            return _Private(ed25519.Ed25519PrivateKey.from_private_bytes(_b64u_decode(jwk["d"]))), "jwk"
        return ed25519.Ed25519PublicKey.from_public_bytes(_b64u_decode(jwk.get("x"))), "public-jwk"
    raise UnsupportedKeyType(f"JWK key type {kty!r} is not supported.")


# RFC 9964 (draft-ietf-cose-dilithium): JWK key type "AKP" with "alg" naming the parameter set,
# "pub" the raw FIPS 204 public key and, in a private key, "priv" its 32-byte seed.
_AKP_SIZES = {f"ML-DSA-{size}": size for size in A.ML_DSA_SIZES}
_AKP_SEED_BYTES = 32


def _load_akp(jwk: dict[str, Any]) -> _Loaded:
    alg: Any = jwk.get("alg")
    size = _AKP_SIZES.get(alg)
    if size is None:
        raise UnsupportedKeyType(f"AKP JWK algorithm {alg!r} is not supported; use ML-DSA-44, ML-DSA-65 or ML-DSA-87.")
    if "pub" not in jwk:
        raise KeyParseError("An AKP JWK must have its public key \"pub\".")
    public = ml_dsa_public_from_bytes(size, _b64u_decode(jwk["pub"]))
    if "priv" not in jwk:
        return public, "public-jwk"
    seed = _b64u_decode(jwk["priv"])
    if len(seed) != _AKP_SEED_BYTES:
        raise KeyParseError(f"An ML-DSA JWK \"priv\" is the {_AKP_SEED_BYTES}-byte seed; this one is {len(seed)} bytes.")
    private = ml_dsa_private_from_seed(size, seed)
    if spki_der(private.public_key()) != spki_der(public):
        raise KeyParseError("The JWK's \"priv\" seed does not make its \"pub\" public key.")
    return _Private(private), "jwk"


def to_jwk(public_key: PublicKeyTypes) -> dict[str, str]:
    """Public JWK (RFC 7517; AKP of RFC 9964 for ML-DSA) with ``kid`` = key id."""
    if isinstance(public_key, rsa.RSAPublicKey):
        n = public_key.public_numbers()
        jwk = {"kty": "RSA", "n": _b64u(_int_bytes(n.n)), "e": _b64u(_int_bytes(n.e))}
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        size = A.SIZE_BY_CURVE[public_key.curve.name]
        width = (size + 7) // 8
        point = public_key.public_numbers()
        jwk = {
            "kty": "EC",
            "crv": A.NIST_NAME[size],
            "x": _b64u(point.x.to_bytes(width, "big")),
            "y": _b64u(point.y.to_bytes(width, "big")),
        }
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64u(raw)}
    elif is_ml_dsa_public(public_key):
        jwk = {"kty": "AKP", "alg": f"ML-DSA-{ml_dsa_size(public_key)}", "pub": _b64u(public_key.public_bytes_raw())}
    else:
        raise UnsupportedKeyType("Only RSA, EC, Ed25519 and ML-DSA keys can be exported as JWK.")
    jwk["kid"] = key_id_of(public_key)
    return jwk


def _int_bytes(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


# ---------------------------------------------------------------- serialisation


def public_pem(public_key: PublicKeyTypes) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_pem(pem: str | bytes) -> PublicKey:
    """A stored public key; ``UnsupportedKeyType`` for a key of a type kms-tui never records."""
    if isinstance(pem, str):
        pem = pem.encode()
    try:
        loaded = serialization.load_pem_public_key(pem)
    except Exception:
        raise KeyParseError("The stored public key is not a readable PEM SubjectPublicKeyInfo.") from None
    return supported_public(loaded)


def export_public(public_key: PublicKeyTypes, fmt: str) -> bytes:
    """Public key as ``pem``, ``der``, ``jwk`` (JSON) or ``ssh`` (OpenSSH)."""
    fmt = fmt.lower()
    if fmt == "pem":
        return public_pem(public_key).encode()
    if fmt == "der":
        return spki_der(public_key)
    if fmt == "jwk":
        return (json.dumps(to_jwk(public_key), sort_keys=True) + "\n").encode()
    if fmt in ("ssh", "openssh"):
        if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == "secp224r1":
            raise UnsupportedKeyType("OpenSSH has no format for P-224 keys.")
        if is_ml_dsa_public(public_key):
            raise UnsupportedKeyType("OpenSSH has no format for ML-DSA keys: export it as pem, der or jwk.")
        try:
            return public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH) + b"\n"
        except (ValueError, UnsupportedAlgorithm):
            raise UnsupportedKeyType("This key cannot be written in OpenSSH format.") from None
    raise InvalidInput(f"Unknown export format {fmt!r}: use pem, der, jwk or ssh.")


def private_pkcs8_pem(private_key: PrivateKeyTypes, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM; ``ENCRYPTED PRIVATE KEY`` when a passphrase is given."""
    enc = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


# ---------------------------------------------------------------- signatures


def ecdsa_der_to_raw(signature: bytes, size: int) -> bytes:
    """DER ECDSA-Sig-Value to fixed-width r||s."""
    try:
        r, s = decode_dss_signature(signature)
    except Exception:
        raise InvalidInput("The ECDSA signature is not valid DER.") from None
    width = (size + 7) // 8
    if r.bit_length() > width * 8 or s.bit_length() > width * 8:
        raise InvalidInput("The ECDSA signature does not fit the curve size.")
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


def _der_integer_heads(half: int) -> tuple[tuple[tuple[bytes, bytes], tuple[bytes, bytes]], tuple[bytes, bytes]]:
    """For r||s halves of ``half`` bytes whose first byte is not zero, the bytes before r and
    before s, by the top bit of each (set: the INTEGER takes a leading zero). Halves up to 60
    bytes keep every length in one byte (short form): P-256 and P-384."""
    def integer(top: int) -> bytes:
        return bytes((0x02, half + top)) + b"\x00" * top

    def sequence(r_top: int, s_top: int) -> bytes:
        return bytes((0x30, 2 * (2 + half) + r_top + s_top)) + integer(r_top)

    return ((sequence(0, 0), sequence(0, 1)), (sequence(1, 0), sequence(1, 1))), (integer(0), integer(1))


_DER_HEADS = {half: _der_integer_heads(half) for half in (32, 48)}


def ecdsa_raw_to_der(signature: bytes) -> bytes:
    """Fixed-width r||s (as PKCS#11 and Azure return it) to DER."""
    if not isinstance(signature, (bytes, bytearray)) or not signature or len(signature) % 2:
        raise InvalidInput("A raw ECDSA signature must be r||s of even, non-zero length.")
    half = len(signature) // 2
    heads = _DER_HEADS.get(half)
    if heads is not None and signature[0] and signature[half]:
        # The usual case, made from bytes (a batch converts every signature): neither half has
        # a leading zero byte to drop, so only the top bits decide the DER around them.
        r_top, s_top = signature[0] >> 7, signature[half] >> 7
        before_r, before_s = heads
        return before_r[r_top][s_top] + signature[:half] + before_s[s_top] + signature[half:]
    return encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))


def ecdsa_raw_many_to_der(signatures: list[bytes]) -> list[bytes]:
    """``ecdsa_raw_to_der`` of each signature, in one loop: a batch converts thousands, and a
    call per signature (its checks and lookups made again) cost more than the conversion."""
    if not signatures:
        return []
    half = len(signatures[0]) // 2
    heads = _DER_HEADS.get(half)
    if heads is None:
        return [ecdsa_raw_to_der(signature) for signature in signatures]
    before_r, before_s = heads
    size = half * 2
    out: list[bytes] = []
    add = out.append
    for signature in signatures:
        r_first, s_first = (signature[0], signature[half]) if len(signature) == size else (0, 0)
        if r_first and s_first and type(signature) is bytes:
            s_top = s_first >> 7
            add(before_r[r_first >> 7][s_top] + signature[:half] + before_s[s_top] + signature[half:])
        else:
            add(ecdsa_raw_to_der(signature))
    return out


def _rsa_padding(sig_alg: A.SigningAlgorithm) -> padding.AsymmetricPadding:
    if sig_alg.padding == "PSS":
        return padding.PSS(mgf=padding.MGF1(sig_alg.hasher()), salt_length=padding.PSS.DIGEST_LENGTH)
    return padding.PKCS1v15()


def sign_with(private_key: PrivateKey, sig_alg: A.SigningAlgorithm, data: bytes,
              message_type: A.MessageType | str) -> bytes:
    """Sign with a ``cryptography`` private key; ECDSA signatures are DER.

    ML-DSA signs the message itself (pure ML-DSA, empty context), or a 64-byte
    ``EXTERNAL_MU`` made by ``ml_dsa_mu``; both give the same signature format.
    """
    algorithm, size = describe(private_key)
    A.check_fits(sig_alg, algorithm, size)
    A.check_message(sig_alg, data, message_type)
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(data)
    if isinstance(private_key, ML_DSA_PRIVATE_TYPES):
        return _ml_dsa_signer(private_key, A.MessageType.parse(message_type))(data)
    digest = A.prepare_digest(sig_alg, data, message_type)
    chosen = Prehashed(sig_alg.hasher())
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(digest, _rsa_padding(sig_alg), chosen)
    return private_key.sign(digest, ec.ECDSA(chosen))


def signer_for(private_key: PrivateKey, sig_alg: A.SigningAlgorithm,
               message_type: A.MessageType | str) -> Callable[[bytes], bytes]:
    """A one-argument signing function for many messages: checks and objects prepared once.

    Used by batch signing, where the per-message cost must stay close to the
    bare ``cryptography`` call. Each message is still checked (a DIGEST's length).
    """
    algorithm, size = describe(private_key)
    A.check_fits(sig_alg, algorithm, size)
    mt = A.MessageType.parse(message_type)
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        if mt is not A.MessageType.RAW:
            raise InvalidInput("ED25519 signs the whole message: use message type raw.")
        return private_key.sign
    if isinstance(private_key, ML_DSA_PRIVATE_TYPES):
        if mt is A.MessageType.DIGEST:
            A.check_message(sig_alg, b"", mt)  # raises the typed refusal, with its reason
        return _ml_dsa_signer(private_key, mt)
    if mt is A.MessageType.EXTERNAL_MU:
        A.check_message(sig_alg, b"", mt)  # raises: an external mu is ML-DSA's alone
    if mt is A.MessageType.RAW:
        return _hash_signer(private_key, sig_alg, sig_alg.hasher())
    return _digest_signer(private_key, sig_alg, mt)


def _ml_dsa_signer(private_key: MLDSAPrivateKey, mt: A.MessageType) -> Callable[[bytes], bytes]:
    """``message -> signature`` (pure ML-DSA), or ``mu -> signature`` for an external mu (its length checked)."""
    if mt is not A.MessageType.EXTERNAL_MU:
        return private_key.sign
    sign_mu = private_key.sign_mu

    def sign_external_mu(mu: bytes) -> bytes:
        if len(mu) != A.MU_LENGTH:
            A.check_message(A.signing_algorithm("ML_DSA_SHAKE_256"), mu, mt)  # raises the typed length error
        return sign_mu(mu)

    return sign_external_mu


def _digest_signer(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, sig_alg: A.SigningAlgorithm,
                   mt: A.MessageType) -> Callable[[bytes], bytes]:
    """``digest -> signature``, the digest's length checked: one Python call around the library's."""
    expected = sig_alg.digest_length()
    chosen = Prehashed(sig_alg.hasher())
    if isinstance(private_key, rsa.RSAPrivateKey):
        rsa_sign, rsa_padding = private_key.sign, _rsa_padding(sig_alg)

        def sign_rsa(data: bytes) -> bytes:
            if len(data) != expected:
                A.prepare_digest(sig_alg, data, mt)  # raises the typed length error
            return rsa_sign(data, rsa_padding, chosen)

        return sign_rsa
    ec_sign, ecdsa = private_key.sign, ec.ECDSA(chosen)

    def sign_ecdsa(data: bytes) -> bytes:
        if len(data) != expected:
            A.prepare_digest(sig_alg, data, mt)  # raises the typed length error
        return ec_sign(data, ecdsa)

    return sign_ecdsa


def _hash_signer(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, sig_alg: A.SigningAlgorithm,
                 chosen: HashAlgorithm | Prehashed) -> Callable[[bytes], bytes]:
    """``data -> signature`` for an RSA or ECDSA key; ``chosen`` hashes the data (``Prehashed``: it is a digest)."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        rsa_sign, rsa_padding = private_key.sign, _rsa_padding(sig_alg)
        return lambda data: rsa_sign(data, rsa_padding, chosen)
    ec_sign, ecdsa = private_key.sign, ec.ECDSA(chosen)
    return lambda data: ec_sign(data, ecdsa)


# FIPS 204, Table 2.
ML_DSA_SIGNATURE_BYTES = {44: 2420, 65: 3309, 87: 4627}


def check_signature_length(algorithm: str, size: int, signature: bytes) -> None:
    """A signature of a length this key can never make is a wrong input, not a mismatch."""
    if algorithm == A.RSA:
        expected, what = -(-size // 8), f"An RSA-{size} signature"
    elif algorithm == A.ED25519:
        expected, what = 64, "An Ed25519 signature"
    elif algorithm == A.ML_DSA and size in ML_DSA_SIGNATURE_BYTES:
        expected, what = ML_DSA_SIGNATURE_BYTES[size], f"An ML-DSA-{size} signature"
    else:
        return  # ECDSA: DER lengths vary (ecdsa_der_to_raw checks a raw one against the curve)
    if len(signature) != expected:
        raise InvalidInput(f"{what} is {expected} bytes; this one is {len(signature)}.",
                           title="Wrong signature length",
                           hint="Check that this is the signature file, and its --encoding (base64, hex or raw).")


def verify_with(public_key: PublicKey, sig_alg: A.SigningAlgorithm, data: bytes,
                message_type: A.MessageType | str, signature: bytes) -> bool:
    """True when ``signature`` is valid; typed errors for misuse, never another exception."""
    algorithm, size = describe(public_key)
    A.check_fits(sig_alg, algorithm, size)
    A.check_message(sig_alg, data, message_type)
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
            return True
        if isinstance(public_key, ML_DSA_PUBLIC_TYPES):
            if A.MessageType.parse(message_type) is A.MessageType.EXTERNAL_MU:
                public_key.verify_mu(signature, data)
            else:
                public_key.verify(signature, data)
            return True
        digest = A.prepare_digest(sig_alg, data, message_type)
        chosen = Prehashed(sig_alg.hasher())
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, digest, _rsa_padding(sig_alg), chosen)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, digest, ec.ECDSA(chosen))
        else:  # a DSA key: no signing algorithm fits one, so check_fits refused it above
            return False
        return True
    except InvalidSignature:
        return False
    except (ValueError, TypeError):
        return False


def natural_algorithm(algorithm: str, size: int) -> str:
    """The signing algorithm a key is most naturally used with (its curve's own hash for ECDSA)."""
    if algorithm == A.ECDSA:
        return {384: "ECDSA_SHA_384", 521: "ECDSA_SHA_512"}.get(size, "ECDSA_SHA_256")
    return A.algorithms_for_key(algorithm)[0]


def self_test(sign: Callable[[A.SigningAlgorithm, bytes, A.MessageType], bytes], public_key: PublicKey,
              algorithm: str) -> None:
    """Sign a random challenge through ``sign(sig_alg, data, message_type)`` and verify it."""
    import os

    _, size = describe(public_key)
    sig_alg = A.signing_algorithm(natural_algorithm(algorithm, size))
    challenge = os.urandom(32)
    signature = sign(sig_alg, challenge, A.MessageType.RAW)
    if not verify_with(public_key, sig_alg, challenge, A.MessageType.RAW, signature):
        from .errors import EngineError

        raise EngineError("The new key failed its sign/verify self-test; it was not recorded.")


__all__ = [
    "ParsedKey", "parse_key", "key_id_of", "is_key_id", "describe", "generate", "public_pem",
    "load_public_pem", "export_public", "private_pkcs8_pem", "to_jwk", "ecdsa_der_to_raw",
    "ecdsa_raw_to_der", "sign_with", "verify_with", "check_signature_length", "self_test", "natural_algorithm",
    "ml_dsa_mu", "ML_DSA_SIGNATURE_BYTES", "MLDSAPrivateKey", "MLDSAPublicKey",
]
