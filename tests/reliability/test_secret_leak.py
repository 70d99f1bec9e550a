"""No secret leaks: every engine driven with sentinel secrets, then every trace scanned.

Software (at-rest passphrase), SoftHSM2 (user PIN), moto KMS and Secrets Manager
(secret access key), OpenBao (token) and the test Azure Key Vault (client
secret) are registered and used through the installed ``kms-tui`` (real
subprocesses, real Secret Service), with one known private key imported under a
passphrase, and failing operations: wrong PIN, wrong token, wrong client secret,
wrong passphrase, and an internal error whose traceback goes to the log. Then the
SQLite database with its WAL and SHM, the log, the audit export, every output,
the snapshots and screenshots and the argv of every process started are searched
for each sentinel, raw and encoded: none may appear.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kms_tui.service import Kms
from store import CredentialStore
from tests.azure_kv_server import AzureKeyVaultServer
from tests.engines.aws.moto_server import MotoServer, hermetic_env
from tests.engines.pkcs11.softhsm import MODULE, require_tools
from tests.engines.vault.openbao import OpenBao
from tests.memory_keyring import MemoryKeyring
from tests.reliability.fixtures_hostile import report

ROOT = Path(__file__).resolve().parents[2]
KMS_TUI = str(Path(sys.executable).with_name("kms-tui"))
SECRETS = {
    "passphrase": "at-rest-SENTINEL-pass-5d1e",
    "pin": "pin-SENTINEL-7c3a",
    "aws": "aws-SENTINEL-secret-key-9b2f",
    "vault": "vault-SENTINEL-token-4e8a",
    "azure": "azure-SENTINEL-client-secret-1f6d",
    "import": "import-SENTINEL-passphrase-2a7c",
}
WRONG = {"pin": "pin-SENTINEL-wrong-0000", "vault": "vault-SENTINEL-wrong-0000",
         "azure": "azure-SENTINEL-wrong-0000", "import": "import-SENTINEL-wrong-0000"}
# Injected into CLI processes when KMS_TUI_FAULT is set: signing fails with a non-KmsError,
# so the CLI takes its internal-error path and logs a traceback (from inside the driver
# that holds the decrypted private key).
FAULT = """
import os
if os.environ.get("KMS_TUI_FAULT"):
    import engines.keys as keys
    def sign_with(private_key, *args, **kwargs):
        raise RuntimeError("injected fault while signing")
    keys.sign_with = sign_with
