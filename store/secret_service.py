"""The Secret Service (gnome-keyring, KeePassXC, KWallet's bridge) as kms-tui's keyring, chosen without keyring's discovery.

``keyring`` finds its backend by loading every installed backend's entry point and
asking each whether it is usable; importing ``keyring`` at all costs more than a
one-shot ``kms-tui keys sign`` may spend. When the user has not configured keyring
(no ``PYTHON_KEYRING_BACKEND``, no ``KEYRING_PROPERTY_*``, no ``keyringrc.cfg``) and a
Secret Service answers on the session bus, ``SecretServiceKeyring`` is used directly:
it reads an entry with ``secretstorage`` alone, exactly as keyring's
``keyring.backends.SecretService.Keyring`` reads it (the default collection, the
``service`` and ``username`` attributes), and hands writes and deletions to that
backend itself. So entries written by either are the other's, and the error types
are keyring's (imported only on an error).
"""

from __future__ import annotations

import os
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

KEYRING_BACKEND = "keyring.backends.SecretService.Keyring"


def keyring_configured() -> bool:
    """True when the user chose a backend or its properties for keyring: then keyring's own choice holds."""
    if "PYTHON_KEYRING_BACKEND" in os.environ or any(k.startswith("KEYRING_PROPERTY_") for k in os.environ):
        return True
    if not sys.platform.startswith("linux"):
        return True  # keyring's config root is elsewhere there; let keyring read it
    home = Path.home()
    roots = (Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config"),  # keyring's config root
             Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share"))  # its former one
    return any((root / "python_keyring" / "keyringrc.cfg").exists() for root in roots)


def available() -> SecretServiceKeyring | None:
    """The Secret Service backend when a Secret Service daemon runs or can be activated on the session bus,
    the check keyring's discovery makes of it; None otherwise (no secretstorage, no bus, no daemon)."""
    try:
        import secretstorage

        if secretstorage.__version_tuple__ < (3, 2):
            return None
        connection = secretstorage.dbus_init()
    except Exception:
        return None
    try:
        if secretstorage.check_service_availability(connection):
            return SecretServiceKeyring(connection)  # the first read goes on this connection
    except Exception:  # noqa: S110 - no Secret Service: None below
        pass
    connection.close()
    return None


class SecretServiceKeyring:
    """keyring's Secret Service backend, its reads done without importing keyring (see the module docstring)."""

    name = "SecretService Keyring"

    def __init__(self, connection: Any = None) -> None:
        self._writer: Any = None
        # The connection ``available`` asked the bus on, handed to the first read and closed
        # by it: a one-shot command connects once. Later reads connect afresh.
        self._spare = connection

    def _keyring_backend(self) -> Any:
        if self._writer is None:
            from keyring.backends import SecretService

            backend: Any = SecretService.Keyring
            self._writer = backend()
        return self._writer

    def get_password(self, service: str, username: str) -> str | None:
        import secretstorage

        spare, self._spare = self._spare, None
        with closing(spare or secretstorage.dbus_init()) as connection:  # its errors escape as keyring's do
            try:
                collection = secretstorage.get_default_collection(connection)
            except secretstorage.exceptions.SecretStorageException as exc:
                from keyring.errors import InitError

                raise InitError(f"Failed to create the collection: {exc}.") from exc
            _unlocked(collection, "collection")
            for item in collection.search_items({"username": username, "service": service}):
                _unlocked(item, "item")
                item.session = open_session(connection)
                secret: bytes = item.get_secret()
                return secret.decode("utf-8")
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self._keyring_backend().set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        self._keyring_backend().delete_password(service, username)


def open_session(connection: Any) -> Any:
    """An encrypted session (dh-ietf1024-sha256-aes128-cbc-pkcs7) as ``secretstorage.util.open_session``
    opens it, with a 256-bit Diffie-Hellman exponent (see ``short_exponent_session``); secretstorage's
    own function, and its fallbacks, when that fails."""
    from secretstorage import util
    from secretstorage.defines import ALGORITHM_DH, SS_PATH

    session = short_exponent_session()
    try:
        (signature, value), path = util.DBusAddressWrapper(SS_PATH, util.SERVICE_IFACE, connection).call(
            "OpenSession", "sv", ALGORITHM_DH, ("ay", session.my_public_key.to_bytes(128, "big")))
        if signature != "ay":
            raise ValueError(signature)
        session.set_server_public_key(int.from_bytes(value, "big"))
    except Exception:  # refused (a plain-only service), or an answer not understood
        return util.open_session(connection)
    session.object_path = path
    return session


def short_exponent_session() -> Any:
    """secretstorage's Diffie-Hellman session with a 256-bit random private exponent instead of 1024 bits.

    The exchange runs in the 1024-bit MODP group of RFC 2409, whose strength (about 80 bits)
    bounds it whatever the exponent; RFC 3526 (section 8) sizes exponents at about twice the
    strength wanted, so 256 bits keep all of it. The two modular exponentiations in Python take
    a quarter of the time of 1024-bit ones (4 ms less per command here). The key derivation
    (HKDF-SHA256 of the shared secret) is secretstorage's own.
    """
    from secretstorage.dhcrypto import DH_PRIME_1024, Session

    session: Any = Session.__new__(Session)  # its __init__ would draw, and exponentiate, 1024 bits
    session.object_path = None
    session.aes_key = None
    session.encrypted = True
    session.my_private_key = int.from_bytes(os.urandom(32), "big") | 1 << 255
    session.my_public_key = pow(2, session.my_private_key, DH_PRIME_1024)
    return session


def _unlocked(thing: Any, what: str) -> None:
    """Unlock a locked collection or item (the daemon may prompt); keyring's KeyringLocked when it stays locked."""
    if thing.is_locked():
        thing.unlock()
        if thing.is_locked():  # the user dismissed the prompt
            from keyring.errors import KeyringLocked

            raise KeyringLocked(f"Failed to unlock the {what}!")
