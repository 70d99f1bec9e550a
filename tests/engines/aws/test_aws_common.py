"""What both AWS engines share: options, credentials, error translation, unreachable endpoints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

import engines
from engines.aws.errors import AwsAccessDenied, AwsThrottled, error_parts
from engines.aws.kms import AwsKmsEngine
from engines.aws.secrets_manager import AwsSecretsEngine
from engines.errors import (
    EngineAuthError,
    EngineConfigError,
    EngineError,
    EngineUnavailable,
    InvalidInput,
)
from engines.testing import raises_kms
from tests import ports
from tests.engines.aws.moto_server import (
    SECRET,
    Blackhole,
    Sent,
    iam_user,
    kms_engine,
    run_bounded,
    secrets_engine,
)

SENTINEL = "SENTINEL-aws-secret-0b7e"
DRIVERS = (AwsKmsEngine, AwsSecretsEngine)


def test_registry_points_at_the_drivers():
    assert engines.driver_class("AWS_KMS") is AwsKmsEngine
    assert engines.driver_class("AWS_SECRETS_MANAGER") is AwsSecretsEngine


def test_importing_the_drivers_loads_no_sdk():
    code = ("import sys, engines.aws.kms, engines.aws.secrets_manager, engines.aws.kms_import\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))")
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("cls", DRIVERS)
def test_options(cls):
    ok = cls.validate_options({"region": " eu-west-1 ", "access_key_id": "AKIAEXAMPLE0000"})
    assert ok == {"region": "eu-west-1", "access_key_id": "AKIAEXAMPLE0000", "connect_timeout": "5",
                  "read_timeout": "30", "max_attempts": "3"}
    assert cls.needs_secret(ok) and not cls.needs_secret(cls.validate_options({"region": "eu-west-1",
                                                                               "profile": "ops"}))
    assert {o.name for o in cls.OPTIONS} >= {"region", "profile", "access_key_id", "role_arn", "endpoint_url",
                                             "connect_timeout", "read_timeout", "max_attempts"}
    bad = [
        {}, {"region": "Europe"}, {"region": "eu-west-1;rm"}, {"region": "eu-west-1", "colour": "blue"},
        {"region": "eu-west-1", "profile": "ops", "access_key_id": "AKIAEXAMPLE0000"},
        {"region": "eu-west-1", "access_key_id": "AKIA EXAMPLE"},
        {"region": "eu-west-1", "role_arn": "arn:aws:iam::12:role/x"},
        {"region": "eu-west-1", "endpoint_url": "http://kms.example.com"},  # clear text off loopback
        {"region": "eu-west-1", "endpoint_url": "https://user:pw@kms.example.com"},
        {"region": "eu-west-1", "endpoint_url": "ftp://127.0.0.1"},
        {"region": "eu-west-1", "connect_timeout": "0"}, {"region": "eu-west-1", "read_timeout": "soon"},
        {"region": "eu-west-1", "max_attempts": "0"}, {"region": "eu-west-1", "max_attempts": "11"},
    ]
    for options in bad:
        with raises_kms(EngineConfigError):
            cls.validate_options(options)
    for url in ("https://kms.eu-west-1.amazonaws.com", "http://127.0.0.1:4566", "http://localhost:4566",
                "http://[::1]:4566"):
        assert cls.validate_options({"region": "eu-west-1", "endpoint_url": url})["endpoint_url"] == url


def test_prefix_option():
    assert AwsSecretsEngine.validate_options({"region": "eu-west-1", "prefix": "lamassu/"})["prefix"] == "lamassu/"
    with raises_kms(EngineConfigError):
        AwsSecretsEngine.validate_options({"region": "eu-west-1", "prefix": "no spaces"})
    with raises_kms(EngineConfigError):
        AwsKmsEngine.validate_options({"region": "eu-west-1", "prefix": "kms/"})  # KMS has no prefix


@pytest.mark.parametrize("cls", DRIVERS)
def test_the_secret_is_needed_and_never_shown(cls, moto):
    with raises_kms(EngineConfigError) as info:
        cls("aws-x", moto.options(), None)
    assert "secret access key" in info.value.message and "engines secret aws-x" in info.value.hint
    for shape in ("{not json", '{"secret_access_key": ""}', '{"secret_access_key": "k", "colour": "x"}',
                  '{"secret_access_key": ["' + SENTINEL + '"]}', '{"secret_access_key": "' + SENTINEL + '", "session_token": 5}'):
        with raises_kms(EngineConfigError) as info:
            cls("aws-x", moto.options(), shape)
        assert SENTINEL not in str(info.value)
    driver = cls("aws-x", moto.options(), SENTINEL)
    assert SENTINEL not in repr(driver) + repr(vars(driver)) + repr(driver._conn)


def test_a_session_token_travels_with_the_requests(moto):
    secret = '{"secret_access_key": "' + SECRET + '", "session_token": "token-42"}'
    with kms_engine(moto, secret=secret) as driver:
        sent = Sent(driver._conn.client())
        driver.check()
        assert sent.headers[-1]["X-Amz-Security-Token"] == "token-42"


def test_a_named_profile(moto, tmp_path, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[kms-tui-test]\naws_access_key_id = testing\naws_secret_access_key = {SECRET}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    options = {k: v for k, v in moto.options(profile="kms-tui-test").items() if k != "access_key_id"}
    with AwsKmsEngine("aws-profile", options, None) as driver:
        sent = Sent(driver._conn.client())
        driver.check()
        assert "Credential=testing/" in sent.headers[-1]["Authorization"]
    options["profile"] = "nobody"
    with raises_kms(EngineConfigError) as info:
        AwsKmsEngine("aws-profile", options, None).check()
    assert "nobody" in info.value.message


def test_an_assumed_role_signs_the_requests(moto):
    role = "arn:aws:iam::123456789012:role/kms-tui-signer"
    with kms_engine(moto, role_arn=role) as driver:
        sent = Sent(driver._conn.client())
        driver.check()
        authorization = sent.headers[-1]["Authorization"]
    assert "Credential=ASIA" in authorization  # the temporary key STS handed out, not "testing"


def test_credentials_and_permissions_moto_checks(fresh):
    """With moto's IAM checks on: unknown key, wrong secret, and a call the policy does not allow."""
    with iam_user(fresh, "kms:ListKeys", "secretsmanager:ListSecrets") as (key_id, secret):
        kms_engine(fresh, secret=secret, access_key_id=key_id).check()
        secrets_engine(fresh, secret=secret, access_key_id=key_id).check()
        for engine in (kms_engine, secrets_engine):
            for access_key_id, secret_key in (("AKIANOBODY0000000000", SENTINEL), (key_id, SENTINEL)):
                with raises_kms(EngineAuthError) as info:
                    engine(fresh, secret=secret_key, access_key_id=access_key_id).check()
                assert SENTINEL not in str(info.value) and "engines secret" in info.value.hint
        with raises_kms(AwsAccessDenied) as info:
            kms_engine(fresh, secret=secret, access_key_id=key_id).create("ECDSA", 256)
        assert "kms:CreateKey" in info.value.message
        with raises_kms(AwsAccessDenied):
            secrets_engine(fresh, secret=secret, access_key_id=key_id).create("ECDSA", 256)
        role = "arn:aws:iam::123456789012:role/not-for-this-user"
        with raises_kms(AwsAccessDenied) as info:
            kms_engine(fresh, secret=secret, access_key_id=key_id, role_arn=role).check()
        assert f"assuming role {role}" in info.value.message


