"""Crypto-engine drivers and the key logic they share.

The registry maps an engine type (Lamassu's ids) to the module holding its
driver; a driver module is imported only when an engine of that type is used,
so start-up never pays for an SDK it does not need. Each driver lives in a
package of its own (``engines.software``, ``engines.pkcs11``, ``engines.aws``,
``engines.azure``, ``engines.vault``); the modules at this level are shared.

The six built-in types are listed here. Another distribution adds an engine
through the entry-point group ``kms_tui.engines``: the name is the engine type
id, the value ``"module:Class"``, an ``EngineDriver`` subclass whose ``DISPLAY``
and ``SECURITY_LEVEL`` (0, 1 or 2) the registry records. The group is read only
when a type that is not built in is asked for, and a plugged type never takes
the place of a built-in one.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import UnknownEngineType

ENTRY_POINT_GROUP = "kms_tui.engines"


@dataclass(frozen=True)
class EngineType:
    type: str
    display: str
    security_level: int
    target: str  # "module:Class", imported lazily


ENGINE_TYPES: dict[str, EngineType] = {
    t.type: t
    for t in (
        EngineType("GOLANG", "Software", 0, "engines.software.engine:SoftwareEngine"),
        EngineType("PKCS11", "PKCS#11 HSM", 2, "engines.pkcs11.engine:Pkcs11Engine"),
        EngineType("AWS_KMS", "AWS KMS", 1, "engines.aws.kms:AwsKmsEngine"),
        EngineType("AWS_SECRETS_MANAGER", "AWS Secrets Manager", 0, "engines.aws.secrets_manager:AwsSecretsEngine"),
        EngineType("AZURE_KEY_VAULT", "Azure Key Vault", 1, "engines.azure.engine:AzureKeyVaultEngine"),
        EngineType("HASHICORP_VAULT_KV_V2", "HashiCorp Vault KV v2", 0, "engines.vault.engine:VaultKvEngine"),
    )
}


def engine_type(name: str) -> EngineType:
    """The registered type ``name``; an installed distribution's entry point is looked for only when
    no type of that name is registered yet."""
    key = str(name).upper()
    found = ENGINE_TYPES.get(key) or _plugged(key)
    if found is None:
        raise UnknownEngineType(
            f"Unknown engine type {name!r}.", hint="Known: " + ", ".join(ENGINE_TYPES) + "."
        )
    return found


def _plugged(key: str) -> EngineType | None:
    """The type an entry point of ``kms_tui.engines`` declares under ``key``, registered from now on."""
    from importlib import metadata

    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if point.name.upper() == key:
            return ENGINE_TYPES.setdefault(key, _plugged_type(key, point))
    return None


def _plugged_type(key: str, point: Any) -> EngineType:
    """What the driver class an entry point names says of itself; refused unless it is a driver of ``key``."""
    from .base import EngineDriver

    where = f"The engine type {key} declared by the entry point {point.value[:120]!r}"
    try:
        cls = point.load()
    except Exception as exc:  # whatever the package raises, the type stays unknown
        detail = f"{exc.name!r} is missing" if isinstance(exc, ImportError) else type(exc).__name__
        raise UnknownEngineType(f"{where} cannot be loaded ({detail}).") from exc
    if not (isinstance(cls, type) and issubclass(cls, EngineDriver)):
        raise UnknownEngineType(f"{where} does not name an engine driver class.")
    if getattr(cls, "TYPE", key) != key:
        raise UnknownEngineType(f"{where} names a driver of another type ({str(cls.TYPE)[:40]!r}).")
    level = getattr(cls, "SECURITY_LEVEL", 0)
    if type(level) is not int or level not in (0, 1, 2):
        raise UnknownEngineType(f"{where} has a security level other than 0, 1 or 2.")
    display = str(getattr(cls, "DISPLAY", key))[:80]
    return EngineType(key, display, level, f"{point.module}:{point.attr}")


def _target(spec: EngineType) -> tuple[str, str]:
    module_name, _, attribute = spec.target.partition(":")
    return module_name, attribute


def available(name: str) -> bool:
    """True when the driver module for this type exists in this build."""
    module_name = _target(engine_type(name))[0]
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def driver_class(name: str) -> Any:
    """The driver class for an engine type, importing its module on first use."""
    spec = engine_type(name)
    module_name, attribute = _target(spec)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise UnknownEngineType(f"The {spec.display} engine is not available in this version.") from None
        raise UnknownEngineType(
            f"The {spec.display} engine needs the Python package {exc.name!r}, which is not installed."
        ) from None
    return functools.reduce(getattr, attribute.split("."), module)


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for a driver package: each name of ``exports`` (name -> submodule)
    is imported from its submodule on first use, so importing the package imports no driver."""

    def __getattr__(name: str) -> Any:
        submodule = exports.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{submodule}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
