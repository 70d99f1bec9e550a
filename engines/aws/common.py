"""What the AWS engines share: options, credentials, and one boto3 client per engine.

Credentials come from a named profile (nothing secret is stored here), or from an
access key id whose secret access key is the engine's keyring secret: either the plain
key, or a JSON object ``{"secret_access_key": "...", "session_token": "..."}`` for
temporary credentials. An optional role is assumed with STS and refreshed before it
expires. Every call has connect and read timeouts and a bounded number of attempts, so
an unreachable endpoint fails in seconds; every botocore exception is turned into a
typed ``KmsError`` (``errors``) at the driver boundary, without ever quoting a secret.

boto3 and botocore ship no types: their sessions, clients and configs are ``Any`` to the
type checker. Responses are ``dict[str, Any]`` here, read into typed values by the callers.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import errors as E
from ..base import OptionSpec
from .errors import ErrorCodes, clean, translate

if TYPE_CHECKING:
    from boto3 import Session
    from botocore.client import BaseClient
    from botocore.config import Config

AWS_OPTIONS = (
    OptionSpec("region", "AWS region, e.g. eu-west-1", required=True),
    OptionSpec("profile", "a named profile of the AWS config files (nothing secret is stored here)"),
    OptionSpec("access_key_id", "an access key id; its secret access key is kept in the keyring"),
    OptionSpec("role_arn", "an IAM role to assume, arn:aws:iam::ACCOUNT:role/NAME"),
    OptionSpec("endpoint_url", "a VPC endpoint or a local emulator (https://…; http:// only on loopback)"),
    OptionSpec("connect_timeout", "seconds to wait for a connection", default="5"),
    OptionSpec("read_timeout", "seconds to wait for an answer", default="30"),
    OptionSpec("max_attempts", "attempts per call, the first included (1-10)", default="3"),
)

# Matched whole (fullmatch), ASCII only.
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_PROFILE = re.compile(r"[\w.@+-]{1,64}", re.ASCII)
_ACCESS_KEY_ID = re.compile(r"[A-Za-z0-9]{3,128}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}", re.ASCII)

def validate_aws_options(options: dict[str, str], what: str) -> dict[str, str]:
    """Check the shared AWS options (already filled with defaults by ``check_options``)."""

    def bad(name: str, why: str) -> E.EngineConfigError:
        return E.EngineConfigError(f"Option {name!r} of {what} {why}.")

    if not _REGION.fullmatch(options["region"]):
        raise bad("region", f"is not an AWS region name (e.g. eu-west-1); got {clean(options['region'], 40)!r}")
    if options.get("profile") and options.get("access_key_id"):
        raise E.EngineConfigError(
            f"{what} takes either a profile or an access key id, not both.",
            hint="Drop one of the options profile, access_key_id.",
        )
    for name, pattern in (("profile", _PROFILE), ("access_key_id", _ACCESS_KEY_ID), ("role_arn", _ROLE_ARN)):
        if options.get(name) and not pattern.fullmatch(options[name]):
            raise bad(name, "is not well formed" + (" (arn:aws:iam::ACCOUNT:role/NAME)" if name == "role_arn" else ""))
    if options.get("endpoint_url"):
        _check_endpoint(options["endpoint_url"], bad)
    for name in ("connect_timeout", "read_timeout"):
        try:
            value = float(options[name])
        except ValueError:
            raise bad(name, "must be a number of seconds") from None
        if not 0 < value <= 600:
            raise bad(name, "must be between 0 and 600 seconds")
    if not options["max_attempts"].isdigit() or not 1 <= int(options["max_attempts"]) <= 10:
        raise bad("max_attempts", "must be a whole number from 1 to 10")
    return options


def _check_endpoint(url: str, bad: Callable[[str, str], E.EngineConfigError]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad("endpoint_url", "must be an http(s) URL with a host name")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise bad("endpoint_url", "must not carry a user name, password, query or fragment")
    if parts.scheme == "http":
        host = parts.hostname
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:  # requests and (for Secrets Manager) private keys would travel in clear
            raise bad("endpoint_url", "must use https:// unless it is a loopback address")


def parse_secret(secret: str | None) -> tuple[str | None, str | None]:
    """(secret access key, session token) from the plain key or the JSON form."""
    if not secret:
        return None, None
    text = secret.strip()
    if not text.startswith("{"):
        return text, None
    shape = E.EngineConfigError(
        "The engine secret looks like JSON but is not of the form "
        '{"secret_access_key": "...", "session_token": "..."} (session_token optional).'
    )
    try:
        data = json.loads(text)
    except ValueError:
        raise shape from None
    if (not isinstance(data, dict) or set(data) - {"secret_access_key", "session_token"}
            or not isinstance(data.get("secret_access_key"), str) or not data["secret_access_key"]
            or not isinstance(data.get("session_token", ""), str)):
        raise shape
    return data["secret_access_key"], data.get("session_token") or None


class AwsConnection:
    """One engine's boto3 client, made on first use; ``call`` and ``pages`` translate every error."""

    def __init__(self, display: str, service: str, engine_id: str, options: dict[str, str], secret: str | None):
        self.display, self.service, self.engine_id = display, service, engine_id
        self.options = options
        self.region = options["region"]
        self.connect_timeout = float(options["connect_timeout"])
        self.read_timeout = float(options["read_timeout"])
        self.attempts = int(options["max_attempts"])
        self._secret_key, self._token = parse_secret(secret) if options.get("access_key_id") else (None, None)
        if options.get("access_key_id") and not self._secret_key:
            raise E.EngineConfigError(
                f"Engine {engine_id!r} uses access key id {options['access_key_id']} and needs its secret access key.",
                hint=f"Set it with: kms-tui engines secret {engine_id} --secret-stdin",
            )
        self._lock = threading.Lock()
        self._client: BaseClient | None = None

    def __repr__(self) -> str:  # never the secret key or the token
        return f"AwsConnection({self.service!r}, engine={self.engine_id!r}, region={self.region!r})"

    @property
    def where(self) -> str:
        url = self._client.meta.endpoint_url if self._client is not None else self.options.get("endpoint_url")
        return f"{self.display} at {url or 'the ' + self.region + ' endpoint'} (region {self.region})"

    # --- client ------------------------------------------------------------

    def client(self) -> BaseClient:
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _config(self) -> Config:
        from botocore.config import Config

        return Config(
            region_name=self.region, connect_timeout=self.connect_timeout, read_timeout=self.read_timeout,
            retries={"total_max_attempts": self.attempts, "mode": "standard"}, user_agent_extra="kms-tui",
        )

    def _make_client(self) -> BaseClient:
        import boto3

        o = self.options
        if o.get("profile"):
            session = boto3.Session(profile_name=o["profile"], region_name=self.region)
        else:  # explicit keys, or the default chain (environment, instance or container role)
            session = boto3.Session(
                aws_access_key_id=o.get("access_key_id"), aws_secret_access_key=self._secret_key,
                aws_session_token=self._token, region_name=self.region,
            )
        if o.get("role_arn"):
            session = self._assume_role(session)
        return session.client(self.service, config=self._config(), endpoint_url=o.get("endpoint_url"))

    def _assume_role(self, base: Session) -> Session:
        import boto3
        import botocore.session
        from botocore.credentials import CredentialProvider, RefreshableCredentials

        url = self.options.get("endpoint_url")
        # A local emulator serves every service on one port; a VPC endpoint is for one service only,
        # and STS then follows botocore's own resolution (AWS_ENDPOINT_URL_STS, the profile's services).
        sts_url = url if url and urlsplit(url).scheme == "http" else None
        sts = base.client("sts", config=self._config(), endpoint_url=sts_url)
        session_name = re.sub(r"[^\w+=,.@-]", "-", f"kms-tui-{self.engine_id}", flags=re.ASCII)[:64]

        def refresh() -> dict[str, str]:
            creds = self.call_with(sts, "assume_role", f"assuming role {self.options['role_arn']}",
                                   RoleArn=self.options["role_arn"], RoleSessionName=session_name)["Credentials"]
            return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                    "token": creds["SessionToken"], "expiry_time": creds["Expiration"].isoformat()}

        class RoleProvider(CredentialProvider):  # type: ignore[misc]  # botocore is untyped: its base class is Any
            METHOD = "kms-tui-assume-role"

            def load(self) -> RefreshableCredentials:  # botocore refreshes these before they expire
                return RefreshableCredentials.create_from_metadata(refresh(), refresh, self.METHOD)

        core = botocore.session.get_session()
        core.get_component("credential_provider").insert_before("env", RoleProvider())
        return boto3.Session(botocore_session=core, region_name=self.region)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- calls ---------------------------------------------------------------

    def call(self, operation: str, doing: str, *, codes: ErrorCodes | None = None,
             **params: Any) -> dict[str, Any]:
        """``client.<operation>(**params)``; ``codes`` maps AWS error codes to the caller's own errors."""
        try:
            return self.call_with(self.client(), operation, doing, codes=codes, **params)
        except E.KmsError:
            raise
        except Exception as exc:  # client construction (profile, role) fails here too
            error = self.translate(exc, doing)
            if error is None:
                raise
            raise error from None

    def call_with(self, client: BaseClient, operation: str, doing: str, *, codes: ErrorCodes | None = None,
                  **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(client, operation)(**params)
            return response
        except Exception as exc:
            error = self.translate(exc, doing, codes)
            if error is None:
                raise
            raise error from None

    def pages(self, operation: str, doing: str, page_size: int, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a listing: one call per page, never one per item."""
        try:
            iterator = iter(self.client().get_paginator(operation).paginate(
                PaginationConfig={"PageSize": page_size}, **params))
            while True:
                try:
                    page: dict[str, Any] = next(iterator)
                except StopIteration:
                    return
                yield page
        except E.KmsError:
            raise
        except Exception as exc:
            error = self.translate(exc, doing)
            if error is None:
                raise
            raise error from None

    def translate(self, exc: BaseException, doing: str, codes: ErrorCodes | None = None) -> E.KmsError | None:
        return translate(self, exc, doing, codes)
