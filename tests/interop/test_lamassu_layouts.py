"""Keys laid out exactly as Lamassu's Go code lays them out, on every backend, in both directions.

One way: a key is written the way Lamassu writes it (file name and PEM type, secret name and
JSON, Vault path and field, KMS alias, Azure tag, PKCS#11 attributes); kms-tui adopts it by a
sync and signs with it, and the signature verifies (``cryptography``) under Lamassu's key.
The other way: a key kms-tui makes on an engine registered as a Lamassu deployment shares it
is read back with the rules of Lamassu's readers, written here in Python from its Go code.

Upstream (reference only, nothing copied): lamassuiot/lamassuiot ``engines/crypto/…`` (the Go
modules ``…/engines/crypto/<engine>/v3`` holding its crypto engines; ``backend/pkg/cryptoengines``
holds only the builder that picks one) and ThalesGroup/crypto11 ``keys.go`` / ``rsa.go`` /
``ecdsa.go``. Each helper below names the file and function whose behaviour it reproduces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import stat
import uuid
from dataclasses import dataclass

import pytest
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from engines import lamassu
from engines.testing import verify_independently
from tests.engines.aws.moto_server import SECRET as AWS_SECRET
from tests.engines.azure.helpers import APP, engine_options
from tests.engines.azure.helpers import SECRET as AZURE_SECRET
from tests.engines.pkcs11.softhsm import USER_PIN

MESSAGE = b"tbsCertificate of a device certificate"
GO_CURVES = {"secp224r1", "secp256r1", "secp384r1", "secp521r1"}  # crypto/x509 parses these only
pytestmark = pytest.mark.usefixtures("aws_env")


# ---------------------------------------------------------------- Lamassu's side, in Python


class LamassuRefuses(Exception):
    """Lamassu's reader would return an error for this key."""


@dataclass
class LamassuKey:
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    block_type: str  # the PEM block type Lamassu's reader met (it does not check it)
    form: str  # "PKCS#8", "PKCS#1" or "SEC1"


def lamassu_key_id(public_key) -> str:
    """engines/crypto/software/software.go, EncodePKIXPublicKeyDigest: hex SHA-256 of the DER SPKI."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def go_pem(der: bytes, block_type: str) -> bytes:
    """encoding/pem.EncodeToMemory: 64-column base64 between BEGIN/END lines, one newline at the end."""
    body = base64.b64encode(der).decode("ascii")
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {block_type}-----\n{lines}\n-----END {block_type}-----\n".encode("ascii")


def lamassu_pem(private) -> bytes:
    """engines/crypto/software/software.go, MarshalAndEncodePKIXPrivateKey before its base64 step:
    x509.MarshalPKCS8PrivateKey in a PEM block of type "PRIVATE KEY"."""
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return go_pem(der, "PRIVATE KEY")


def lamassu_b64_pem(private) -> str:
    """MarshalAndEncodePKIXPrivateKey: base64.StdEncoding of the whole PEM text (one line, padded)."""
    return base64.b64encode(lamassu_pem(private)).decode("ascii")


def go_b64decode(text: str) -> bytes:
    """base64.StdEncoding.DecodeString: standard alphabet, padding required, CR and LF skipped."""
    try:
        return base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LamassuRefuses(f"not base64: {exc}") from None


_PEM_BLOCK = re.compile(rb"-----BEGIN ([^\r\n]*?)-----\r?\n(.*?)-----END \1-----", re.S)


def go_pem_decode(data: bytes) -> tuple[str, bytes]:
    """encoding/pem.Decode: the first well-formed block, whatever its type; "Key: value" headers skipped."""
    for match in _PEM_BLOCK.finditer(data):
        lines = match.group(2).splitlines()
        if lines and b":" in lines[0]:
            lines = lines[lines.index(b"") + 1:] if b"" in lines else []
        try:
            return match.group(1).decode("ascii"), base64.b64decode(b"".join(lines), validate=True)
        except (binascii.Error, ValueError):
            continue
    raise LamassuRefuses("no key found")


def _form(private, der: bytes) -> str:
    """Which encoding the DER body is: PKCS#8, or the traditional PKCS#1 (RSA) / SEC1 (EC)."""
    for form, fmt in (("PKCS#8", serialization.PrivateFormat.PKCS8),
                      ("PKCS#1" if isinstance(private, rsa.RSAPrivateKey) else "SEC1",
                       serialization.PrivateFormat.TraditionalOpenSSL)):
        if private.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption()) == der:
            return form
    return "other"