def test_a_refused_connection_is_reported_within_the_timeouts(moto):
    port = ports.free_port()  # nothing listens there
    driver = AwsKmsEngine("aws-down", {**moto.options(), "endpoint_url": f"http://127.0.0.1:{port}",
                                       "connect_timeout": "1", "max_attempts": "2"}, SECRET)
    _, error = run_bounded(driver.check, 2 * 1 + 10)
    assert isinstance(error, EngineUnavailable)
    assert f"127.0.0.1:{port}" in error.message and "refused" in error.message and "2 attempts" in error.message


def test_an_endpoint_that_never_answers_times_out():
    hole = Blackhole()
    try:
        driver = AwsSecretsEngine("aws-hung", {"region": "eu-west-1", "access_key_id": "testing",
                                               "endpoint_url": hole.url, "read_timeout": "1", "max_attempts": "1"},
                                  SECRET)
        _, error = run_bounded(lambda: list(driver.inventory()), 1 + 10)
    finally:
        hole.close()
    assert isinstance(error, EngineUnavailable)
    assert "did not answer within 1 s" in error.message and hole.url in error.message


def test_service_errors_aws_gives_and_moto_does_not(moto):
    driver = kms_engine(moto)
    client = driver._conn.client()
    cases = [("ThrottlingException", 400, AwsThrottled), ("ServiceUnavailable", 503, EngineUnavailable),
             ("ExpiredTokenException", 400, EngineAuthError), ("LimitExceededException", 400, EngineError)]
    with Stubber(client) as stub:
        for code, status, _ in cases:
            stub.add_client_error("list_keys", code, f"{code} <said AWS>", http_status_code=status)
        for code, _, kind in cases:
            with raises_kms(kind) as info:
                driver.check()
            assert code in info.value.message and "\n" not in str(info.value)
    with raises_kms(InvalidInput) as info:  # botocore's own checks quote values: never repeated
        driver._conn.call("create_key", "creating", KeySpec=[SENTINEL])
    assert SENTINEL not in str(info.value)


def test_error_parts_reads_moto_style_xml_bodies():
    xml = ('<?xml version="1.0"?><ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code>'
           '<Message>The security token included in the request is invalid.</Message></Error></Errors></ErrorResponse>')
    error = ClientError({"Error": {"Code": "403", "Message": xml}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "X")
    assert error_parts(error) == ("InvalidClientTokenId", "The security token included in the request is invalid.",
                                  403)
    html = ClientError({"Error": {"Code": "500", "Message": "<!doctype html><h1>Internal</h1>"},
                        "ResponseMetadata": {"HTTPStatusCode": 500}}, "X")
    assert error_parts(html) == ("500", "", 500)
