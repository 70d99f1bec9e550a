"""The HTTP layer of the test Key Vault: TLS, routing, the bearer challenge, permissions.

Routes (query ``api-version`` required on vault calls, any value accepted)::

    GET    /{tenant}/v2.0/.well-known/openid-configuration      authority (identity.py)
    POST   /{tenant}/oauth2/v2.0/token
    POST   /keys/{name}/create            PUT /keys/{name} (import)
    GET    /keys                          (paged: maxresults, $skiptoken, nextLink)
    GET    /keys/{name}[/{version}]       PATCH /keys/{name}[/{version}]
    POST   /keys/{name}/{version}/sign    POST /keys/{name}/{version}/verify
    DELETE /keys/{name}                   GET|DELETE /deletedkeys/{name}
    POST   /deletedkeys/{name}/recover

A vault call without a token gets 401 with the ``WWW-Authenticate`` Bearer challenge; an
unknown or expired token gets 401 too; a token whose principal lacks the operation's
permission gets 403 Forbidden.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from .errors import VaultError, bad

MAX_BODY = 1 << 20
_SEG = r"([^/]+)"
# (method, path pattern, vault handler name, permission)
ROUTES = [
    ("GET", r"/keys/?", "list_keys", "list"),
    ("POST", rf"/keys/{_SEG}/create", "create", "create"),
    ("PUT", rf"/keys/{_SEG}", "import_key", "import"),
    ("POST", rf"/keys/{_SEG}/([^/]*)/sign", "sign", "sign"),
    ("POST", rf"/keys/{_SEG}/([^/]*)/verify", "verify", "verify"),
    ("GET", rf"/keys/{_SEG}(?:/([^/]*))?/?", "get", "get"),
    ("PATCH", rf"/keys/{_SEG}(?:/([^/]*))?/?", "update", "update"),
    ("DELETE", rf"/keys/{_SEG}/?", "delete", "delete"),
    ("GET", rf"/deletedkeys/{_SEG}/?", "get_deleted", "get"),
    ("DELETE", rf"/deletedkeys/{_SEG}/?", "purge", "purge"),
    ("POST", rf"/deletedkeys/{_SEG}/recover", "recover", "recover"),
]


class KeyVaultHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    timeout = 30  # an idle kept-alive connection is closed after this

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        # Headers and body go out as two writes; without this, Nagle + delayed ACK add 40 ms per call.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request.do_handshake()  # here, in the connection's thread, not in the accept loop
        super().setup()
        self.server.track(self.request, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.request, False)

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
        pass  # the test output stays clean; ``server.calls`` keeps what tests need

    # --- plumbing ----------------------------------------------------------

    def _send(self, status: int, body: dict | None = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, exc: VaultError, headers: dict[str, str] | None = None) -> None:
        self._send(exc.status, {"error": {"code": exc.code, "message": exc.message}}, headers)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise bad("The request body is too large.")
        return self.rfile.read(length) if length else b""

    def _json(self, raw: bytes) -> dict:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise bad("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise bad("The request body must be a JSON object.")
        return body

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # --- dispatch ----------------------------------------------------------

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.server.calls.append((self.command, url.path))
        try:
            raw = self._body()
            if self._identity(url.path, raw):
                return
            if not self._authorized(url.path):
                return
            if "api-version" not in query:
                raise bad("The 'api-version' query parameter is missing.")
            self._vault(url.path, query, raw)
        except VaultError as exc:
            self._error(exc)

    def _identity(self, path: str, raw: bytes) -> bool:
        directory, base = self.server.directory, self.server.base_url
        match = re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", path)
        if match and self.command == "GET":
            self._send(*directory.openid_configuration(base, match.group(1)))
            return True
        match = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", path)
        if match and self.command == "POST":
            form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            self._send(*directory.token(f"{base}{path}", match.group(1), form))
            return True
        return False

    def _authorized(self, path: str) -> bool:
        challenge = {
            "WWW-Authenticate": f'Bearer authorization="https://login.microsoftonline.com/'
                                f'{self.server.directory.tenant_id}", resource="https://vault.azure.net"'
        }
        auth = self.headers.get("Authorization", "")
        if not auth:
            self._error(VaultError(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."), challenge)
            return False
        scheme, _, token = auth.partition(" ")
        principal = self.server.directory.principal_for(token.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            self._error(VaultError(401, "Unauthorized", "The access token is invalid or has expired."), challenge)
            return False
        self.principal = principal
        return True

    def _vault(self, path: str, query: dict[str, str], raw: bytes) -> None:
        vault = self.server.vault
        for method, pattern, handler, permission in ROUTES:
            match = re.fullmatch(pattern, path)
            if method != self.command or not match:
                continue
            if permission not in self.principal.permissions:
                raise VaultError(
                    403, "Forbidden",
                    f"The user, group or application 'appid={self.principal.client_id}' does not have keys "
                    f"{permission} permission on key vault 'kms-tui-test'. For help resolving this issue, "
                    "please see https://go.microsoft.com/fwlink/?linkid=2125287",
                )
            args = [g or "" for g in match.groups()]
            if handler == "list_keys":
                self._list(query)
            elif handler in ("purge",):
                vault.purge(*args)
                self._send(204)
            elif handler in ("create", "import_key", "update", "sign", "verify"):
                self._send(200, getattr(vault, handler)(*args, self._json(raw)))
            else:
                self._send(200, getattr(vault, handler)(*args))
            return
        raise VaultError(404, "NotFound", f"No operation {self.command} {path[:100]}.")

    def _list(self, query: dict[str, str]) -> None:
        try:
            maxresults = int(query["maxresults"]) if "maxresults" in query else None
            token = query.get("$skiptoken")
            offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except ValueError:
            raise bad("maxresults or $skiptoken is invalid.") from None
        items, following = self.server.vault.list(maxresults, offset)
        body: dict = {"value": items, "nextLink": None}
        if following is not None:
            params = {"api-version": query["api-version"],
                      "$skiptoken": base64.urlsafe_b64encode(str(following).encode()).decode()}
            if maxresults is not None:
                params["maxresults"] = str(maxresults)
            body["nextLink"] = f"{self.server.base_url}/keys?{urlencode(params)}"
        self._send(200, body)


class KeyVaultHttpServer(ThreadingHTTPServer):
    """Tracks open connections, so stopping the server really cuts its clients off."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, context: ssl.SSLContext, vault, directory):
        super().__init__(address, KeyVaultHandler)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.vault, self.directory = vault, directory
        self.base_url = f"https://127.0.0.1:{self.server_address[1]}"
        self.calls: list[tuple[str, str]] = []
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def track(self, sock: socket.socket, is_open: bool) -> None:
        with self._open_lock:
            (self._open.add if is_open else self._open.discard)(sock)

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up mid-request (or a test that stops us) is not news

    def cut_connections(self) -> None:
        with self._open_lock:
            open_now, self._open = list(self._open), set()
        for sock in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