def lamassu_parse_private_key(data: bytes) -> LamassuKey:
    """engines/crypto/software/software.go, ParsePrivateKey: pem.Decode, then x509.ParsePKCS8PrivateKey,
    else ParsePKCS1PrivateKey, else ParseECPrivateKey; only *rsa.PrivateKey and *ecdsa.PrivateKey are
    kept ("unsupported key type" otherwise). An encrypted PKCS#8 body parses as none of the three."""
    block_type, der = go_pem_decode(data)
    try:
        private = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise LamassuRefuses(f"not a PKCS#8, PKCS#1 or SEC1 private key: {exc}") from None
    if isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name not in GO_CURVES:
        raise LamassuRefuses(f"curve {private.curve.name} is not one crypto/x509 parses")
    if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise LamassuRefuses("unsupported key type")
    return LamassuKey(private, block_type, _form(private, der))


def assert_reads_as_lamassu_writes(key: LamassuKey, key_id: str) -> None:
    """What Lamassu reads is also what it writes itself: PKCS#8 under "PRIVATE KEY", named by its key id."""
    assert (key.block_type, key.form) == ("PRIVATE KEY", "PKCS#8")
    assert lamassu_key_id(key.private.public_key()) == key_id


def register_shared(kms, engine_type: str, engine_id: str, options: dict[str, str], secret: str | None = None):
    """An engine registered the way a Lamassu deployment shares the backend: ``lamassu=true``."""
    view = kms.engines.register(engine_type, engine_id, options={**options, lamassu.OPTION: "true"}, secret=secret)
    assert lamassu.shared(view.record.config)
    return view


def adopt_and_sign(kms, engine_id: str, *signers: tuple[object, str]) -> None:
    """kms-tui adopts the keys by one sync and signs with each; Lamassu's own key verifies the signature.

    ``signers`` are (the key Lamassu wrote, or its public key; the signing algorithm to use)."""
    [report] = kms.inventory.sync(engine_id)
    for key, sig_alg in signers:
        public = key.public_key() if hasattr(key, "public_key") else key
        key_id = lamassu_key_id(public)
        assert key_id in report.adopted
        record = kms.keys.resolve(key_id)
        assert (record.key_id, record.engine_id, record.has_private_key) == (key_id, engine_id, True)
        signature = kms.signing.sign(key_id, sig_alg, MESSAGE)
        verify_independently(public, sig_alg, MESSAGE, signature)


def rename_and_alias(kms, name: str) -> None:
    """Names kms-tui gives a key stay kms-tui's: none may reach the backend as a second Lamassu key id."""
    kms.keys.rename(name, f"{name}-issuing-ca")
    kms.keys.add_alias(f"{name}-issuing-ca", f"{name}-ca-root")


def p256():
    """A fresh ECDSA P-256 key (ecdsa.GenerateKey(elliptic.P256()) on Lamassu's side)."""
    return ec.generate_private_key(ec.SECP256R1())


def pkcs1_pem(private) -> bytes:
    """An RSA key as OpenSSL's traditional form writes it: PKCS#1 under "RSA PRIVATE KEY"."""
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption())


@pytest.fixture(scope="module")
def rsa2048():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# ---------------------------------------------------------------- the reader itself can say no


def test_the_lamassu_reader_refuses_what_lamassus_go_code_refuses(rsa2048):
    key = p256()
    assert_reads_as_lamassu_writes(lamassu_parse_private_key(lamassu_pem(key)), lamassu_key_id(key.public_key()))
    pkcs1 = lamassu_parse_private_key(pkcs1_pem(rsa2048))
    assert (pkcs1.block_type, pkcs1.form) == ("RSA PRIVATE KEY", "PKCS#1")  # read, though Lamassu never writes it
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"at-rest passphrase"))
    ed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for refused in (encrypted, ed, b"not a PEM file", lamassu_pem(key).replace(b"MI", b"!!", 1)):
        with pytest.raises(LamassuRefuses):
            lamassu_parse_private_key(refused)
    with pytest.raises(LamassuRefuses):
        go_b64decode(lamassu_b64_pem(key)[:-2])  # padding is required