"""


def encodings(value: bytes) -> dict[str, bytes]:
    out = {"raw": value, "hex": value.hex().encode(), "HEX": value.hex().upper().encode(),
           "base64": base64.b64encode(value), "base64url": base64.urlsafe_b64encode(value).rstrip(b"=")}
    if len(value) >= 12:
        out["base64-body"] = base64.b64encode(value)[4:-4]  # any alignment of the middle
    return out


def key_sentinels(private) -> dict[str, bytes]:
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    scalar = private.private_numbers().private_value.to_bytes(48, "big")
    found = {f"key DER {k}": v for k, v in encodings(der).items()}
    found.update({f"key scalar {k}": v for k, v in encodings(scalar).items()})
    body = [line for line in pem.splitlines() if line and not line.startswith(b"-----")]
    found.update({f"key PEM line {i}": line for i, line in enumerate(body)})
    return found


class Lab:
    """Every process started, with its argv; every output collected."""

    def __init__(self, env: dict[str, str], data: Path):
        self.env, self.data = env, data
        self.argv: list[list[str]] = []
        self.outputs: list[bytes] = []

    def cli(self, *args: str, input: str | None = None, code: int = 0, **env: str) -> subprocess.CompletedProcess:
        argv = [KMS_TUI, "--data-dir", str(self.data), *args]
        self.argv.append(argv)
        proc = subprocess.run(argv, input=None if input is None else input.encode(), capture_output=True,
                              env={**self.env, **env}, timeout=120)
        self.outputs += [proc.stdout, proc.stderr]
        assert proc.returncode == code, (args, proc.returncode, proc.stderr.decode(errors="replace"))
        return proc


@pytest.fixture
def backends(tmp_path):
    require_tools()
    hsm = tmp_path / "softhsm"
    (hsm / "tokens").mkdir(parents=True)
    conf = hsm / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {hsm / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    # The one process given a PIN in argv is the token set-up tool, not kms-tui.
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "leak", "--so-pin", "so-0000",
                    "--pin", SECRETS["pin"]], env={**os.environ, "SOFTHSM2_CONF": str(conf)}, check=True,
                   capture_output=True)
    moto = MotoServer(tmp_path / "moto").start()
    bao = OpenBao(tmp_path / "bao")
    bao.start()
    bao.client().auth.token.create(id=SECRETS["vault"], policies=["root"])
    azure = AzureKeyVaultServer(tmp_path / "azure")
    azure.add_principal("leak-app", secret=SECRETS["azure"])
    azure.start()
    servers = [moto.proc, bao.proc]
    try:
        yield conf, moto, bao, azure, servers
    finally:
        moto.stop()
        bao.stop()
        azure.stop()


def scan(paths: list[Path], blobs: dict[str, bytes], sentinels: dict[str, bytes]) -> tuple[int, int, list[str]]:
    files = n_bytes = 0
    hits: list[str] = []
    for path in paths:
        if not path.is_file():
            continue
        data = path.read_bytes()
        files += 1
        n_bytes += len(data)
        hits += [f"{label} in {path}" for label, s in sentinels.items() if s in data]
    for where, data in blobs.items():
        n_bytes += len(data)
        hits += [f"{label} in {where}" for label, s in sentinels.items() if s in data]
    return files, n_bytes, hits


@pytest.mark.slow
def test_no_sentinel_reaches_any_trace(secret_service, backends, tmp_path, request):
    conf, moto, bao, azure, servers = backends
    data = tmp_path / "data"
    env = hermetic_env({**secret_service, "SOFTHSM2_CONF": str(conf)}, tmp_path)
    fault = tmp_path / "fault"
    fault.mkdir()
    (fault / "sitecustomize.py").write_text(FAULT)
    env["PYTHONPATH"] = os.pathsep.join([str(fault), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    lab = Lab(env, data)
    private = ec.generate_private_key(ec.SECP384R1())
    encrypted = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(SECRETS["import"].encode()))
    key_file = tmp_path / "import.pem"
    key_file.write_bytes(encrypted)

    # Engines, each secret through stdin into the real keyring.
    lab.cli("engines", "add", "GOLANG", "--id", "soft", "--secret-stdin", "--default", input=SECRETS["passphrase"] + "\n")
    lab.cli("engines", "add", "PKCS11", "--id", "hsm", "--option", f"module={MODULE}", "--option", "token=leak",
            "--secret-stdin", input=WRONG["pin"] + "\n", code=3)
    lab.cli("engines", "add", "PKCS11", "--id", "hsm", "--option", f"module={MODULE}", "--option", "token=leak",
            "--secret-stdin", input=SECRETS["pin"] + "\n")
    aws = ["--option", "region=eu-west-1", "--option", "access_key_id=AKIAEXAMPLE",
           "--option", f"endpoint_url={moto.url}", "--option", "max_attempts=1", "--secret-stdin"]
    lab.cli("engines", "add", "AWS_KMS", "--id", "kms", *aws, input=SECRETS["aws"] + "\n")
    lab.cli("engines", "add", "AWS_SECRETS_MANAGER", "--id", "sm", *aws, input=SECRETS["aws"] + "\n")
    vault = ["--option", f"address={bao.address}", "--option", "timeout=5", "--secret-stdin"]
    lab.cli("engines", "add", "HASHICORP_VAULT_KV_V2", "--id", "vault", *vault, input=WRONG["vault"] + "\n", code=3)
    lab.cli("engines", "add", "HASHICORP_VAULT_KV_V2", "--id", "vault", *vault, input=SECRETS["vault"] + "\n")
    az = ["--option", f"vault_url={azure.url}", "--option", f"tenant_id={azure.tenant_id}",
          "--option", "client_id=leak-app", "--option", f"ca_bundle={azure.ca_bundle}",
          "--option", f"authority_host={azure.url}", "--option", "retry_total=0", "--secret-stdin"]
    lab.cli("engines", "add", "AZURE_KEY_VAULT", "--id", "azure", *az, input=WRONG["azure"] + "\n", code=3)
    lab.cli("engines", "add", "AZURE_KEY_VAULT", "--id", "azure", *az, input=SECRETS["azure"] + "\n")

    # Keys on every engine, signatures, the known key imported under its passphrase.
    for engine in ("soft", "hsm", "kms", "sm", "vault", "azure"):
        lab.cli("keys", "create", "--engine", engine, "--algorithm", "ECDSA", "--size", "256", "--name", f"k-{engine}")
        lab.cli("keys", "sign", f"k-{engine}", "--algorithm", "ECDSA_SHA_256", input="message")
    lab.cli("keys", "import", str(key_file), "--name", "known", "--passphrase-stdin", input=WRONG["import"] + "\n",
            code=3)
    lab.cli("keys", "import", str(key_file), "--name", "known", "--passphrase-stdin", input=SECRETS["import"] + "\n")
    lab.cli("keys", "sign", "known", "--algorithm", "ECDSA_SHA_384", input="message")
    lab.cli("keys", "sign", "known", "--algorithm", "ECDSA_SHA_384", input="message", code=4, KMS_TUI_FAULT="1")
    # Wrong secrets offered to working engines: each is tried on the engine and refused (a failure
    # with the wrong secret in hand), and the right one stays.
    lab.cli("engines", "secret", "hsm", "--secret-stdin", input=WRONG["pin"] + "\n", code=3)
    lab.cli("keys", "sign", "k-hsm", "--algorithm", "ECDSA_SHA_256", input="m")
    lab.cli("engines", "secret", "vault", "--secret-stdin", input=WRONG["vault"] + "\n", code=3)
    lab.cli("keys", "sign", "k-vault", "--algorithm", "ECDSA_SHA_256", input="m")
    lab.cli("engines", "secret", "azure", "--secret-stdin", input=WRONG["azure"] + "\n", code=3)
    lab.cli("keys", "sign", "k-azure", "--algorithm", "ECDSA_SHA_256", input="m")
    lab.cli("sync", "--json")
    audit = lab.cli("audit", "list", "--limit", "100000", "--json").stdout
    lab.cli("audit", "verify")
    log = data / "kms-tui.log"
    assert "injected fault" in log.read_text() and "Traceback" in log.read_text()  # the traceback path ran

    # The service in process: errors raised with wrong secrets, and their tracebacks.
    service_text = []
    with Kms(tmp_path / "svc", credentials=CredentialStore(backend=MemoryKeyring())) as kms:
        attempts = [
            lambda: kms.engines.register("PKCS11", "hsm2", options={"module": MODULE, "token": "leak"},
                                        secret=WRONG["pin"]),
            lambda: kms.engines.register("HASHICORP_VAULT_KV_V2", "v2", options={"address": bao.address},
                                        secret=WRONG["vault"]),
            lambda: kms.keys.import_key(encrypted, "x", passphrase=WRONG["import"]),
        ]
        os.environ["SOFTHSM2_CONF"] = str(conf)
        for attempt in attempts:
            try:
                attempt()
            except Exception as exc:  # every failure's full text is scanned
                service_text.append("".join(traceback.format_exception(exc)) + repr(exc))
            else:
                pytest.fail("a wrong secret was accepted")

    sentinels = {f"{name} {k}": v for name, s in {**SECRETS, **{f"wrong {n}": w for n, w in WRONG.items()}}.items()
                 for k, v in encodings(s.encode()).items()}
    sentinels.update(key_sentinels(private))
    trace_files = [p for p in data.rglob("*") if p.is_file()]
    assert {p.name for p in trace_files} >= {"kms.db", "kms-tui.log"}
    trace_files += list((ROOT / "tests").rglob("__snapshots__/**/*")) + list((ROOT / "screenshots").rglob("*"))
    argv = [" ".join(a).encode() for a in lab.argv]
    argv += [" ".join(Path(f"/proc/{p.pid}/cmdline").read_bytes().decode().split("\0")).encode()
             for p in servers if p is not None and p.poll() is None]
    blobs = {"audit export": audit, "argv": b"\n".join(argv), "service errors": "\n".join(service_text).encode(),
             **{f"output {i}": out for i, out in enumerate(lab.outputs)}}
    planted = {"probe": b"x" + encrypted + SECRETS["pin"].encode().hex().encode()}
    assert scan([key_file], planted, sentinels)[2], "the scan finds a planted sentinel"
    files, n_bytes, hits = scan(trace_files, blobs, sentinels)
    report(request, f"secret leak scan: {files} files + {len(blobs)} outputs, {n_bytes} bytes, "
                    f"{len(sentinels)} sentinels, {len(lab.argv)} kms-tui processes: {len(hits)} hits")
    assert not hits, hits[:20]
    assert json.loads(audit)  # the export is the real one, not an empty answer
