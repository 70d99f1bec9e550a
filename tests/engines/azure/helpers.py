"""What the Azure Key Vault tests share: principals of the test vault and engine options for it.

The secrets carry a sentinel so tests can prove they never reach an error, a log or a file.
"""

from __future__ import annotations

from pathlib import Path

from tests.azure_kv_server import AzureKeyVaultServer

APP, SECRET = "kms-tui-app", "app-secret-SENTINEL-3f9c"
READER, READER_SECRET = "reader-app", "reader-secret-SENTINEL-77aa"
SENTINEL = "SENTINEL"


def add_principals(server: AzureKeyVaultServer) -> None:
    """A full-rights principal and a read-only one."""
    server.add_principal(APP, secret=SECRET)
    server.add_principal(READER, secret=READER_SECRET, permissions={"get", "list"})


def start_server(directory: Path, **kwargs) -> AzureKeyVaultServer:
    """A started test vault with the two principals."""
    server = AzureKeyVaultServer(directory, **kwargs)
    add_principals(server)
    return server.start()


def fresh_vault(server: AzureKeyVaultServer, *, page_size: int = 25) -> AzureKeyVaultServer:
    """``server`` emptied (keys, principals, tokens, calls) with the two principals again, listening."""
    server.reset(page_size=page_size)
    add_principals(server)
    if not server.running:  # a test that stopped it ended early
        server.start()
    return server


def engine_options(server: AzureKeyVaultServer, **extra: str) -> dict[str, str]:
    """Options of an engine that signs in to the test vault's own authority over its TLS."""
    options = {
        "vault_url": server.url,
        "tenant_id": server.tenant_id,
        "client_id": APP,
        "ca_bundle": str(server.ca_bundle),
        "authority_host": server.url,
        "retry_total": "0",  # a refused connection fails at once instead of after back-offs
        "read_timeout": "20",
    }
    options.update(extra)
    return options