# ---------------------------------------------------------------- software (Lamassu GOLANG, a directory)


def lamassu_write_file(directory, private, pem: bytes | None = None) -> str:
    """engines/crypto/filesystem/filesystem.go, importKey (and checkAndCreateStorageDir: a 0750
    directory): the PEM written to ``<dir>/<key id>`` with mode 0600."""
    directory.mkdir(mode=0o750, exist_ok=True)
    key_id = lamassu_key_id(private.public_key())
    path = directory / key_id
    path.write_bytes(pem or lamassu_pem(private))
    path.chmod(0o600)
    return key_id


def test_software_adopts_lamassu_files_and_leaves_them_as_they_are(kms, tmp_path, rsa2048):
    directory = tmp_path / "lamassu-keys"
    ec_key = p256()
    lamassu_write_file(directory, ec_key)
    # ParsePrivateKey also reads PKCS#1 "RSA PRIVATE KEY" files (keys put there by hand or by other tools).
    lamassu_write_file(directory, rsa2048, pkcs1_pem(rsa2048))
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    register_shared(kms, "GOLANG", "golang-lamassu", {"directory": str(directory), "encrypt": "false"})
    adopt_and_sign(kms, "golang-lamassu", (ec_key, "ECDSA_SHA_256"), (rsa2048, "RSASSA_PKCS1_V1_5_SHA_256"))
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before  # not re-encrypted, not rewritten


def lamassu_list_files(directory) -> set[str]:
    """filesystem.go, ListPrivateKeyIDs: every entry of the directory that is not a directory is a key id."""
    return {entry.name for entry in directory.iterdir() if not entry.is_dir()}


def test_software_keys_made_here_read_in_lamassu(kms, tmp_path, rsa2048):
    directory = tmp_path / "shared-keys"
    register_shared(kms, "GOLANG", "golang-lamassu", {"directory": str(directory), "encrypt": "false"})
    made = {kms.keys.create("ECDSA", 256, "ec", engine_id="golang-lamassu").key_id,
            kms.keys.import_key(pkcs1_pem(rsa2048), "rsa", engine_id="golang-lamassu").key_id}
    rename_and_alias(kms, "ec")
    assert lamassu_list_files(directory) == made
    for key_id in made:
        path = directory / key_id  # GetPrivateKeyByID: filepath.Join(storageDirectory, keyID), os.ReadFile
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert_reads_as_lamassu_writes(lamassu_parse_private_key(path.read_bytes()), key_id)
    deleted = kms.keys.delete("rsa")  # kept recoverable, out of Lamassu's listing
    assert lamassu_list_files(directory) == made - {deleted.key_id}


def test_an_encrypting_software_engine_writes_what_lamassu_cannot_read(kms, tmp_path):
    """The default (encrypt=true) is kms-tui's own: the reader above must refuse its files."""
    directory = tmp_path / "private-keys"
    kms.engines.register("GOLANG", "golang-private", options={"directory": str(directory)})
    key_id = kms.keys.create("ECDSA", 256, "ec", engine_id="golang-private").key_id
    with pytest.raises(LamassuRefuses):
        lamassu_parse_private_key((directory / key_id).read_bytes())


# ---------------------------------------------------------------- AWS Secrets Manager


def test_secrets_manager_adopts_a_lamassu_secret(kms, lamassu_moto):
    region = "eu-west-3"
    private = p256()
    key_id = lamassu_key_id(private.public_key())
    # engines/crypto/aws/secretsmanager.go, importKey: Name = key id, SecretString = `{"key": "` + b64 + `"}`.
    lamassu_moto.client("secretsmanager", region).create_secret(
        Name=key_id, SecretString='{"key": "' + lamassu_b64_pem(private) + '"}')
    register_shared(kms, "AWS_SECRETS_MANAGER", "aws-sm-lamassu", lamassu_moto.options(region), AWS_SECRET)
    adopt_and_sign(kms, "aws-sm-lamassu", (private, "ECDSA_SHA_256"))


def lamassu_read_secret(client, key_id: str) -> LamassuKey:
    """engines/crypto/aws/secretsmanager.go, GetPrivateKeyByID: GetSecretValue(SecretId=key id),
    json.Unmarshal into map[string]string (every value must be a string), base64 of "key", ParsePrivateKey."""
    document = json.loads(client.get_secret_value(SecretId=key_id)["SecretString"])
    if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
        raise LamassuRefuses("the secret is not a JSON object of strings")
    if "key" not in document:
        raise LamassuRefuses("'key' not found in secret")
    return lamassu_parse_private_key(go_b64decode(document["key"]))


