"""A test-owned HTTPS server that follows the Azure Key Vault REST API, with real crypto.

No Key Vault emulator runs on this machine, so the tests own one: stdlib
``ThreadingHTTPServer`` + ``ssl`` with a self-signed certificate for 127.0.0.1, keys
made and used with ``cryptography``, and the Entra ID token endpoint a real
``azure-identity`` credential calls. The real ``azure-keyvault-keys`` SDK talks to it.

    with AzureKeyVaultServer(tmp_path) as server:
        server.add_principal("app-id", secret="...")
        KeyClient(server.url, ClientSecretCredential(server.tenant_id, "app-id", "...",
                  authority=server.url, disable_instance_discovery=True,
                  connection_verify=str(server.ca_bundle)),
                  verify_challenge_resource=False, connection_verify=str(server.ca_bundle))

Modules: ``server`` (HTTP, challenge, permissions), ``vault`` (keys and crypto),
``identity`` (principals and tokens), ``jwk`` (encodings), ``certs`` (certificates).
State lives in this object, not in the HTTP server, so ``stop()`` then ``start()`` on
the same port brings the same vault back, as a restarted service would; ``reset()`` empties
it (a fresh vault on the same server). Its life cycle is ``tests.servers.LocalServer``'s.

Where it differs from the real service (tests must not rely on these): one host:port is
both the vault and the Entra ID authority; access tokens are opaque strings, not JWTs;
permissions are an access-policy-like set of key operations per principal (no RBAC, no
per-key scope); delete, recover and purge complete at once (Azure takes seconds, which
the SDK pollers absorb); HSM key types are accepted without a Premium SKU check; only
RSA 2048/3072/4096 and EC P-256/P-384/P-521 exist (no oct, no P-256K, no encrypt/wrap,
backup/restore, rotation or deleted-key listing); error messages paraphrase Azure's.
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path

from tests.servers import LocalServer

from .certs import ClientCertificate, make_client_certificate, make_tls_files
from .identity import ALL_PERMISSIONS, Directory, Principal
from .server import KeyVaultHttpServer
from .vault import Vault

DEFAULT_TENANT = "8a0b7d4e-5f1c-4e2a-9b3d-6c7e8f901234"

__all__ = ["ALL_PERMISSIONS", "AzureKeyVaultServer", "ClientCertificate", "DEFAULT_TENANT", "Principal"]


class AzureKeyVaultServer(LocalServer):
    """The vault and its authority, served from a thread of the test process."""

    name = "azure-key-vault"
    scheme = "https"

    def __init__(self, directory: Path, *, tenant_id: str = DEFAULT_TENANT, page_size: int = 25):
        super().__init__(directory)
        self.tls = make_tls_files(self.directory / "tls")
        self.vault = Vault(page_size=page_size)
        self.identity = Directory(tenant_id)
        self._httpd: KeyVaultHttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def tenant_id(self) -> str:
        return self.identity.tenant_id

    @property
    def ca_bundle(self) -> Path:
        return self.tls.cert_path

    @property
    def calls(self) -> list[tuple[str, str]]:
        """(method, path) of every request since the last start."""
        return self._httpd.calls if self._httpd else []

    def add_principal(self, client_id: str, *, secret: str | None = None,
                      certificate: ClientCertificate | None = None,
                      permissions=ALL_PERMISSIONS) -> Principal:
        return self.identity.add(Principal(client_id, secret, certificate.certificate if certificate else None,
                                           frozenset(permissions)))

    def client_certificate(self, client_id: str) -> ClientCertificate:
        return make_client_certificate(self.directory / "principals", client_id)

    def reset(self, *, page_size: int = 25) -> None:
        """An empty vault with no principal and no token, as if just made (on the same port)."""
        self.vault.reset(page_size)
        self.identity.reset()
        if self._httpd is not None:
            self._httpd.calls.clear()

    # --- life cycle ----------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def _launch(self) -> None:
        """Listen on 127.0.0.1 (the same port again after a stop)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert_path, self.tls.key_path)
        self._httpd = KeyVaultHttpServer(("127.0.0.1", self.port), context, self.vault, self.identity)
        self.vault.base_url = self.url
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="azure-kv-test-server",
                                        daemon=True)
        self._thread.start()

    def ready(self) -> bool:
        return self._httpd is not None  # listening since it was made; the thread serves the backlog

    def _halt(self) -> None:
        """Stop listening and cut every open connection, as a crashed service would."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.cut_connections()
        self._httpd.server_close()
        self._thread.join(10)
        self._httpd = self._thread = None
