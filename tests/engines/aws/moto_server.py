"""A real ``moto_server`` on 127.0.0.1 (a ``ProcessServer``: started, stopped, frozen, back on the same port).

Also what every AWS test needs around it: engines pointed at it, an IAM user it checks,
an environment free of the machine's own AWS configuration, a recorder of what a boto3
client sends (botocore's public event hooks, not a mock), and endpoints that are down.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import urllib.request
from pathlib import Path

from engines.aws.kms import AwsKmsEngine
from engines.aws.secrets_manager import AwsSecretsEngine
from tests.servers import ProcessServer

MOTO_SERVER = str(Path(sys.executable).with_name("moto_server"))
ACCESS_KEY_ID = "testing"
SECRET = "testing-secret"
# Environment variables that would let the machine's own AWS setup leak into a test.
AWS_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
           "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
           "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_RETRY_MODE",
           "AWS_MAX_ATTEMPTS", "AWS_CA_BUNDLE")


def hermetic_env(base: dict[str, str], tmp: Path) -> dict[str, str]:
    """``base`` without the machine's AWS settings: no config files, no instance metadata."""
    env = {k: v for k, v in base.items() if k not in AWS_ENV}
    env.update(AWS_CONFIG_FILE=str(tmp / "no-aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
               AWS_EC2_METADATA_DISABLED="true")
    return env


class MotoServer(ProcessServer):
    """One ``moto_server`` subprocess; its state lives in its memory and is lost when it stops."""

    name = "moto_server"

    def argv(self) -> list[str]:
        return [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(self.port)]

    def ready(self) -> bool:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):
            return True
        return False

    def post(self, path: str, body: bytes = b"") -> None:
        request = urllib.request.Request(f"{self.url}{path}", data=body, method="POST",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10):
            pass

    def reset(self) -> None:
        """Forget every key, secret and IAM object."""
        self.post("/moto-api/reset")

    def require_auth(self, on: bool) -> None:
        """Make moto check signatures and IAM policies (it accepts anything by default)."""
        self.post("/moto-api/reset-auth", b"0" if on else b"inf")

    def options(self, region: str = "us-east-1", **extra: str) -> dict[str, str]:
        """Options of an engine pointed at this server, with short timeouts."""
        return {"region": region, "access_key_id": ACCESS_KEY_ID, "endpoint_url": self.url,
                "connect_timeout": "2", "read_timeout": "15", "max_attempts": "2", **extra}

    def client(self, service: str, region: str = "us-east-1"):
        """A plain boto3 client, independent of the drivers, to set up and inspect the backend."""
        import boto3
        from botocore.config import Config

        return boto3.client(service, region_name=region, endpoint_url=self.url, aws_access_key_id=ACCESS_KEY_ID,
                            aws_secret_access_key=SECRET, config=Config(retries={"total_max_attempts": 1}))


class Sent:
    """Records the operations (and their parameters) a boto3 client sends."""

    def __init__(self, client):
        self.calls: list[tuple[str, dict]] = []
        self.headers: list[dict[str, str]] = []
        client.meta.events.register("provide-client-params", self._params)
        client.meta.events.register("before-send", self._send)

    def _params(self, params, model, **_):
        self.calls.append((model.name, dict(params)))

    def _send(self, request, **_):
        self.headers.append({k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()})

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def count(self, name: str) -> int:
        return self.names().count(name)

    def clear(self) -> None:
        self.calls.clear()
        self.headers.clear()


class Blackhole:
    """A TCP port that accepts connections and never answers: every read times out."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


def run_bounded(call, seconds: float):
    """Run ``call`` in a thread that must end within ``seconds``: (result, exception).

    A liveness guard for calls that have to give up on their own once the configured
    timeouts are spent (``seconds`` is that budget plus a wide margin); not a speed check.
    """
    box: dict = {}

    def target():
        try:
            box["result"] = call()
        except BaseException as exc:  # handed to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: the configured timeouts were not applied"
    return box.get("result"), box.get("error")


def kms_engine(server: MotoServer, engine_id: str = "aws-kms-test", secret: str | None = SECRET, **options):
    return AwsKmsEngine(engine_id, server.options(**options), secret)


def secrets_engine(server: MotoServer, engine_id: str = "aws-sm-test", secret: str | None = SECRET, **options):
    return AwsSecretsEngine(engine_id, server.options(**options), secret)


@contextlib.contextmanager
def iam_user(server: MotoServer, *actions: str):
    """An IAM user allowed only ``actions``, with moto checking signatures and policies meanwhile.

    Yields (access key id, secret access key); set up everything else before entering.
    """
    import json

    iam = server.client("iam")
    iam.create_user(UserName="operator")
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
    iam.put_user_policy(UserName="operator", PolicyName="kms-tui", PolicyDocument=json.dumps(policy))
    server.require_auth(True)
    try:
        yield key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        server.require_auth(False)
