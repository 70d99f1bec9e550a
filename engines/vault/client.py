"""The connection behind a Vault KV v2 engine: the hvac client, login, the mount check, every call.

``VaultSession`` owns one hvac client. Every call goes through ``call``, which logs in
when needed (AppRole or Kubernetes; a token is used as given), checks once that the mount
is a KV v2 engine, serialises requests (an hvac client is one ``requests`` session), and
turns every hvac or ``requests`` exception into a typed ``KmsError`` with a sentence an
operator can act on. A 403 is ambiguous in Vault (a dead token and a policy that forbids a
path both give it), so it is settled by asking Vault about the token (``lookup-self``).
A login token that died (expired AppRole or Kubernetes token) is replaced by logging in
once more; a configured token that died is reported. Secrets never reach a message.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from .. import errors as E
from .errors import (
    VaultLoginFailed,
    VaultMountMissing,
    VaultPermissionDenied,
    VaultTokenRejected,
    transport_error,
    vault_says,
)
from .options import DEFAULT_JWT_PATH

if TYPE_CHECKING:
    from hvac import Client  # hvac ships no types: its client and answers are Any

T = TypeVar("T")


class VaultSession:
    """One logged-in hvac client for one engine; thread-safe through one lock."""

    def __init__(self, engine_id: str, options: dict[str, str], secret: str | None):
        self.engine_id = engine_id
        self.address = options["address"]
        self.mount = options["mount"]
        self.auth = options.get("auth", "token")
        self.timeout = float(options.get("timeout", "10"))
        self._options = options
        self._secret = secret
        self._lock = threading.RLock()
        self._client: Client | None = None
        self._ready = False

    def __repr__(self) -> str:
        return f"VaultSession({self.engine_id!r}, {self.address!r}, auth={self.auth!r})"

    # --- client and login ------------------------------------------------

    def _make_client(self) -> Client:
        import hvac

        verify: bool | str = True
        ca_bundle = self._options.get("ca_bundle")
        if ca_bundle:
            verify = os.path.abspath(os.path.expanduser(ca_bundle))
            if not os.path.exists(verify):
                raise E.EngineConfigError(f"The CA bundle {verify} of engine {self.engine_id!r} does not exist.")
        # The token is always passed: hvac would otherwise read VAULT_TOKEN or ~/.vault-token.
        token = self._secret if self.auth == "token" else ""
        return hvac.Client(url=self.address, token=token, verify=verify, timeout=self.timeout,
                           namespace=self._options.get("namespace") or None)

    def _login(self, client: Client) -> None:
        import hvac.exceptions as HE

        auth_mount = self._options.get("auth_mount") or self.auth
        try:
            if self.auth == "approle":
                client.auth.approle.login(role_id=self._options["role_id"], secret_id=self._secret,
                                          mount_point=auth_mount, use_token=True)
            else:
                jwt = self._read_jwt()
                client.auth.kubernetes.login(role=self._options["role"], jwt=jwt, mount_point=auth_mount,
                                             use_token=True)
        except (HE.InvalidRequest, HE.Forbidden, HE.Unauthorized, HE.InvalidPath) as exc:
            raise self._login_failed(auth_mount, vault_says(exc)) from None
        except E.KmsError:
            raise
        except Exception as exc:
            raise self._transport(exc, "log in to") from None

    def _login_failed(self, auth_mount: str, said: str) -> VaultLoginFailed:
        said = f" (Vault said: {said})" if said else ""
        if self.auth == "approle":
            return VaultLoginFailed(
                f"AppRole login of engine {self.engine_id!r} at auth/{auth_mount} was refused{said}.",
                hint="Check the role_id option and the secret id (secret ids expire or run out of uses); for a "
                     f"registered engine, set a new one with: kms-tui engines secret {self.engine_id} --secret-stdin",
            )
        return VaultLoginFailed(
            f"Kubernetes login of engine {self.engine_id!r} as role {self._options['role']!r} "
            f"at auth/{auth_mount} was refused{said}.",
            hint="Check the role's bound service account names and namespaces, and the jwt_path option.",
        )

    def _read_jwt(self) -> str:
        path = self._options.get("jwt_path") or DEFAULT_JWT_PATH
        try:
            with open(path, encoding="utf-8") as fh:
                jwt = fh.read(64 * 1024).strip()
        except OSError as exc:
            raise E.EngineConfigError(
                f"The service-account token {path} of engine {self.engine_id!r} cannot be read: {exc.strerror}."
            ) from None
        if not jwt:
            raise E.EngineConfigError(f"The service-account token file {path} of engine {self.engine_id!r} is empty.")
        return jwt

    def _preflight(self, client: Client) -> None:
        """Check once that the mount is KV version 2 (a v1 mount would take writes to a wrong path)."""
        import hvac.exceptions as HE

        try:
            answer = client.adapter.get(f"/v1/sys/internal/ui/mounts/{self.mount}")
        except HE.Forbidden:
            if self._token_dead(client):
                raise self._token_rejected() from None
            raise self._mount_missing() from None
        except (HE.InvalidPath, HE.UnsupportedOperation):
            return  # a server without the mount-info endpoint: the calls themselves will tell
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise E.EngineError(f"The server at {self.address} does not answer like Vault.")
        kind, version = data.get("type"), (data.get("options") or {}).get("version")
        if kind not in ("kv", "generic") or str(version) != "2":
            what = f"a KV version {version or 1} mount" if kind in ("kv", "generic") else f"a {kind} engine"
            raise E.EngineConfigError(
                f"Vault mount {self.mount!r} is {what}; engine {self.engine_id!r} needs a KV version 2 mount.",
                hint="Give the path of a KV v2 secrets engine with --option mount=...",
            )

    def _token_dead(self, client: Client) -> bool:
        """True when Vault refuses to describe the current token: it is invalid, expired or revoked."""
        import hvac.exceptions as HE

        if not client.token:
            return True
        try:
            client.auth.token.lookup_self()
        except HE.Forbidden:
            return True
        except Exception:
            return False  # cannot tell; the caller reports the original refusal
        return False

    def _token_rejected(self) -> VaultTokenRejected:
        return VaultTokenRejected(
            f"Vault rejected the token of engine {self.engine_id!r}: it is invalid, expired or revoked.",
            hint=f"Give a valid one (for a registered engine: kms-tui engines secret {self.engine_id} --secret-stdin).",
        )

    def _mount_missing(self) -> VaultMountMissing:
        return VaultMountMissing(
            f"Vault at {self.address} has no KV v2 mount named {self.mount!r} that engine "
            f"{self.engine_id!r} may use.",
            hint="Check the mount option (and namespace), or the token's policies.",
        )

    def _ensure_ready(self) -> Client:
        if self._client is None:
            self._client = self._make_client()
        client = self._client
        if not self._ready:
            if self.auth != "token" and not client.token:
                self._login(client)
            self._preflight(client)
            self._ready = True
        return client

    # --- calls -----------------------------------------------------------

    def call(self, fn: Callable[[Client], T], action: str, path: str, *,
             missing: Callable[[Exception], E.KmsError | None] | None = None,
             conflict: Callable[[], E.KmsError] | None = None) -> T | None:
        """``fn(client)`` with the engine logged in; every failure becomes a typed error.

        ``action`` and ``path`` make the sentence ("write", "secret/data/<id>");
        ``missing(exc)`` builds the error for a 404 (or returns None: the call then answers None),
        ``conflict`` the one for a failed check-and-set.
        """
        with self._lock:
            try:
                return self._call(fn, action, path, missing, conflict)
            except VaultTokenRejected:
                if self.auth == "token":
                    raise
            # The login token expired or was revoked: log in again, once.
            if self._client is not None:
                self._client.token = ""
            self._ready = False
            return self._call(fn, action, path, missing, conflict)

    def _call(self, fn: Callable[[Client], T], action: str, path: str,
              missing: Callable[[Exception], E.KmsError | None] | None,
              conflict: Callable[[], E.KmsError] | None) -> T | None:
        import hvac.exceptions as HE

        try:
            client = self._ensure_ready()
            return fn(client)
        except HE.Forbidden:
            if self._token_dead(self._client):
                raise self._token_rejected() from None
            raise VaultPermissionDenied(
                f"The Vault policies of engine {self.engine_id!r} do not allow it to {action} {path}.",
                hint="Ask the Vault administrator to grant it on that path, or change the mount or prefix option.",
            ) from None
        except HE.InvalidPath as exc:
            if "no handler for route" in vault_says(exc):
                raise self._mount_missing() from None
            if missing is not None:
                error = missing(exc)
                if error is None:
                    return None  # nothing there is an answer too (an empty folder)
                raise error from None
            raise E.EngineError(f"Vault found nothing to {action} at {path}.") from None
        except HE.InvalidRequest as exc:
            said = vault_says(exc)
            if conflict is not None and "check-and-set" in said:
                raise conflict() from None
            raise E.EngineError(f"Vault refused to {action} {path}: {said or 'bad request'}.") from None
        except E.KmsError:
            raise
        except Exception as exc:
            raise self._transport(exc, action, path) from None

    def _transport(self, exc: BaseException, action: str, path: str = "") -> E.KmsError:
        return transport_error(exc, self.engine_id, self.address, self.timeout, action, path)

    def close(self) -> None:
        with self._lock:
            client, self._client, self._ready = self._client, None, False
        if client is not None:
            try:
                client.adapter.close()
            except Exception:  # closing must not mask the caller's outcome
                pass