def test_secrets_manager_keys_made_here_read_in_lamassu(kms, lamassu_moto, rsa2048):
    region = "eu-north-1"
    register_shared(kms, "AWS_SECRETS_MANAGER", "aws-sm-lamassu", lamassu_moto.options(region), AWS_SECRET)
    made = {kms.keys.create("ECDSA", 256, "ec", engine_id="aws-sm-lamassu").key_id,
            kms.keys.import_key(pkcs1_pem(rsa2048), "rsa", engine_id="aws-sm-lamassu").key_id}
    rename_and_alias(kms, "ec")
    client = lamassu_moto.client("secretsmanager", region)
    # ListPrivateKeyIDs: the names of ListSecrets, as they are (no prefix is stripped).
    assert {s["Name"] for s in client.list_secrets()["SecretList"]} == made
    for key_id in made:
        assert_reads_as_lamassu_writes(lamassu_read_secret(client, key_id), key_id)


# ---------------------------------------------------------------- AWS KMS


def test_aws_kms_adopts_a_lamassu_key(kms, lamassu_moto):
    region = "ap-southeast-2"
    aws = lamassu_moto.client("kms", region)
    # engines/crypto/aws/awskms.go, createPrivateKey: CreateKey(SIGN_VERIFY, ECC_NIST_P256), the key id
    # from GetPublicKey's SPKI, then CreateAlias("alias/<key id>").
    arn = aws.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    public = serialization.load_der_public_key(aws.get_public_key(KeyId=arn)["PublicKey"])
    key_id = lamassu_key_id(public)
    aws.create_alias(AliasName=f"alias/{key_id}", TargetKeyId=arn)
    register_shared(kms, "AWS_KMS", "aws-kms-lamassu", lamassu_moto.options(region), AWS_SECRET)
    adopt_and_sign(kms, "aws-kms-lamassu", (public, "ECDSA_SHA_256"))


def test_aws_kms_keys_made_here_read_in_lamassu(kms, lamassu_moto):
    region = "sa-east-1"
    register_shared(kms, "AWS_KMS", "aws-kms-lamassu", lamassu_moto.options(region), AWS_SECRET)
    key_id = kms.keys.create("ECDSA", 256, "ec", engine_id="aws-kms-lamassu").key_id
    rename_and_alias(kms, "ec")
    aws = lamassu_moto.client("kms", region)
    # awskms.go ListPrivateKeyIDs / GetPrivateKeyByID: ListKeys (Limit 100), ListAliases per key, the
    # alias names without "alias/" (alias/aws/ skipped) are the key ids; the key is the one so named.
    named = {}
    for key in aws.list_keys(Limit=100)["Keys"]:
        for alias in aws.list_aliases(KeyId=key["KeyId"])["Aliases"]:
            if not alias["AliasName"].startswith("alias/aws/"):
                named[alias["AliasName"].replace("alias/", "")] = key["KeyArn"]
    assert list(named) == [key_id]
    # newKmsKeyCryptoSignerWrapper: GetPublicKey, x509.ParsePKIXPublicKey; the signer signs with the key's
    # SIGN_VERIFY usage and MessageType DIGEST (not replayed here: moto hashes a DIGEST again).
    public = serialization.load_der_public_key(aws.get_public_key(KeyId=named[key_id])["PublicKey"])
    assert lamassu_key_id(public) == key_id
    metadata = aws.describe_key(KeyId=named[key_id])["KeyMetadata"]
    assert (metadata["KeyUsage"], metadata["KeySpec"], metadata["KeyState"]) == (
        "SIGN_VERIFY", "ECC_NIST_P256", "Enabled")
    assert "ECDSA_SHA_256" in metadata["SigningAlgorithms"]


# ---------------------------------------------------------------- Vault KV v2 (OpenBao)


def vault_options(bao, mount: str) -> dict[str, str]:
    return {"address": bao.address, "mount": mount, "timeout": "5"}


