"""Importing private key material into AWS KMS ("bring your own key").

The sequence AWS documents for asymmetric keys: ``CreateKey`` with ``Origin=EXTERNAL``,
``GetParametersForImport`` for an ``RSA_4096`` wrapping key and the
``RSA_AES_KEY_WRAP_SHA_256`` algorithm, then ``ImportKeyMaterial`` (no expiry) with

    RSA-OAEP-SHA-256(wrapping key, K) || AES-KWP(K, PKCS#8 DER of the private key)

where K is a fresh AES-256 key and AES-KWP is AES key wrap with padding (RFC 5649).
The clear PKCS#8 bytes exist only inside ``wrap_key_material``; K is never kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import errors as E
from .. import keys as K
from .errors import clean
from .kms_keys import IMPORT_SPECS, KeyMetadata

if TYPE_CHECKING:
    from .common import AwsConnection

WRAPPING_ALGORITHM = "RSA_AES_KEY_WRAP_SHA_256"
WRAPPING_KEY_SPEC = "RSA_4096"
MIN_WRAPPING_KEY_BITS = 2048


def wrap_key_material(private_key: K.PrivateKey, wrapping_public_key_der: bytes) -> bytes:
    """The ``EncryptedKeyMaterial`` for RSA_AES_KEY_WRAP_SHA_256."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

    try:
        wrapping = serialization.load_der_public_key(bytes(wrapping_public_key_der))
    except Exception:
        raise E.EngineError("AWS KMS sent an import wrapping key that is not a readable public key.") from None
    if not isinstance(wrapping, rsa.RSAPublicKey) or wrapping.key_size < MIN_WRAPPING_KEY_BITS:
        raise E.EngineError("AWS KMS sent an import wrapping key that is not an RSA key of 2048 bits or more.")
    aes_key = os.urandom(32)
    material = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return wrapping.encrypt(aes_key, oaep) + aes_key_wrap_with_padding(aes_key, material)


def import_signing_key(conn: AwsConnection, engine_id: str, key: K.ParsedKey,
                       discard: Callable[[str], None]) -> KeyMetadata:
    """Import a parsed private key into a new EXTERNAL KMS key named ``alias/<key_id>``.

    Returns the ``KeyMetadata`` of the new key. On any failure after ``CreateKey`` the
    half-made key is handed to ``discard`` (scheduled for deletion) before the error is raised.
    """
    private = key.private_key
    if private is None:
        raise E.OperationNotSupported(
            "AWS KMS holds private keys only; a public key is kept as a public-key-only entry.")
    key_spec = IMPORT_SPECS.get((key.algorithm, key.size))
    if key_spec is None:
        raise E.UnsupportedKeyType(f"AWS KMS cannot import {key.algorithm} {key.size} keys.",
                                   hint="It takes RSA 2048/3072/4096 and ECDSA P-256/P-384/P-521.")
    alias = f"alias/{key.key_id}"
    absent = E.KeyNotFoundInEngine(alias)
    try:
        held = conn.call("describe_key", f"looking up {alias}", KeyId=alias,
                         codes={"NotFoundException": lambda m: absent})["KeyMetadata"]
    except E.KeyNotFoundInEngine as exc:
        if exc is not absent:
            raise
    else:
        raise E.KeyExists(f"Key {key.key_id} already exists in engine {engine_id!r} as KMS key "
                          f"{held['KeyId']} ({held.get('KeyState')}).")

    def refused(what: str) -> Callable[[str], E.KmsError]:
        return lambda message: E.EngineError(f"AWS KMS refused the key material: {what}. {clean(message)}".strip())

    meta: KeyMetadata = conn.call(
        "create_key", "creating a KMS key for imported material", KeyUsage="SIGN_VERIFY",
        KeySpec=key_spec, Origin="EXTERNAL", Description="kms-tui imported signing key")["KeyMetadata"]
    kid = meta["KeyId"]
    try:
        params = conn.call(
            "get_parameters_for_import", f"getting the import parameters of key {kid}",
            KeyId=kid, WrappingAlgorithm=WRAPPING_ALGORITHM, WrappingKeySpec=WRAPPING_KEY_SPEC,
        )
        conn.call(
            "import_key_material", f"importing key material into key {kid}",
            KeyId=kid, ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=wrap_key_material(private, params["PublicKey"]),
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
            codes={
                "IncorrectKeyMaterialException": refused("it does not match the key spec"),
                "InvalidCiphertextException": refused("it could not be unwrapped"),
                "ExpiredImportTokenException": refused("the import token expired; retry"),
                "InvalidImportTokenException": refused("the import token is not valid for this key"),
                "UnsupportedOperationException": refused("this key cannot take imported material"),
            },
        )
        conn.call(
            "create_alias", f"naming key {kid} {alias}", AliasName=alias, TargetKeyId=kid,
            codes={"AlreadyExistsException": lambda m: E.KeyExists(f"The alias {alias} already names another KMS key.")},
        )
    except BaseException:
        discard(kid)
        raise
    return meta
