"""The command line with the AWS engines against a real moto server (the KMS life cycle as a process).

Keys made through the service on AWS KMS are P-256 or RSA: see the docstring of
tests/engines/aws/test_aws_service.py for the moto deviation that rules out P-384/P-521.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.cli.runner import CliRunner, InProcessCli, ProcessCli, home_env
from tests.engines.aws.moto_server import AWS_ENV, SECRET, MotoServer, hermetic_env


@pytest.fixture(scope="module")
def moto_cli(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto-cli")).start()
    yield server
    server.stop()


@pytest.fixture
def aws_cli(tmp_path) -> InProcessCli:
    """Commands in process, with none of the machine's AWS settings."""
    env = {**home_env(tmp_path / "home"), **dict.fromkeys(AWS_ENV), **hermetic_env({}, tmp_path)}
    return InProcessCli(tmp_path / "data", env=env)


@pytest.fixture
def aws_process_cli(secret_service, tmp_path) -> ProcessCli:
    """The installed command, with none of the machine's AWS settings."""
    return ProcessCli(hermetic_env(secret_service, tmp_path), tmp_path / "data")


def add_engine(cli: CliRunner, server: MotoServer, engine_type: str, engine_id: str, **options: str) -> dict:
    args = ["engines", "add", engine_type, "--id", engine_id, "--secret-stdin"]
    for key, value in server.options(**options).items():
        args += ["--option", f"{key}={value}"]
    return cli.json(*args, input=SECRET + "\n")


def test_kms_engine_key_life_cycle(aws_process_cli, moto_cli, tmp_path):
    aws_cli = aws_process_cli  # the main path through the real entry point
    engine = add_engine(aws_cli, moto_cli, "AWS_KMS", "aws-kms", region="eu-west-1")
    assert engine["has_secret"] and SECRET not in str(engine)
    created = aws_cli.json("keys", "create", "--engine", "aws-kms", "--algorithm", "ECDSA", "--size", "256",
                           "--name", "kms-ca")
    assert (created["state"], created["strength"]) == ("Enabled", "MEDIUM")
    signature = tmp_path / "m.sig"
    aws_cli("keys", "sign", "kms-ca", "--algorithm", "ECDSA_SHA_256", "--out", str(signature), input=b"payload")
    aws_cli("keys", "verify", "kms-ca", "--algorithm", "ECDSA_SHA_256", "--signature", str(signature),
            "--engine-verify", input=b"payload")
    # checked against the public key KMS itself hands out
    kms = moto_cli.client("kms", "eu-west-1")
    (key,) = [k for k in kms.list_keys()["Keys"]
              if hashlib.sha256(kms.get_public_key(KeyId=k["KeyId"])["PublicKey"]).hexdigest() == created["key_id"]]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    public.verify(base64.b64decode(signature.read_bytes()), b"payload", ec.ECDSA(hashes.SHA256()))

    err = aws_cli("keys", "delete", "kms-ca", "--yes", "--option", "pending_window_days=3", code=3)
    assert len(err.stderr.splitlines()) == 1 and b"7 to 30" in err.stderr
    deleted = aws_cli.json("keys", "delete", "kms-ca", "--yes", "--option", "pending_window_days=7")
    assert deleted["state"] == "PendingDeletion"
    assert set(aws_cli.json("keys", "action", "kms-ca")) == {"cancel-deletion", "enable", "disable"}
    assert aws_cli.json("keys", "action", "kms-ca", "cancel-deletion")["state"] == "Disabled"
    err = aws_cli("keys", "sign", "kms-ca", "--algorithm", "ECDSA_SHA_256", input=b"x", code=3)
    assert len(err.stderr.splitlines()) == 1 and b"Disabled" in err.stderr and b"enable" in err.stderr


def test_secrets_manager_engine_with_a_prefix(aws_cli, moto_cli):
    add_engine(aws_cli, moto_cli, "AWS_SECRETS_MANAGER", "aws-sm", region="eu-west-2", prefix="lamassu/")
    created = aws_cli.json("keys", "create", "--engine", "aws-sm", "--algorithm", "Ed25519", "--size", "256",
                           "--name", "device-ca")
    secrets = moto_cli.client("secretsmanager", "eu-west-2")
    assert secrets.describe_secret(SecretId=f"lamassu/{created['key_id']}")["Name"] == f"lamassu/{created['key_id']}"
    assert aws_cli.json("keys", "delete", "device-ca", "--yes")["state"] == "PendingDeletion"
    assert aws_cli.json("keys", "action", "device-ca", "restore")["key_id"] == created["key_id"]
    assert aws_cli.json("keys", "delete", "device-ca", "--yes", "--option", "force=true")["state"] is None
    assert secrets.list_secrets(IncludePlannedDeletion=True)["SecretList"] == []


def test_an_outage_is_one_clear_line_and_passes(aws_cli, tmp_path):
    server = MotoServer(tmp_path / "moto").start()
    try:
        add_engine(aws_cli, server, "AWS_KMS", "aws-out", connect_timeout="1", read_timeout="2", max_attempts="2")
        aws_cli("keys", "create", "--engine", "aws-out", "--algorithm", "RSA", "--size", "2048", "--name", "out")
        server.stop()
        err = aws_cli("keys", "sign", "out", "--algorithm", "RSASSA_PSS_SHA_256", input=b"x", code=3)
        (line,) = err.stderr.decode().splitlines()
        assert line.startswith("kms-tui: Engine unreachable: ") and server.url in line and "refused" in line
        assert aws_cli("engines", "test", "aws-out", code=1).stdout.startswith(b"aws-out: NOT reachable")
        aws_cli("keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "soft")  # default engine
        server.start()  # same port; moto kept its keys in memory, so it comes back empty
        aws_cli("keys", "create", "--engine", "aws-out", "--algorithm", "ECDSA", "--size", "256", "--name", "back")
        aws_cli("keys", "sign", "back", "--algorithm", "ECDSA_SHA_256", input=b"x")
    finally:
        server.stop()


def test_a_csr_from_an_aws_kms_key_verifies_with_openssl(aws_cli, moto_cli, tmp_path):
    """The private key never leaves KMS: the request's signature is KMS's, over the request's TBS."""
    import subprocess

    add_engine(aws_cli, moto_cli, "AWS_KMS", "aws-kms", region="eu-north-1")
    aws_cli("keys", "create", "--engine", "aws-kms", "--algorithm", "ECDSA", "--size", "256", "--name", "kms-device")
    out = tmp_path / "kms-device.csr"
    aws_cli("keys", "csr", "kms-device", "--subject", "/C=ES/O=Example/CN=kms-device", "--san", "dns:device.example",
            "--out", str(out))
    checked = subprocess.run(["openssl", "req", "-in", str(out), "-verify", "-noout", "-subject", "-nameopt",
                              "RFC2253"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0 and "verify OK" in checked.stdout + checked.stderr, checked.stderr
    assert "CN=kms-device,O=Example,C=ES" in checked.stdout
