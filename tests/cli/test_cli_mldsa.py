"""``kms-tui keys`` with ML-DSA: create, sign (raw and external mu of a large file), verify, import, export."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa

Enc, Priv, Pub = serialization.Encoding, serialization.PrivateFormat, serialization.PublicFormat


def test_ml_dsa_keys_from_the_command_line(cli, tmp_path):
    created = cli.json("keys", "create", "--algorithm", "ML-DSA", "--size", "65", "--name", "pq")
    assert (created["algorithm"], created["size"]) == ("ML-DSA", 65)
    pem = cli("keys", "export-public", "pq").stdout
    public = serialization.load_pem_public_key(pem)
    assert isinstance(public, mldsa.MLDSA65PublicKey)
    der = cli("keys", "export-public", "pq", "--format", "der").stdout
    assert hashlib.sha256(der).hexdigest() == created["key_id"]
    jwk = json.loads(cli("keys", "export-public", "pq", "--format", "jwk").stdout)
    assert (jwk["kty"], jwk["alg"], jwk["kid"]) == ("AKP", "ML-DSA-65", created["key_id"])
    assert b"OpenSSH has no format for ML-DSA" in cli("keys", "export-public", "pq", "--format", "ssh", code=3).stderr

    # A file larger than one read, hashed here to its mu: only the 64 bytes reach the engine.
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (3 * 4096 + 7))
    signed = cli.json("keys", "sign", "pq", "--algorithm", "ML_DSA_SHAKE_256", "--message-type", "external-mu",
                      "--in", str(big))
    signature = base64.b64decode(signed["signature"])
    public.verify(signature, big.read_bytes())  # pure ML-DSA of the whole file, by cryptography itself
    sig_file = tmp_path / "big.sig"
    sig_file.write_text(signed["signature"])
    for message_type in ("external-mu", "raw"):
        assert cli.json("keys", "verify", "pq", "--algorithm", "ML_DSA_SHAKE_256", "--message-type", message_type,
                        "--in", str(big), "--signature", str(sig_file))["valid"]
    big.write_bytes(big.read_bytes()[:-1] + b"!")
    assert b"INVALID" in cli("keys", "verify", "pq", "--algorithm", "ML_DSA_SHAKE_256", "--message-type", "external-mu",
                             "--in", str(big), "--signature", str(sig_file), code=1).stdout

    digest = hashlib.sha256(b"hello").hexdigest()
    refused = cli("keys", "sign", "pq", "--algorithm", "ML_DSA_SHAKE_256", "--message-type", "digest",
                  "--input-encoding", "hex", input=digest, code=3).stderr
    assert b"signs the whole message, not a digest" in refused and b"external-mu" in refused
    batch = cli("keys", "sign", "pq", "--algorithm", "ML_DSA_SHAKE_256", "--message-type", "external-mu",
                "--batch", "-", input="00\n", code=3).stderr
    assert b"external-mu is for one message" in batch
    threads = cli("keys", "sign", "pq", "--algorithm", "ML_DSA_SHAKE_256", "--threads", "2", input=b"m", code=3).stderr
    assert b"--threads is for --batch" in threads
    raw = cli.json("keys", "sign", "pq", "--algorithm", "ML_DSA_SHAKE_256", input=b"hello")
    public.verify(base64.b64decode(raw["signature"]), b"hello")


def test_ml_dsa_import_pem_and_der(cli, tmp_path):
    for size, encoding in ((44, Enc.PEM), (87, Enc.DER)):
        private = getattr(mldsa, f"MLDSA{size}PrivateKey").generate()
        path = tmp_path / f"k{size}"
        path.write_bytes(private.private_bytes(encoding, Priv.PKCS8, serialization.BestAvailableEncryption(b"pw")))
        record = cli.json("keys", "import", str(path), "--name", f"k{size}", "--passphrase-stdin", input="pw\n")
        spki = private.public_key().public_bytes(Enc.DER, Pub.SubjectPublicKeyInfo)
        assert (record["algorithm"], record["size"], record["key_id"]) == ("ML-DSA", size, hashlib.sha256(spki).hexdigest())
        signed = cli.json("keys", "sign", f"k{size}", "--algorithm", "ML_DSA_SHAKE_256", input=b"m")
        private.public_key().verify(base64.b64decode(signed["signature"]), b"m")
