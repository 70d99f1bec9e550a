"""Azure Key Vault failures an operator can hit, each a specific typed error; options; credentials."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import engines
from engines import algorithms as A
from engines.azure.engine import AzureKeyVaultEngine
from engines.azure.errors import AzureAccessDenied
from engines.errors import EngineAuthError, EngineConfigError, EngineUnavailable, KeyNotFoundInEngine
from engines.testing import raises_kms
from tests.engines.azure.helpers import APP, READER, READER_SECRET, SECRET, SENTINEL, engine_options

ECDSA_256 = A.signing_algorithm("ECDSA_SHA_256")
RAW = A.MessageType.RAW


def test_wrong_client_secret(server, make_driver, caplog):
    driver = make_driver("not-the-secret-SENTINEL")
    with caplog.at_level(logging.DEBUG), raises_kms(EngineAuthError) as info:
        driver.check()
    assert "AADSTS7000215" in info.value.message and "client secret is wrong" in info.value.message
    assert APP in info.value.message and server.tenant_id in info.value.message
    assert SENTINEL not in str(info.value) and SENTINEL not in caplog.text and SENTINEL not in repr(driver)


def test_unknown_client_and_wrong_tenant(server, make_driver):
    with raises_kms(EngineAuthError) as info:
        make_driver(client_id="no-such-app").check()
    assert "AADSTS700016" in info.value.message
    with raises_kms(EngineAuthError) as info:
        make_driver(tenant_id="11111111-2222-3333-4444-555555555555").check()
    assert info.value.hint == f"Set tenant_id={server.tenant_id}."


def test_forbidden_operations_get_their_own_error(server, make_driver):
    owner = make_driver()
    key = owner.create("ECDSA", 256)
    reader = make_driver(READER_SECRET, client_id=READER)
    reader.check()  # list is allowed
    assert reader.get(key.ref).key_id == key.key_id
    for call, permission in ((lambda: reader.sign(key.ref, ECDSA_256, b"m", RAW), "sign"),
                             (lambda: reader.create("ECDSA", 256), "create"),
                             (lambda: reader.delete(key.ref), "delete")):
        with raises_kms(AzureAccessDenied) as info:
            call()
        assert isinstance(info.value, EngineAuthError)
        assert f"keys {permission} permission" in info.value.message and READER in info.value.message
    assert owner.get(key.ref).key_id == key.key_id  # nothing was deleted


def test_unreachable_vault_names_its_address(make_driver, server):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"https://127.0.0.1:{port}"
    driver = make_driver(vault_url=url)
    for call in (driver.check, lambda: driver.get("k"), lambda: list(driver.inventory()),
                 lambda: driver.sign("k", ECDSA_256, b"m", RAW), lambda: driver.create("RSA", 2048)):
        with raises_kms(EngineUnavailable) as info:
            call()
        assert url in info.value.message and "refused" in info.value.message


def test_silent_endpoint_times_out(make_driver):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"https://127.0.0.1:{silent.getsockname()[1]}"
        driver = make_driver(vault_url=url, connection_timeout="0.3", read_timeout="0.3")
        with raises_kms(EngineUnavailable) as info:
            driver.check()
    assert info.value.message == f"{url} did not answer within 0.3 s."


def test_untrusted_certificate(make_driver):
    with raises_kms(EngineUnavailable) as info:
        make_driver(ca_bundle="").check()
    assert info.value.title == "Untrusted TLS certificate" and "ca_bundle" in info.value.hint


def test_stopped_vault_fails_clearly_and_works_again_on_restart(server, make_driver):
    driver = make_driver()
    key = driver.create("ECDSA", 256)
    port = server.port
    server.stop()
    with raises_kms(EngineUnavailable) as info:
        driver.sign(key.ref, ECDSA_256, b"m", RAW)
    assert server.url in info.value.message
    with raises_kms(EngineUnavailable):
        driver.get(key.ref)
    server.start()
    assert server.port == port
    assert driver.sign(key.ref, ECDSA_256, b"m", RAW)
    assert driver.get(key.ref).key_id == key.key_id


def test_certificate_credential(server, make_driver):
    cert = server.client_certificate("cert-app")
    server.add_principal("cert-app", certificate=cert)
    driver = make_driver(None, credential="certificate", client_id="cert-app", certificate_path=str(cert.pem_path))
    key = driver.create("ECDSA", 256)
    assert driver.sign(key.ref, ECDSA_256, b"m", RAW)
    other = server.client_certificate("not-registered")
    with raises_kms(EngineAuthError) as info:
        make_driver(None, credential="certificate", client_id="cert-app", certificate_path=str(other.pem_path)).check()
    assert "AADSTS700027" in info.value.message


def test_default_credential_chain(server, make_driver, monkeypatch):
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"):
        monkeypatch.delenv(name, raising=False)
    # Only the environment part of the chain: a managed identity or an `az login` here must not answer.
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
    ambient = dict(credential="default", tenant_id="", client_id="")
    with raises_kms(EngineAuthError) as info:
        make_driver(None, **ambient).check()
    assert "No Azure credential is available" in info.value.message
    monkeypatch.setenv("AZURE_TENANT_ID", server.tenant_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", APP)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    driver = make_driver(None, **ambient)
    assert driver.create("ECDSA", 256).algorithm == "ECDSA"


@pytest.mark.parametrize(("changes", "words"), [
    ({"vault_url": ""}, "required"),
    ({"vault_url": "http://127.0.0.1:1"}, "https://"),
    ({"vault_url": "https://v.vault.azure.net/keys"}, "without a path"),
    ({"credential": "password"}, "must be one of"),
    ({"tenant_id": ""}, "'tenant_id' is required"),
    ({"tenant_id": "not a tenant"}, "tenant GUID"),
    ({"credential": "certificate"}, "'certificate_path' is required"),
    ({"hsm": "maybe"}, "must be one of"),
    ({"read_timeout": "soon"}, "must be a number"),
    ({"retry_total": "99"}, "between"),
    ({"colour": "blue"}, "Unknown option"),
])
def test_options_are_checked(server, changes, words):
    options = {k: v for k, v in {**engine_options(server), **changes}.items() if v != "" or k == "vault_url"}
    with raises_kms(EngineConfigError) as info:
        AzureKeyVaultEngine.validate_options(options)
    assert words in str(info.value)


def test_option_defaults_and_secret_rules(server):
    options = AzureKeyVaultEngine.validate_options({"vault_url": "https://v.vault.azure.net/", "tenant_id": "t",
                                                    "client_id": "c"})
    assert options["vault_url"] == "https://v.vault.azure.net"
    assert (options["credential"], options["hsm"], options["retry_total"]) == ("client-secret", "false", "2")
    assert AzureKeyVaultEngine.needs_secret(options)
    assert not AzureKeyVaultEngine.needs_secret({**options, "credential": "default"})
    with raises_kms(EngineConfigError):
        AzureKeyVaultEngine("az", engine_options(server), None)
    with raises_kms(EngineConfigError) as info:
        AzureKeyVaultEngine("az", engine_options(server, credential="certificate", certificate_path="/nonexistent"),
                            None).check()
    assert "/nonexistent" in info.value.message


HOSTILE_REFS = ["../keys", "a/b", "", "x" * 128, "k?api-version=1", "%2e%2e", "k\x00", None, 5]


@pytest.mark.parametrize("ref", HOSTILE_REFS, ids=lambda r: repr(r)[:16])
def test_hostile_refs_never_reach_the_vault(server, make_driver, ref):
    driver = make_driver()
    driver.check()
    before = len(server.calls)
    for call in (lambda: driver.get(ref), lambda: driver.sign(ref, ECDSA_256, b"m", RAW),
                 lambda: driver.delete(ref), lambda: driver.key_action(ref, "purge")):
        with raises_kms(KeyNotFoundInEngine):
            call()
    assert server.calls[before:] == []


def test_registry_and_lazy_sdk_import():
    assert engines.driver_class("AZURE_KEY_VAULT") is AzureKeyVaultEngine
    assert set(AzureKeyVaultEngine.KEY_ACTIONS) == {"recover", "purge"}
    caps = AzureKeyVaultEngine.CAPABILITIES
    assert caps.can_create and caps.can_import and caps.can_delete and caps.native_verify
    assert not caps.can_import_public
    code = "import sys, engines.azure.engine; assert not [m for m in sys.modules if m.startswith('azure')]"
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
