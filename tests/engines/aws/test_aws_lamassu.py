"""The AWS engines shared with Lamassu: registered and shown as such; Secrets Manager takes no prefix.

Lamassu names a Secrets Manager secret by the key id alone (lamassuiot/lamassuiot
engines/crypto/aws/secretsmanager.go: ``CreateSecret`` with ``Name: keyID``, ``GetSecretValue``
with ``SecretId: keyID``). AWS KMS keys are found by ``alias/<key id>`` there
(engines/crypto/aws/awskms.go), which is how kms-tui names them: nothing to refuse.
"""

from __future__ import annotations

from tests.engines.aws.moto_server import SECRET
from tests.engines.lamassu_shared import refused, register_shared


def test_aws_kms_registers_shared(moto, tmp_path):
    register_shared(tmp_path, "AWS_KMS", "aws-kms", moto.options("ap-south-1"), SECRET)


def test_secrets_manager_registers_shared_and_refuses_a_prefix_with_the_reason(moto, tmp_path):
    cli = register_shared(tmp_path, "AWS_SECRETS_MANAGER", "aws-sm", moto.options("ap-south-1"), SECRET)
    line = refused(cli, "AWS_SECRETS_MANAGER", {**moto.options("ap-south-1", prefix="lamassu/"), "lamassu": "true"},
                   SECRET)
    assert "shared with Lamassu takes no prefix" in line and "<key id>" in line, line
    assert SECRET not in line
    cli("engines", "add", "AWS_SECRETS_MANAGER", "--id", "aws-sm-own", "--secret-stdin",  # not shared: a prefix is fine
        *[arg for k, v in moto.options("ap-south-1", prefix="kms/").items() for arg in ("--option", f"{k}={v}")],
        input=SECRET + "\n")
