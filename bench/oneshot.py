"""One-shot commands: a single kms-tui process against the few lines of Python that do the same work.

- the floor: the same interpreter loads the engine's encrypted PKCS#8 key file with its passphrase
  given, signs a small file (ECDSA P-256 over its SHA-256) and writes the signature, with
  ``cryptography`` alone;
- ``kms-tui --version`` and ``kms-tui --help`` against that floor;
- ``kms-tui keys sign REF --in FILE --out SIG`` on the software engine, its passphrase in a real
  Secret Service (a private D-Bus session with an unlocked gnome-keyring), against that floor;
- the same on SoftHSM2 (the PIN in that Secret Service), against a script that opens the module
  with python-pkcs11, logs in, signs the digest and writes the signature.

Each kms-tui run alternates with its baseline's run; medians of at least 11 of each. Both run as
installed code runs: with byte-code caches (PYTHONDONTWRITEBYTECODE is dropped; the first, uncounted
pair writes them), so neither pays for compiling its sources.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import KMS_TUI, PYTHON, ROOT, Figure, wall  # noqa: E402
from bench.sync_scaling import HSM_PIN, softhsm_store  # noqa: E402

PASSPHRASE = "bench-oneshot-passphrase-1357"  # a throwaway engine's, never a real one
KEYRING_PASSWORD = b"bench-oneshot-keyring"
TOKEN = "bench-oneshot"
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

FLOOR = """\
import os, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
with open(sys.argv[1], "rb") as f:
    key = serialization.load_pem_private_key(f.read(), os.environ["BENCH_PASSPHRASE"].encode())
with open(sys.argv[2], "rb") as f:
    signature = key.sign(f.read(), ec.ECDSA(hashes.SHA256()))
with open(sys.argv[3], "xb") as f:
    f.write(signature)
"""

PKCS11_FLOOR = """\
import hashlib, os, sys
import pkcs11
lib = pkcs11.lib(sys.argv[1])
token = lib.get_token(token_label=sys.argv[2])
with token.open(user_pin=os.environ["BENCH_PIN"]) as session:
    key = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=sys.argv[3])
    with open(sys.argv[4], "rb") as f:
        digest = hashlib.sha256(f.read()).digest()
    signature = key.sign(digest, mechanism=pkcs11.Mechanism.ECDSA)
with open(sys.argv[5], "xb") as f:
    f.write(signature)
