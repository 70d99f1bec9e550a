"""The settings of a Vault KV v2 engine: its options, their checks, and which secret it needs.

Checked at registration and again whenever a stored engine is opened, so the checks are
idempotent: a checked dict passes them unchanged.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .. import errors as E
from ..base import OptionSpec

DEFAULT_JWT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
# One path segment that Vault and a URL take as it is: no escaping, no "." or ".." segment.
NAME = re.compile(r"[A-Za-z0-9_@+=,-][A-Za-z0-9._@+=,-]{0,255}")
AUTH_METHODS = ("token", "approle", "kubernetes")
_AUTH_OPTIONS = {"token": (), "approle": ("role_id", "auth_mount"), "kubernetes": ("role", "jwt_path", "auth_mount")}

OPTIONS = (
    OptionSpec("address", "Vault address, e.g. https://vault.example.com:8200", required=True),
    OptionSpec("namespace", "Vault namespace (Enterprise / OpenBao), if any"),
    OptionSpec("mount", "path of the KV v2 secrets engine", default="secret"),
    OptionSpec("prefix", "path prefix inside the mount, e.g. kms/ (Lamassu uses none)"),
    OptionSpec("ca_bundle", "PEM file or directory of the CA that signed Vault's TLS certificate"),
    OptionSpec("auth", "authentication method", default="token", choices=AUTH_METHODS),
    OptionSpec("role_id", "AppRole role id (auth=approle); the secret id goes to the keyring"),
    OptionSpec("role", "Vault role to log in as (auth=kubernetes)"),
    OptionSpec("jwt_path", f"service-account token file (auth=kubernetes; default {DEFAULT_JWT_PATH})"),
    OptionSpec("auth_mount", "path of the auth method (default: approle or kubernetes)"),
    OptionSpec("timeout", "seconds to wait for Vault", default="10"),
)


def normalise(options: dict[str, str]) -> dict[str, str]:
    """Spacing and case forgiven before the generic checks (forms and flags send both)."""
    options = {k: (str(v).strip() if v is not None else v) for k, v in options.items()}
    if options.get("auth"):
        options["auth"] = options["auth"].lower()
    return options


def _path(value: str, option: str, *, allow_empty: bool = False) -> str:
    if (value or not allow_empty) and not all(NAME.fullmatch(part) for part in value.split("/")):
        raise E.EngineConfigError(
            f"Option {option!r} must be a Vault path of letters, digits and . _ - @ + = , segments; got {value[:80]!r}."
        )
    return value


def check(checked: dict[str, str]) -> dict[str, str]:
    """Vault-specific checks of options that passed the generic ones (defaults filled in)."""
    url = urlsplit(checked["address"])
    if (url.scheme not in ("http", "https") or not url.hostname or url.username or url.password
            or url.path not in ("", "/") or url.query or url.fragment):
        raise E.EngineConfigError(
            "Option 'address' must be http(s)://host[:port], without a path or credentials; "
            f"got {checked['address'][:80]!r}."
        )
    checked["address"] = checked["address"].rstrip("/")
    checked["mount"] = _path(checked["mount"].strip("/"), "mount")
    prefix = checked.pop("prefix", "").lstrip("/")
    _path(prefix.removesuffix("/"), "prefix", allow_empty=True)
    if prefix:
        checked["prefix"] = prefix  # "kms/" is a folder, "kms-" a name prefix: both kept as given
    for name in ("namespace", "auth_mount"):
        if checked.get(name):
            checked[name] = _path(checked[name].strip("/"), name)
    try:
        timeout = float(checked["timeout"])
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 300:
        raise E.EngineConfigError(f"Option 'timeout' must be seconds, more than 0 and at most 300; got {checked['timeout'][:20]!r}.")
    auth = checked["auth"]
    for name in ("role_id", "role", "jwt_path", "auth_mount"):
        if name in checked and name not in _AUTH_OPTIONS[auth]:
            raise E.EngineConfigError(f"Option {name!r} does not apply to auth={auth}.")
    required = {"approle": "role_id", "kubernetes": "role"}.get(auth)
    if required and not checked.get(required):
        raise E.EngineConfigError(f"Option {required!r} is required with auth={auth}.")
    return checked


def needs_secret(options: dict[str, str]) -> bool:
    # Kubernetes auth reads its service-account token from a file: nothing goes to the keyring.
    return str(options.get("auth") or "token").strip().lower() in ("token", "approle")
