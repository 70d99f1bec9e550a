"""Each way a Vault engine can be wrong gets its own typed error: mount, policy, network, TLS, options."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import hvac
import hvac.exceptions
import pytest

from engines.errors import EngineConfigError, EngineError, EngineUnavailable
from engines.testing import raises_kms
from engines.vault.engine import VaultKvEngine
from engines.vault.errors import (
    VaultLoginFailed,
    VaultMountMissing,
    VaultPermissionDenied,
    VaultTokenRejected,
)
from tests.engines.vault.openbao import OpenBao
from tests.ports import free_port


@pytest.fixture(scope="module")
def kv1_mount(openbao):
    openbao.client().sys.enable_secrets_engine("kv", path="kv-one", options={"version": "1"})
    return "kv-one"


@pytest.mark.parametrize("token", ["full", "root"])
def test_missing_mount(openbao, make_engine, token):
    engine = make_engine(openbao.root_token if token == "root" else "full", mount="no-such-mount")
    for call in (engine.check, lambda: engine.create("Ed25519", 256), lambda: engine.get("a" * 64)):
        with raises_kms(VaultMountMissing) as info:
            call()
        assert "no KV v2 mount named 'no-such-mount'" in info.value.message


def test_mount_removed_while_in_use(openbao, make_engine):
    mount = openbao.new_mount()
    engine = make_engine(mount=mount)
    key = engine.create("Ed25519", 256)
    openbao.client().sys.disable_secrets_engine(mount)
    with raises_kms(VaultMountMissing) as info:
        engine.get(key.ref)  # Vault answers 404 "no handler for route": not taken for a missing key
    assert f"no KV v2 mount named {mount!r}" in info.value.message


def test_kv_version_1_and_other_engines_are_refused(openbao, make_engine, kv1_mount):
    with raises_kms(EngineConfigError) as info:
        make_engine(openbao.root_token, mount=kv1_mount).create("Ed25519", 256)
    assert "KV version 1" in info.value.message
    with pytest.raises(hvac.exceptions.InvalidPath):  # nothing was written to a wrong path of the v1 mount
        openbao.client().secrets.kv.v1.list_secrets("", mount_point=kv1_mount)
    with raises_kms(EngineConfigError) as info:
        make_engine(openbao.root_token, mount="sys").check()
    assert "needs a KV version 2 mount" in info.value.message


def test_forbidden_path(openbao, lab, mount, make_engine):
    engine = make_engine(lab.narrow_token, mount=mount)
    with raises_kms(VaultPermissionDenied) as info:
        engine.check()
    assert f"list keys under {mount}/metadata/" in info.value.message
    with raises_kms(VaultPermissionDenied) as info:
        engine.create("Ed25519", 256)
    assert f"write {mount}/data/" in info.value.message
    allowed = make_engine(lab.narrow_token, mount=mount, prefix="allowed/")
    allowed.check()
    key = allowed.create("Ed25519", 256)
    assert [k.key_id for k in allowed.inventory()] == [key.key_id]


def test_read_only_policy(openbao, lab, mount, make_engine):
    key = make_engine(mount=mount).create("Ed25519", 256)
    reader = make_engine(lab.read_token, mount=mount)
    reader.check()
    assert [k.key_id for k in reader.inventory()] == [key.key_id]
    with raises_kms(VaultPermissionDenied) as info:
        reader.create("Ed25519", 256)
    assert "write" in info.value.message
    with raises_kms(VaultPermissionDenied) as info:
        reader.delete(key.ref)
    assert f"delete {mount}/data/{key.ref}" in info.value.message


def test_unreachable_address(make_engine):
    engine = make_engine(address=f"http://127.0.0.1:{free_port()}")
    with raises_kms(EngineUnavailable) as info:
        engine.check()
    assert "cannot be reached" in info.value.message


def test_silent_server_times_out(make_engine):
    with socket.socket() as silent:  # accepts connections (the backlog does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        engine = make_engine(address=f"http://127.0.0.1:{silent.getsockname()[1]}", timeout="1")
        with raises_kms(EngineUnavailable) as info:
            engine.check()
    assert "did not answer within 1 s" in info.value.message


def test_a_server_that_is_not_vault(make_engine):
    class Hello(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>hello</html>")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with raises_kms(EngineError) as info:
            make_engine(address=f"http://127.0.0.1:{server.server_port}").check()
        assert "does not answer like Vault" in info.value.message
    finally:
        server.shutdown()
        server.server_close()


def test_tls_needs_the_right_ca(tmp_path):
    server = OpenBao(tmp_path / "bao", tls=True)
    server.start()
    try:
        options = {"address": server.address, "timeout": "5"}
        with raises_kms(EngineUnavailable) as info:
            VaultKvEngine("vault-tls", options, server.root_token).check()
        assert "TLS" in info.value.message and "ca_bundle" in info.value.hint
        with raises_kms(EngineConfigError):
            VaultKvEngine("vault-tls", {**options, "ca_bundle": str(tmp_path / "none.pem")}, server.root_token).check()
        with VaultKvEngine("vault-tls", {**options, "ca_bundle": server.ca_file}, server.root_token) as engine:
            engine.check()
            assert engine.get(engine.create("Ed25519", 256).ref)
    finally:
        server.stop()


def test_sealed_vault(tmp_path):
    server = OpenBao(tmp_path / "bao")
    server.start()
    try:
        with VaultKvEngine("vault-seal", {"address": server.address, "timeout": "5"}, server.root_token) as engine:
            engine.check()
            server.client().sys.seal()
            with raises_kms(EngineUnavailable) as info:
                engine.create("Ed25519", 256)
            assert "sealed" in info.value.message
            server.client().sys.submit_unseal_key(server.unseal_key())
            engine.create("Ed25519", 256)
    finally:
        server.stop()


def test_namespace(openbao, make_engine):
    openbao.client().sys.create_namespace("team-a")
    inside = hvac.Client(url=openbao.address, token=openbao.root_token, namespace="team-a")
    inside.sys.enable_secrets_engine("kv", path="pki-keys", options={"version": "2"})
    engine = make_engine(openbao.root_token, namespace="team-a", mount="pki-keys")
    key = engine.create("Ed25519", 256)
    assert inside.secrets.kv.v2.read_secret_version(key.ref, mount_point="pki-keys",
                                                    raise_on_deleted_version=True)["data"]["data"]["key"]
    with raises_kms(VaultMountMissing):
        make_engine(openbao.root_token, mount="pki-keys").check()  # outside the namespace


def test_errors_through_the_service_record_nothing(openbao, lab, kms):
    before = [e.record.id for e in kms.engines.list()]
    cases = [({"mount": "no-such-mount"}, lab.full_token, VaultMountMissing),
             ({}, lab.narrow_token, VaultPermissionDenied),
             ({"address": f"http://127.0.0.1:{free_port()}"}, lab.full_token, EngineUnavailable),
             ({"timeout": "0"}, lab.full_token, EngineConfigError),
             ({}, "s.not-a-token", VaultTokenRejected),
             ({"auth": "approle", "role_id": lab.role_id}, "wrong-secret-id", VaultLoginFailed)]
    for options, secret, kind in cases:
        with raises_kms(kind):
            kms.engines.register("HASHICORP_VAULT_KV_V2", "vault",
                                options={"address": openbao.address, **options}, secret=secret)
    assert [e.record.id for e in kms.engines.list()] == before


BAD_OPTIONS = [
    {"address": "vault:8200"}, {"address": "ftp://vault"}, {"address": "https://user:pw@vault"},
    {"address": "https://vault/v1"}, {"address": "https://vault?x=1"}, {"mount": "../x"}, {"mount": "/"},
    {"prefix": "a//b"}, {"prefix": "../"}, {"namespace": "a b"}, {"timeout": "0"}, {"timeout": "abc"},
    {"timeout": "1000"}, {"role_id": "r"}, {"auth": "approle"}, {"auth": "kubernetes"}, {"auth": "ldap"},
    {"auth": "kubernetes", "role": "r", "role_id": "x"}, {"colour": "blue"},
]


@pytest.mark.parametrize("bad", BAD_OPTIONS, ids=lambda b: ",".join(f"{k}={v}" for k, v in b.items()))
def test_bad_options(bad):
    with raises_kms(EngineConfigError):
        VaultKvEngine.validate_options({"address": "https://vault.example:8200", **bad})


def test_options_are_normalised_once_and_for_all():
    checked = VaultKvEngine.validate_options({"address": "https://vault.example:8200/", "auth": " AppRole ",
                                              "role_id": "r", "prefix": "/kms/", "mount": "/pki/"})
    assert checked == {"address": "https://vault.example:8200", "auth": "approle", "role_id": "r",
                       "prefix": "kms/", "mount": "pki", "timeout": "10", "security_level": "0"}
    assert VaultKvEngine.validate_options(checked) == checked
    assert VaultKvEngine.needs_secret(checked)
    assert VaultKvEngine.needs_secret(VaultKvEngine.validate_options({"address": "http://v"}))
    assert not VaultKvEngine.needs_secret({"auth": "kubernetes", "role": "r"})
