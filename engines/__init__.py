"""Crypto-engine drivers and the key logic they share.

The registry maps an engine type (Lamassu's ids) to the module holding its
driver; a driver module is imported only when an engine of that type is used,
so start-up never pays for an SDK it does not need.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from .errors import UnknownEngineType


@dataclass(frozen=True)
class EngineType:
    type: str
    display: str
    security_level: int
    target: str  # "module:Class", imported lazily


ENGINE_TYPES: dict[str, EngineType] = {
    t.type: t
    for t in (
        EngineType("GOLANG", "Software", 0, "engines.software:SoftwareEngine"),
        EngineType("PKCS11", "PKCS#11 HSM", 2, "engines.pkcs11:Pkcs11Engine"),
        EngineType("AWS_KMS", "AWS KMS", 1, "engines.aws_kms:AwsKmsEngine"),
        EngineType("AWS_SECRETS_MANAGER", "AWS Secrets Manager", 0, "engines.aws_secrets:AwsSecretsEngine"),
        EngineType("AZURE_KEY_VAULT", "Azure Key Vault", 1, "engines.azure_kv:AzureKeyVaultEngine"),
        EngineType("HASHICORP_VAULT_KV_V2", "HashiCorp Vault KV v2", 0, "engines.vault_kv:VaultKvEngine"),
    )
}


def engine_type(name: str) -> EngineType:
    try:
        return ENGINE_TYPES[str(name).upper()]
    except KeyError:
        raise UnknownEngineType(
            f"Unknown engine type {name!r}.", hint="Known: " + ", ".join(ENGINE_TYPES) + "."
        ) from None


def available(name: str) -> bool:
    """True when the driver module for this type exists in this build."""
    module = engine_type(name).target.split(":")[0]
    return importlib.util.find_spec(module) is not None


def driver_class(name: str):
    """The driver class for an engine type, importing its module on first use."""
    spec = engine_type(name)
    module_name, _, cls_name = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise UnknownEngineType(f"The {spec.display} engine is not available in this version.") from None
        raise UnknownEngineType(
            f"The {spec.display} engine needs the Python package {exc.name!r}, which is not installed."
        ) from None
    return getattr(module, cls_name)
