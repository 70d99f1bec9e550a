"""A scratch engine for rehearsals, thrown away afterwards.

PKCS#11 scripts rehearse on a fresh SoftHSM2 token: a temporary ``SOFTHSM2_CONF``
and token directory, and a private copy of the SoftHSM2 library (SoftHSM reads its
configuration when a library is initialised, so a copy loads the scratch
configuration even in a process that already uses SoftHSM). Software scripts
rehearse on a temporary software engine. A ``restore-key`` step's target engine gets its
own scratch token (or software engine) the same way. Secrets of the scratch engines (PINs,
security officer PINs) are random and held in memory only; the keyring is never touched.

What a rehearsal writes goes under the data directory (``rehearsals/``), never next
to the script: a script shipped in a package or kept in a repository would otherwise
gain a directory of outputs inside the package or the checkout. For the same reason
a real run whose script names a directory inside a Git working tree or an installed
package writes under ``ceremonies/`` in the data directory, and its plan says so.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from ..service.errors import EngineConfigError
from .backup_steps import OFFICER_PIN
from .script import EngineSpec, Script

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
REHEARSALS = "rehearsals"  # under the data directory
CEREMONIES = "ceremonies"  # runs whose script names a directory inside a checkout or a package
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_output_dir(data_dir: Path, script: Script, now: datetime, under: str = REHEARSALS) -> Path:
    """``<data dir>/rehearsals/<ceremony id>-<UTC time>``: a new directory for each rehearsal."""
    name = _UNSAFE.sub("-", script.id).strip("-.")[:64] or "ceremony"
    return Path(data_dir) / under / f"{name}-{now:%Y%m%dT%H%M%SZ}"


def protected_tree(directory: Path) -> str | None:
    """What ``directory`` lies inside that a ceremony must never write into, or None.

    A Git working tree (a ``.git`` in it or above it) or an installed Python package
    (``site-packages``/``dist-packages``): outputs there would be committed, shipped or
    overwritten by the next upgrade.
    """
    path = Path(os.path.abspath(directory))
    if {"site-packages", "dist-packages"} & set(path.parts):
        return "an installed Python package"
    for parent in (path, *path.parents):
        if os.path.lexists(parent / ".git"):
            return f"the Git working tree {parent}"
    return None


def run_output_dir(data_dir: Path, script: Script, clock: Callable[[], datetime]) -> tuple[Path, str | None]:
    """Where a run writes when no directory is given: the script's ``output_dir``, unless that lies in a
    protected tree; then ``<data dir>/ceremonies/<id>-<UTC time>``, with the reason to show in the plan."""
    where = protected_tree(script.output_dir)
    if where is None:
        return script.output_dir, None
    chosen = default_output_dir(data_dir, script, clock(), CEREMONIES)  # the clock is read only when needed
    return chosen, f"the script's output_dir {script.output_dir} is inside {where}: outputs go to {chosen} instead"


def softhsm_module(script: Script) -> str:
    """The script's module when it is SoftHSM2, else the system's SoftHSM2."""
    module = script.engine.module or ""
    return module if "softhsm" in os.path.basename(module).lower() else SOFTHSM_MODULE


@contextlib.contextmanager
def scratch_kms(script: Script):
    """(kms, engine id, module note) on a throwaway data directory and engine."""
    from ..service import Kms
    from ..service.types import CredentialStore

    base = Path(tempfile.mkdtemp(prefix="kms-tui-rehearsal-"))
    kms = None
    try:
        kms = Kms(base / "data", credentials=CredentialStore())
        engine_id, note = script.engine.id, None
        specs = _engines(script)
        tokens = [spec for spec in specs if spec.type == "PKCS11"]
        officer_pins = _softhsm(kms, script, tokens, base) if tokens else {}
        if script.engine.type == "PKCS11":
            note = f"rehearsal: scratch SoftHSM2 token, a copy of {softhsm_module(script)}"
        for spec in specs:
            if spec.type != "PKCS11":
                _software(kms, spec.id, base / f"keys-{len(kms.engines.list())}")
        kms.prompt = _officer_prompt(officer_pins)
        yield kms, engine_id, note
    finally:
        if kms is not None:
            kms.close()
        shutil.rmtree(base, ignore_errors=True)


def _engines(script: Script) -> list[EngineSpec]:
    """The script's engine, then each restore target it names (once each)."""
    specs = {script.engine.id: script.engine}
    for step in script.steps:
        if step.action == "restore-key":
            specs.setdefault(step.params["engine"]["id"], EngineSpec(**step.params["engine"]))
    return list(specs.values())


def _software(kms, engine_id: str, directory: Path) -> None:
    if engine_id in {e.record.id for e in kms.engines.list()}:
        kms.engines.secrets.set(engine_id, secrets.token_urlsafe(32), memory_only=True)
    else:
        kms.engines.register("GOLANG", engine_id, options={"directory": str(directory)},
                            secret=secrets.token_urlsafe(32), memory_only=True)


def _officer_prompt(officer_pins: dict[str, str]):
    """The scratch tokens' security officer PINs, given when a backup step asks for one; nothing else."""
    def prompt(request):
        return officer_pins.get(request.engine_id) if request.label == OFFICER_PIN else None
    return prompt


def _softhsm(kms, script: Script, specs: list[EngineSpec], base: Path) -> dict[str, str]:
    """One scratch token per PKCS#11 engine of the script, all made before the module is loaded (SoftHSM
    reads its tokens when it starts); returns each engine's security officer PIN."""
    source = softhsm_module(script)
    if not os.path.isfile(source) or shutil.which("softhsm2-util") is None:
        raise EngineConfigError("Rehearsing a PKCS#11 ceremony needs SoftHSM2 (softhsm2-util and "
                                f"{SOFTHSM_MODULE}).", hint="Install it: apt-get install softhsm2")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    module = base / "libsofthsm2-rehearsal.so"
    shutil.copyfile(os.path.realpath(source), module)
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    made = []
    for number, spec in enumerate(specs):
        label = (spec.token or (f"rehearsal-{number}" if number else "rehearsal"))[:32]
        # The PINs of a scratch token protect nothing that outlives this rehearsal.
        pin, so_pin = secrets.token_hex(8), secrets.token_hex(8)
        proc = subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", so_pin,
                               "--pin", pin], env=env, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise EngineConfigError(f"softhsm2-util could not make the scratch token: {proc.stderr.strip()[:200]}")
        made.append((spec.id, label, pin, so_pin))
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        for engine_id, label, pin, _ in made:
            kms.engines.register("PKCS11", engine_id, options={"module": str(module), "token": label},
                                secret=pin, memory_only=True)
    finally:
        if before is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = before
    return {engine_id: so_pin for engine_id, _, _, so_pin in made}