def test_vault_adopts_a_lamassu_secret(kms, lamassu_bao, rsa2048):
    mount = lamassu_bao.new_mount()
    # engines/crypto/vaultkv2/vaultkv2.go, importKey: kvv2.Put(key id, {"key": b64 PEM}) on the mount
    # (no prefix: <mount>/data/<key id>).
    key_id = lamassu_key_id(rsa2048.public_key())
    lamassu_bao.client().secrets.kv.v2.create_or_update_secret(
        key_id, {"key": lamassu_b64_pem(rsa2048)}, mount_point=mount)
    register_shared(kms, "HASHICORP_VAULT_KV_V2", "vault-lamassu", vault_options(lamassu_bao, mount),
                    lamassu_bao.root_token)
    adopt_and_sign(kms, "vault-lamassu", (rsa2048, "RSASSA_PSS_SHA_256"))


def test_vault_keys_made_here_read_in_lamassu(kms, lamassu_bao, rsa2048):
    mount = lamassu_bao.new_mount()
    register_shared(kms, "HASHICORP_VAULT_KV_V2", "vault-lamassu", vault_options(lamassu_bao, mount),
                    lamassu_bao.root_token)
    made = {kms.keys.create("ECDSA", 256, "ec", engine_id="vault-lamassu").key_id,
            kms.keys.import_key(pkcs1_pem(rsa2048), "rsa", engine_id="vault-lamassu").key_id}
    rename_and_alias(kms, "ec")
    client = lamassu_bao.client()
    # vaultkv2.go ListPrivateKeyIDs: LIST <mount>/metadata, the names as they are.
    assert set(client.adapter.get(f"/v1/{mount}/metadata", params={"list": "true"})["data"]["keys"]) == made
    for key_id in made:
        # GetPrivateKeyByID: kvv2.Get(key id); Data["key"] must be a string: base64 of the PEM; ParsePrivateKey.
        data = client.secrets.kv.v2.read_secret_version(key_id, mount_point=mount, raise_on_deleted_version=True)
        value = data["data"]["data"]["key"]
        assert isinstance(value, str)
        assert_reads_as_lamassu_writes(lamassu_parse_private_key(go_b64decode(value)), key_id)


# ---------------------------------------------------------------- Azure Key Vault (the test server)


LAMASSU_TAG = "x-lamassu-id"  # engines/crypto/azure/keyvault.go, lamassuIDTag


def key_client(server):
    from azure.identity import ClientSecretCredential
    from azure.keyvault.keys import KeyClient

    credential = ClientSecretCredential(server.tenant_id, APP, AZURE_SECRET, authority=server.url,
                                        disable_instance_discovery=True, connection_verify=str(server.ca_bundle))
    return KeyClient(server.url, credential, verify_challenge_resource=False,
                     connection_verify=str(server.ca_bundle), retry_total=0)


def jwk_public_key(jwk):
    """keyvault.go, jwkToPublicKey: RSA / RSA-HSM from n and e, EC / EC-HSM on P-256/384/521; nothing else."""
    kty = str(getattr(jwk.kty, "value", jwk.kty))
    if kty in ("RSA", "RSA-HSM"):
        return rsa.RSAPublicNumbers(int.from_bytes(jwk.e, "big"), int.from_bytes(jwk.n, "big")).public_key()
    curves = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
    crv = str(getattr(jwk.crv, "value", jwk.crv))
    if kty not in ("EC", "EC-HSM") or crv not in curves:
        raise LamassuRefuses(f"unsupported JWK key type {kty} {crv}")
    numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(jwk.x, "big"), int.from_bytes(jwk.y, "big"), curves[crv]())
    return numbers.public_key()


def test_azure_adopts_a_lamassu_key(kms, lamassu_azure):
    client = key_client(lamassu_azure)
    # keyvault.go, CreateECDSAPrivateKey + registerCreatedKey: a key named by a fresh UUID (key_ops sign,
    # verify), then UpdateKey(name, version) tags it x-lamassu-id=<key id>.
    made = client.create_ec_key(str(uuid.uuid4()), curve="P-256", key_operations=["sign", "verify"])
    public = jwk_public_key(made.key)
    key_id = lamassu_key_id(public)
    client.update_key_properties(made.name, made.properties.version, tags={LAMASSU_TAG: key_id})
    register_shared(kms, "AZURE_KEY_VAULT", "azure-lamassu", engine_options(lamassu_azure), AZURE_SECRET)
    adopt_and_sign(kms, "azure-lamassu", (public, "ECDSA_SHA_256"))


