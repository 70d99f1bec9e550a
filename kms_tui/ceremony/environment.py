"""The engine a ceremony runs on: checked before it starts, and described in the transcript's start entry
(tool, Python, libraries, host, engine)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
from typing import Any

from .. import __version__
from ..service.errors import NotFound
from .errors import CeremonyRefused
from .script import EngineSpec, Script

LIBRARIES = ("cryptography", "python-pkcs11", "PyYAML", "keyring")
OFFLINE_TYPES = ("PKCS11", "GOLANG")


def collect_environment(kms, engine_id: str, module_note: str | None = None) -> dict[str, Any]:
    """Tool, Python and library versions, the host, and the engine (module path, token serial and label)."""
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            versions[lib] = None
    facts = kms.ceremony.engine(engine_id)
    engine: dict[str, Any] = {"id": facts.id, "type": facts.type}
    if facts.type == "PKCS11":
        engine.update(module=facts.module, token_label=facts.token, token_serial=facts.serial)
        match = kms.ceremony.token(facts)
        if match is not None:
            engine.update(token_label=match["label"], token_serial=match["serial"],
                          token_model=match.get("model"), token_manufacturer=match.get("manufacturer"))
        if module_note:
            engine["module_note"] = module_note
    return {"tool": f"kms-tui {__version__}", "python": platform.python_version(),
            "platform": platform.platform(), "hostname": socket.gethostname(), "libraries": versions, "engine": engine}


def check_engine(kms, script: Script, engine_id: str, mode: str, spec: EngineSpec | None = None) -> None:
    """The registered engine is the script's (or ``spec``, a step's own engine), and one a ceremony may use
    (offline: no network)."""
    spec = spec or script.engine
    try:
        engine = kms.ceremony.engine(engine_id)
    except NotFound:
        raise CeremonyRefused(f"Engine {engine_id!r} is not registered on this workstation.",
                              hint="Register it first: kms-tui engines add …") from None
    for etype, what in ((spec.type, "The script's engine"), (engine.type, f"Engine {engine.id!r}")):
        if etype not in OFFLINE_TYPES:
            reason = ("needs a network; an offline ceremony refuses it" if script.offline
                      else "is not allowed; ceremonies use a PKCS#11 HSM or a software engine")
            raise CeremonyRefused(f"{what} is of type {etype}, which {reason}.",
                                  hint="Use a PKCS11 or GOLANG engine.")
    if engine.type != spec.type:
        raise CeremonyRefused(f"Engine {engine.id!r} is {engine.type}; the script names a {spec.type} engine.")
    if mode == "run" and engine.type == "PKCS11":
        if os.path.realpath(engine.module or "") != os.path.realpath(spec.module or ""):
            raise CeremonyRefused(f"Engine {engine.id!r} uses module {engine.module}; the script "
                                  f"names {spec.module}.")
        for option in ("token", "serial"):
            wanted = getattr(spec, option)
            registered = getattr(engine, option)
            if wanted and registered and registered != wanted:
                raise CeremonyRefused(f"Engine {engine.id!r} uses {option} {registered!r}; "
                                      f"the script names {wanted!r}.")
