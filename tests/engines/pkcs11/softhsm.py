"""A private SoftHSM2 token store for one test run, and the tools that work on it.

Used by the engine tests (in-process, through ``SOFTHSM2_CONF`` in ``os.environ``)
and by the CLI tests (subprocesses, through ``env``). SoftHSM reads its
configuration at ``C_Initialize`` only, and reads its token list then too: every
token a process needs is created before the process loads the module.

Besides the normal store there is a *restricted* one whose configuration disables
EdDSA and RSA-PSS (``slots.mechanisms``), to meet a token without those mechanisms.
SoftHSM 2.6.1 drops the first entry of a ``-`` (disable) list, hence the lone ``-,``.
In-process, that configuration needs its own copy of the library: one loaded module
reads one configuration.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SO_PIN = "so-pin-8642"
USER_PIN = "user-pin-1357"
TOKENS = ("contract", "service", "pin", "spare", "shared")
RESTRICTED_TOKEN = "restricted"
DISABLED = ("CKM_EC_EDWARDS_KEY_PAIR_GEN", "CKM_EDDSA", "CKM_RSA_PKCS_PSS", "CKM_SHA256_RSA_PKCS_PSS",
            "CKM_SHA384_RSA_PKCS_PSS", "CKM_SHA512_RSA_PKCS_PSS")


def require_tools() -> None:
    missing = [t for t in ("softhsm2-util", "pkcs11-tool") if shutil.which(t) is None]
    if missing or not os.path.exists(MODULE):
        pytest.fail(f"SoftHSM2/OpenSC are not installed ({', '.join(missing) or MODULE}): run bash tests/run.sh")


@dataclass
class SoftHsm:
    base: Path
    conf: Path
    restricted_conf: Path
    restricted_module: Path  # a copy of the library, for the restricted configuration in-process

    def env(self, restricted: bool = False, base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["SOFTHSM2_CONF"] = str(self.restricted_conf if restricted else self.conf)
        return env

    def init_token(self, label: str, restricted: bool = False) -> None:
        run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", USER_PIN],
            self.env(restricted))

    def tool(self, token: str, *args: str, restricted: bool = False) -> str:
        """``pkcs11-tool`` logged in to a token; its output. The PIN is a test PIN."""
        return run(["pkcs11-tool", "--module", MODULE, "--token-label", token, "--login", "--pin", USER_PIN, *args],
                   self.env(restricted))

    def objects(self, token: str) -> list[dict[str, str]]:
        """The token's objects as pkcs11-tool --list-objects describes them."""
        found: list[dict[str, str]] = []
        for line in self.tool(token, "--list-objects").splitlines():
            if re.match(r"^\S.* Object;", line):
                found.append({"kind": line.split(" Object;")[0].strip(), "type": line.split(";", 1)[1].split()[0]})
            elif found and ":" in line and line.startswith("  "):
                name, _, value = line.strip().partition(":")
                found[-1][name.strip()] = value.strip()
        return found


def run(argv: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{argv[0]} failed: {proc.stdout[-800:]} {proc.stderr[-800:]}"
    return proc.stdout


def make_softhsm(base: Path, tokens: tuple[str, ...] = TOKENS) -> SoftHsm:
    """A token store in ``base`` with the given tokens, and a restricted one with one token."""
    require_tools()
    for name in ("tokens", "restricted-tokens"):
        (base / name).mkdir(parents=True)
    conf, restricted_conf = base / "softhsm2.conf", base / "softhsm2-restricted.conf"
    common = "objectstore.backend = file\nlog.level = ERROR\n"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\n{common}")
    restricted_conf.write_text(f"directories.tokendir = {base / 'restricted-tokens'}\n{common}"
                               f"slots.mechanisms = -,{','.join(DISABLED)}\n")
    restricted_module = base / "libsofthsm2-restricted.so"
    shutil.copyfile(os.path.realpath(MODULE), restricted_module)
    hsm = SoftHsm(base, conf, restricted_conf, restricted_module)
    for label in tokens:
        hsm.init_token(label)
    hsm.init_token(RESTRICTED_TOKEN, restricted=True)
    return hsm


def private_module(conf: Path, copy: Path) -> str:
    """A copy of SoftHSM2's library at ``copy``, loaded now with the configuration ``conf``.

    SoftHSM reads SOFTHSM2_CONF once, when a loaded library initialises: a copy of the library
    is a second module with a configuration of its own, next to the one the process already uses.
    """
    from engines.pkcs11.module import load_module

    shutil.copyfile(os.path.realpath(MODULE), copy)
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        load_module(str(copy))
    finally:
        if before is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = before
    return str(copy)