def test_azure_keys_made_here_read_in_lamassu(kms, lamassu_azure):
    register_shared(kms, "AZURE_KEY_VAULT", "azure-lamassu", engine_options(lamassu_azure), AZURE_SECRET)
    made = {kms.keys.create("ECDSA", 256, "ec", engine_id="azure-lamassu").key_id,
            kms.keys.import_key(lamassu_pem(p256()), "imported", engine_id="azure-lamassu").key_id}
    rename_and_alias(kms, "ec")
    client = key_client(lamassu_azure)
    # keyvault.go ListPrivateKeyIDs / findKeyNameByLamassuID: the x-lamassu-id tag of each listed key.
    tagged = {p.tags[LAMASSU_TAG]: p.name for p in client.list_properties_of_keys() if LAMASSU_TAG in (p.tags or {})}
    assert set(tagged) == made
    for key_id, name in tagged.items():
        # newKeyVaultSignerWrapper: GetKey(name, latest version), jwkToPublicKey; it signs with ES256 etc.
        key = client.get_key(name)
        assert lamassu_key_id(jwk_public_key(key.key)) == key_id
        assert "sign" in [str(getattr(op, "value", op)) for op in key.key_operations]


# ---------------------------------------------------------------- PKCS#11 (SoftHSM2)


@pytest.fixture
def hsm_engine(kms, lamassu_hsm):
    """A PKCS#11 engine on the Lamassu token; the token is emptied afterwards."""
    register_shared(kms, "PKCS11", "pkcs11-lamassu", lamassu_hsm, USER_PIN)
    driver = kms.context.driver("pkcs11-lamassu")
    yield driver
    driver._link.run("empty the token", lambda shared: [obj.destroy() for obj in list(shared.session.get_objects())])


def lamassu_generate_p256(session) -> tuple[str, bytes]:
    """engines/crypto/pkcs11/pkcs11.go, CreateECDSAPrivateKey: crypto11's GenerateECDSAKeyPair with a UUID
    as CKA_ID (crypto11 ecdsa.go, GenerateECDSAKeyPairWithAttributes: token objects, public VERIFY,
    private SIGN + SENSITIVE, not EXTRACTABLE), then UpdateKeyName sets CKA_LABEL and CKA_ID to
    the ASCII hex key id on the private and the public object. Returns (key id, SPKI DER)."""
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

    params = session.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
    public, private = params.generate_keypair(
        id=str(uuid.uuid4()).encode(), store=True,
        public_template={Attribute.TOKEN: True, Attribute.VERIFY: True},
        private_template={Attribute.TOKEN: True, Attribute.SIGN: True, Attribute.SENSITIVE: True,
                          Attribute.EXTRACTABLE: False})
    spki = encode_ec_public_key(public)
    key_id = hashlib.sha256(spki).hexdigest()
    for obj in (private, public):
        obj[Attribute.LABEL] = key_id
        obj[Attribute.ID] = key_id.encode("ascii")
    return key_id, spki


