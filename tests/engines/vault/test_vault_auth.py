"""Token, AppRole and Kubernetes authentication against OpenBao, and how each one fails."""

from __future__ import annotations

import pytest

from engines import algorithms as A
from engines.errors import EngineConfigError
from engines.testing import raises_kms, verify_independently
from engines.vault.engine import VaultKvEngine
from engines.vault.errors import VaultLoginFailed, VaultMountMissing, VaultTokenRejected


def approle(make_engine, mount, secret_id, role_id):
    return make_engine(secret_id, mount=mount, auth="approle", role_id=role_id)


def test_expired_token(openbao, mount, make_engine):
    token = openbao.token("kms-full", ttl="1s")
    engine = make_engine(token, mount=mount)
    openbao.wait_expired(token)
    for call in (engine.check, lambda: engine.create("Ed25519", 256)):
        with raises_kms(VaultTokenRejected) as info:
            call()
        assert "invalid, expired or revoked" in info.value.message
        assert "kms-tui engines secret" in info.value.hint
        assert token not in str(info.value)


def test_revoked_token_is_reported_not_retried(openbao, mount, make_engine):
    token = openbao.token("kms-full")
    engine = make_engine(token, mount=mount)
    key = engine.create("Ed25519", 256)
    openbao.client().auth.token.revoke(token)
    with raises_kms(VaultTokenRejected):
        engine.get(key.ref)


def test_approle_logs_in_and_again_when_its_token_dies(openbao, lab, mount, make_engine):
    engine = approle(make_engine, mount, lab.secret_id(), lab.role_id)
    engine.check()
    key = engine.create("Ed25519", 256)
    # Revoke every token AppRole has issued: the engine must log in again on its own.
    openbao.client().sys.revoke_prefix("auth/approle/login")
    signature = engine.sign(key.ref, A.signing_algorithm("ED25519"), b"after revoke", A.MessageType.RAW)
    verify_independently(key.public_key, "ED25519", b"after revoke", signature)


@pytest.mark.parametrize("which", ["secret_id", "role_id", "auth_mount"])
def test_approle_login_failures(lab, mount, make_engine, which):
    secret_id, role_id, extra = lab.secret_id(), lab.role_id, {}
    if which == "secret_id":
        secret_id = "00000000-0000-0000-0000-000000000000"
    elif which == "role_id":
        role_id = "not-a-role"
    else:
        extra = {"auth_mount": "approle-elsewhere"}
    engine = make_engine(secret_id, mount=mount, auth="approle", role_id=role_id, **extra)
    for call in (engine.check, lambda: list(engine.inventory())):
        with raises_kms(VaultLoginFailed) as info:
            call()
        assert "AppRole login" in info.value.message and secret_id not in str(info.value)


def test_kubernetes_auth(lab, mount, make_engine, tmp_path):
    jwt_file = tmp_path / "token"
    jwt_file.write_text(lab.jwt + "\n")
    assert not VaultKvEngine.needs_secret({"auth": "kubernetes"})
    engine = make_engine(None, mount=mount, auth="kubernetes", role="kms", jwt_path=str(jwt_file))
    engine.check()
    key = engine.create("ECDSA", 256)
    signature = engine.sign(key.ref, A.signing_algorithm("ECDSA_SHA_256"), b"k8s", A.MessageType.RAW)
    verify_independently(key.public_key, "ECDSA_SHA_256", b"k8s", signature)


def test_kubernetes_login_failures(lab, mount, make_engine, tmp_path):
    jwt_file = tmp_path / "token"
    jwt_file.write_text(lab.jwt[:-4] + "AAAA")  # a token the TokenReview API does not vouch for
    with raises_kms(VaultLoginFailed) as info:
        make_engine(None, mount=mount, auth="kubernetes", role="kms", jwt_path=str(jwt_file)).check()
    assert "Kubernetes login" in info.value.message and lab.jwt[:20] not in str(info.value)
    jwt_file.write_text(lab.jwt)
    with raises_kms(VaultLoginFailed):
        make_engine(None, mount=mount, auth="kubernetes", role="no-such-role", jwt_path=str(jwt_file)).check()
    with raises_kms(EngineConfigError) as info:
        make_engine(None, mount=mount, auth="kubernetes", role="kms", jwt_path=str(tmp_path / "absent")).check()
    assert "cannot be read" in info.value.message


def test_secrets_stay_out_of_reprs_and_errors(openbao, lab, make_engine):
    secret_id = lab.secret_id()
    engine = make_engine(secret_id, mount="no-such-mount", auth="approle", role_id=lab.role_id)
    with raises_kms(VaultMountMissing) as info:
        engine.check()
    for text in (repr(engine), repr(engine._session), str(info.value), repr(info.value)):
        assert secret_id not in text and lab.full_token not in text
    with raises_kms(EngineConfigError) as info:
        VaultKvEngine("vault-x", {"address": openbao.address}, None)
    assert "token" in info.value.message
    with raises_kms(EngineConfigError) as info:
        VaultKvEngine("vault-x", {"address": openbao.address, "auth": "approle", "role_id": "r"}, "")
    assert "secret id" in info.value.message