"""


class SecretService:
    """A private D-Bus session bus (nothing activated on it) with an unlocked gnome-keyring."""

    def __init__(self, base: Path):
        for tool in ("dbus-daemon", "gnome-keyring-daemon"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is not installed (apt-get install dbus gnome-keyring)")
        runtime = base / "run"
        runtime.mkdir(mode=0o700, parents=True)
        dropped = ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        env.update(HOME=str(base), XDG_DATA_HOME=str(base / "data"), XDG_RUNTIME_DIR=str(runtime),
                   XDG_CONFIG_HOME=str(base / "config"), PYTHONPATH=str(ROOT))
        config = base / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=runtime / "bus"))
        self.bus = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        env["DBUS_SESSION_BUS_ADDRESS"] = self.bus.stdout.readline().strip()
        self.env = env
        self.daemon = subprocess.Popen(["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                                       stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       env=env)
        self.daemon.stdin.write(KEYRING_PASSWORD)
        self.daemon.stdin.close()
        self._wait_unlocked()

    def _wait_unlocked(self) -> None:
        probe = ("import secretstorage; c = secretstorage.dbus_init(); "
                 "assert not secretstorage.get_default_collection(c).is_locked()")
        for _ in range(100):
            if subprocess.run([PYTHON, "-c", probe], env=self.env, capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("gnome-keyring did not come up on the private D-Bus session")

    def stop(self) -> None:
        for proc in (self.daemon, self.bus):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([KMS_TUI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"kms-tui {' '.join(args[:2])} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return done.stdout


def _paired(runs: int, ours: list[str], theirs: list[str], env: dict[str, str], theirs_env: dict[str, str],
            out: Path | None = None) -> tuple[float, float]:
    """Medians of ``ours`` and ``theirs``, alternating; ``{out}`` in a command is a new file each run."""
    mine, base = [], []
    if out is not None:
        out.mkdir(parents=True)
    for i in range(runs + 1):  # the first pair warms the page cache and is not counted
        made = [str(out / f"{i}.{name}") if out else "" for name in ("ours", "theirs")]
        a = wall([arg.replace("{out}", made[0]) for arg in ours], env)
        b = wall([arg.replace("{out}", made[1]) for arg in theirs], theirs_env)
        if i:
            mine.append(a)
            base.append(b)
    return statistics.median(mine), statistics.median(base)


def software(work: Path, host: SecretService, runs: int) -> list[Figure]:
    env = {**host.env, "KMS_TUI_DATA_DIR": str(work / "data")}
    _cli(env, "engines", "add", "GOLANG", "--id", "soft", "--option", f"directory={work / 'soft-keys'}",
         "--default", "--secret-stdin", stdin=PASSPHRASE + "\n")
    record = json.loads(_cli(env, "keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "one", "--json"))
    key_file = next((work / "soft-keys").glob(f"{record['key_id']}*"))
    message = work / "message.txt"
    message.write_bytes(b"a small file to sign\n" * 8)
    (work / "floor.py").write_text(FLOOR)
    floor_env = {**env, "BENCH_PASSPHRASE": PASSPHRASE}
    floor = [PYTHON, str(work / "floor.py"), str(key_file), str(message), "{out}"]
    figures = []
    for flag in ("--version", "--help"):
        ours, theirs = _paired(runs, [KMS_TUI, flag], floor, env, floor_env, work / f"sigs{flag}")
        figures.append(Figure(f"kms-tui {flag}", ours, "s", theirs, "floor: cryptography loads, signs, writes",
                              "<= 1.5x"))
    sign = [KMS_TUI, "keys", "sign", "one", "--algorithm", "ECDSA_SHA_256", "--in", str(message), "--out", "{out}"]
    ours, theirs = _paired(runs, sign, floor, env, floor_env, work / "sigs-sign")
    figures.append(Figure("kms-tui keys sign, software engine, Secret Service", ours, "s", theirs,
                          "floor: cryptography loads, signs, writes", "<= 2.5x",
                          note="passphrase read from gnome-keyring over D-Bus"))
    return figures


def softhsm(work: Path, host: SecretService, runs: int) -> list[Figure]:
    conf, module = softhsm_store(work / "hsm", ())
    hsm_env = {**host.env, "SOFTHSM2_CONF": str(conf), "KMS_TUI_DATA_DIR": str(work / "hsm-data")}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--so-pin", "bench-so-pin-2468",
                    "--pin", HSM_PIN], env=hsm_env, check=True, capture_output=True, timeout=60)
    _cli(hsm_env, "engines", "add", "PKCS11", "--id", "hsm", "--option", f"module={module}", "--option",
         f"token={TOKEN}", "--default", "--secret-stdin", stdin=HSM_PIN + "\n")
    record = json.loads(_cli(hsm_env, "keys", "create", "--algorithm", "ECDSA", "--size", "256", "--name", "hsm-one",
                             "--json"))
    message = work / "message.txt"
    (work / "pkcs11_floor.py").write_text(PKCS11_FLOOR)
    floor = [PYTHON, str(work / "pkcs11_floor.py"), str(module), TOKEN, record["native_ref"], str(message), "{out}"]
    sign = [KMS_TUI, "keys", "sign", "hsm-one", "--algorithm", "ECDSA_SHA_256", "--in", str(message), "--out", "{out}"]
    ours, theirs = _paired(runs, sign, floor, hsm_env, {**hsm_env, "BENCH_PIN": HSM_PIN}, work / "hsm-sigs")
    return [Figure("kms-tui keys sign, SoftHSM2, Secret Service", ours, "s", theirs,
                   "python-pkcs11 opens, logs in, signs, writes", "<= 2.5x",
                   note="PIN read from gnome-keyring over D-Bus")]


def run(quick: bool = False) -> list[Figure]:
    runs = 11 if quick else 21
    with tempfile.TemporaryDirectory(prefix="kms-tui-bench-oneshot-") as tmp:
        work = Path(tmp)
        host = SecretService(work / "secret-service")
        try:
            figures = software(work, host, runs)
            figures += softhsm(work, host, runs)
        finally:
            host.stop()
    return figures


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    for figure in run("--quick" in sys.argv):
        print(figure)