def go_bytes(value: int) -> bytes:
    """big.Int.Bytes(): big-endian, no leading zero byte."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def lamassu_import_rsa(session, private) -> str:
    """engines/crypto/pkcs11/pkcs11.go, ImportRSAPrivateKey: CreateObject of the private key (token,
    private, sensitive, sign, decrypt, CKA_ID = CKA_LABEL = key id, the CRT values) and of the public key
    (token, verify, encrypt, the same CKA_ID and CKA_LABEL, modulus and exponent)."""
    from pkcs11 import Attribute, KeyType, ObjectClass

    key_id = lamassu_key_id(private.public_key())
    numbers = private.private_numbers()
    public = numbers.public_numbers
    named = {Attribute.KEY_TYPE: KeyType.RSA, Attribute.TOKEN: True, Attribute.ID: key_id.encode("ascii"),
             Attribute.LABEL: key_id, Attribute.MODULUS: go_bytes(public.n),
             Attribute.PUBLIC_EXPONENT: go_bytes(public.e)}
    session.create_object({**named, Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.PRIVATE: True,
                           Attribute.SENSITIVE: True, Attribute.SIGN: True, Attribute.DECRYPT: True,
                           Attribute.PRIVATE_EXPONENT: go_bytes(numbers.d), Attribute.PRIME_1: go_bytes(numbers.p),
                           Attribute.PRIME_2: go_bytes(numbers.q), Attribute.EXPONENT_1: go_bytes(numbers.dmp1),
                           Attribute.EXPONENT_2: go_bytes(numbers.dmq1), Attribute.COEFFICIENT: go_bytes(numbers.iqmp)})
    session.create_object({**named, Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.VERIFY: True,
                           Attribute.ENCRYPT: True})
    return key_id


def test_pkcs11_adopts_lamassu_key_pairs(kms, hsm_engine, rsa2048):
    def as_lamassu(shared):
        return lamassu_generate_p256(shared.session), lamassu_import_rsa(shared.session, rsa2048)

    (key_id, spki), rsa_id = hsm_engine._link.run("make keys as Lamassu does", as_lamassu)
    adopt_and_sign(kms, "pkcs11-lamassu", (serialization.load_der_public_key(spki), "ECDSA_SHA_256"),
                   (rsa2048, "RSASSA_PKCS1_V1_5_SHA_256"))
    for adopted in (key_id, rsa_id):
        assert f"object={adopted}" in kms.keys.resolve(adopted).pkcs11_uri


def crypto11_view(session) -> dict[str, dict]:
    """What Lamassu sees of a token: pkcs11.go ListPrivateKeyIDs (crypto11 FindAllKeyPairs, then each
    private key's CKA_LABEL) and GetPrivateKeyByID (FindKeyPair(nil, label)). crypto11 keys.go,
    makeKeyPair: a private key needs a non-empty CKA_ID; its public half has the same CKA_ID, CKA_LABEL
    and CKA_KEY_TYPE (else the same CKA_ID alone); a key type other than RSA or EC fails the whole
    listing ("unsupported key type")."""
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.util.ec import encode_ec_public_key
    from pkcs11.util.rsa import encode_rsa_public_key

    seen = {}
    for private in list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})):
        object_id, label, key_type = private[Attribute.ID], private[Attribute.LABEL], private[Attribute.KEY_TYPE]
        if not object_id:
            continue
        template = {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.KEY_TYPE: key_type, Attribute.ID: object_id}
        publics = list(session.get_objects({**template, Attribute.LABEL: label})) or list(
            session.get_objects(template))
        if not publics:
            continue
        if key_type not in (KeyType.RSA, KeyType.EC, KeyType.DSA):
            raise LamassuRefuses(f"unsupported key type: {int(key_type):X}")
        encode = encode_ec_public_key if key_type == KeyType.EC else encode_rsa_public_key
        spki = encode(publics[0])
        if key_type == KeyType.RSA:  # encode_rsa_public_key gives PKCS#1; Lamassu hashes the SPKI
            spki = serialization.load_der_public_key(spki).public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        seen.setdefault(label, {"id": object_id, "spki": spki, "sign": private[Attribute.SIGN]})
    return seen


def test_pkcs11_keys_made_here_read_in_lamassu(kms, hsm_engine, rsa2048):
    made = {kms.keys.create("ECDSA", 256, "ec", engine_id="pkcs11-lamassu").key_id,
            kms.keys.import_key(pkcs1_pem(rsa2048), "rsa", engine_id="pkcs11-lamassu").key_id}
    rename_and_alias(kms, "ec")
    seen = hsm_engine._link.run("read the token as crypto11 does", lambda shared: crypto11_view(shared.session))
    assert set(seen) == made
    for key_id, found in seen.items():
        assert found["id"] == key_id.encode("ascii")  # CKA_ID = CKA_LABEL = the ASCII hex key id
        assert hashlib.sha256(found["spki"]).hexdigest() == key_id and found["sign"]


def test_one_ed25519_pair_stops_crypto11_listing_the_token(hsm_engine):
    """Why a token shared with Lamassu holds RSA and EC keys only: the reader above must fail here."""
    from pkcs11 import Attribute, KeyType, Mechanism

    def ed25519_pair(shared):
        params = shared.session.create_domain_parameters(
            KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: bytes.fromhex("06032b6570")}, local=True)  # OID 1.3.101.112
        params.generate_keypair(id=b"ed", label="ed", store=True, mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN)
        return crypto11_view(shared.session)

    with pytest.raises(LamassuRefuses, match="unsupported key type"):
        hsm_engine._link.run("make an Ed25519 pair, then list", ed25519_pair)
