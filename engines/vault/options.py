"""The settings of a Vault KV v2 engine: its options, their checks, and which secret it needs.

Checked at registration and again whenever a stored engine is opened, so the checks are
idempotent: a checked dict passes them unchanged.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .. import errors as E
from .. import lamassu
from ..base import OptionSpec

DEFAULT_JWT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
# One path segment that Vault and a URL take as it is: no escaping, no "." or ".." segment.
NAME = re.compile(r"[A-Za-z0-9_@+=,-][A-Za-z0-9._@+=,-]{0,255}")
AUTH_METHODS = ("token", "approle", "kubernetes")
# Lamassu's documentation gives Vault KV v2 "SL0, or SL1 if Vault uses an HSM backend" (DESIGN.md §2):
# the operator says which at registration; it becomes the engine record's security level.
SECURITY_LEVEL = "security_level"
SECURITY_LEVELS = ("0", "1")
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
    OptionSpec(SECURITY_LEVEL, "security level: 0, or 1 when the Vault keeps its keys behind an HSM (HSM seal)",
               default="0", choices=SECURITY_LEVELS),
)


def normalise(options: dict[str, str]) -> dict[str, str]:
    """Spacing and case forgiven before the generic checks (forms and flags send both)."""
    options = {k: (str(v).strip() if v is not None else v) for k, v in options.items()}
    if options.get("auth"):
        options["auth"] = options["auth"].lower()
    _check_security_level(options.get(SECURITY_LEVEL))
    return options


def _check_security_level(value: str | None) -> None:
    if value in (None, "", *SECURITY_LEVELS):
        return
    raise E.EngineConfigError(
        f"Option {SECURITY_LEVEL!r} of a Vault KV v2 engine is 0, or 1 when the Vault keeps its keys behind an "
        f"HSM; got {str(value)[:20]!r}.",
        hint="SL2 is for keys inside an HSM itself: a PKCS#11 engine.",
    )


def _path(value: str, option: str, *, allow_empty: bool = False) -> str:
    if (value or not allow_empty) and not all(NAME.fullmatch(part) for part in value.split("/")):
        raise E.EngineConfigError(
            f"Option {option!r} must be a Vault path of letters, digits and . _ - @ + = , segments; got {value[:80]!r}."
        )
    return value


def _refuse_lamassu_prefix(checked: dict[str, str]) -> None:
    """No prefix on an engine shared with Lamassu; its mount is free, as Lamassu's is.

    lamassuiot/lamassuiot engines/crypto/vaultkv2/vaultkv2.go writes ``<mount_path>/data/<key id>``
    (``kvv2Client.Put(ctx, keyID, …)``) and lists ``<mount_path>/metadata``; ``mount_path`` is
    its configuration (engines/crypto/vaultkv2/config/config.go), so any mount matches one.
    """
    if lamassu.shared(checked):
        raise E.EngineConfigError(
            "A Vault KV v2 engine shared with Lamassu takes no prefix: Lamassu keeps each key at "
            "<mount>/data/<key id>, at the top of its mount, and would find no key under a prefix.",
            hint="Leave the prefix option out (the mount may be any; give Lamassu the same mount_path).",
        )


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
        _refuse_lamassu_prefix(checked)
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
