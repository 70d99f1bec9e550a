"""The security level of a Vault KV v2 engine: 0, or 1 when its operator says the Vault is HSM-backed.

Lamassu's documentation gives Vault KV v2 "SL0, or SL1 if Vault uses an HSM backend" (DESIGN.md §2).
The level is an option chosen at registration, recorded as the engine's security level and shown
wherever one is; other values, and other engine types, are refused.
"""

from __future__ import annotations

import json

import pytest

from engines.errors import EngineConfigError
from engines.vault.engine import VaultKvEngine
from tests.cli.runner import InProcessCli, home_env

TYPE = "HASHICORP_VAULT_KV_V2"


def options(openbao, mount: str, **extra: str) -> dict[str, str]:
    return {"address": openbao.address, "mount": mount, "timeout": "5", **extra}


@pytest.mark.parametrize(("given", "level"), [({}, 0), ({"security_level": "0"}, 0), ({"security_level": "1"}, 1),
                                              ({"security_level": " 1 "}, 1)])
def test_registration_records_the_level_chosen(kms, openbao, lab, mount, given, level):
    view = kms.engines.register(TYPE, "vault", options=options(openbao, mount, **given), secret=lab.full_token)
    assert view.record.security_level == level and view.record.config["security_level"] == str(level)
    assert kms.engines.get("vault").record.security_level == level  # as stored, read back


@pytest.mark.parametrize("value", ["2", "high", "-1", "01", "1.0", "SL1"])
def test_other_levels_are_refused_and_nothing_is_recorded(kms, openbao, lab, mount, value):
    with pytest.raises(EngineConfigError) as info:
        kms.engines.register(TYPE, "vault", options=options(openbao, mount, security_level=value),
                             secret=lab.full_token)
    assert "'security_level'" in str(info.value) and "0, or 1 when the Vault keeps its keys behind an HSM" in str(
        info.value)
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]


def test_only_vault_takes_the_option(kms, tmp_path):
    with pytest.raises(EngineConfigError, match="security_level"):
        kms.engines.register("GOLANG", "soft", options={"directory": str(tmp_path / "k"), "security_level": "1"})
    with pytest.raises(EngineConfigError, match="security_level"):
        kms.engines.register("AWS_SECRETS_MANAGER", "sm", options={"region": "eu-west-1", "security_level": "1"},
                             check=False)
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]


def test_the_driver_checks_the_option_when_opened():
    with pytest.raises(EngineConfigError, match="security_level"):
        VaultKvEngine.validate_options({"address": "http://127.0.0.1:8200", "security_level": "2"})
    assert VaultKvEngine.validate_options({"address": "http://127.0.0.1:8200"})["security_level"] == "0"


def test_cli_registers_and_shows_sl1_everywhere(openbao, lab, mount, tmp_path):
    cli = InProcessCli(tmp_path / "data", env=home_env(tmp_path / "home"))
    cli("engines", "add", TYPE, "--id", "vault", "--option", f"address={openbao.address}", "--option",
        f"mount={mount}", "--option", "security_level=1", "--secret-stdin", input=lab.full_token + "\n")
    assert cli.json("engines", "show", "vault")["security_level"] == 1
    listed = cli("engines", "list").stdout.decode()
    assert [line for line in listed.splitlines() if " vault " in f" {line} " and "SL1" in line], listed
    assert "SL1" in cli("engines", "show", "vault").stdout.decode()
    cli("keys", "create", "--engine", "vault", "--algorithm", "ECDSA", "--size", "256", "--name", "in-vault")
    stats = json.loads(cli("stats", "--json").stdout)
    assert stats["by_security_level"] == {"SL0": 0, "SL1": 1, "SL2": 0}, stats
    refused = cli("engines", "add", TYPE, "--id", "vault2", "--option", f"address={openbao.address}", "--option",
                  f"mount={mount}", "--option", "security_level=2", "--secret-stdin", input=lab.full_token + "\n",
                  code=3)
    assert b"'security_level'" in refused.stderr and lab.full_token.encode() not in refused.stderr
