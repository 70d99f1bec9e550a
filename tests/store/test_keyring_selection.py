"""Which keyring backend a CredentialStore uses when none is given.

keyring's own choice when the user configured keyring (its environment variables or its
keyringrc.cfg); otherwise the Secret Service directly when its daemon answers, reading and
writing the very entries keyring's Secret Service backend does; keyring's discovery only
when there is no Secret Service, its result refused like any other when it is keyrings.alt.
"""

from __future__ import annotations

import secrets
import subprocess
import sys

import keyring
import pytest

from store import CredentialStore, CredentialsUnavailable
from store import credentials as C
from store import secret_service as S

SECRET = "selection-Passphrase-42"


@pytest.fixture
def unconfigured(monkeypatch, tmp_path):
    """No keyring configuration: no variables, empty config and data roots."""
    for name in ("PYTHON_KEYRING_BACKEND", "KEYRING_PROPERTY_SCHEME", "KEYRING_PROPERTY_PREFERRED_COLLECTION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    return tmp_path


@pytest.fixture
def discovery(monkeypatch, dict_keyring):
    """keyring's discovery, replaced: it answers ``dict_keyring`` and counts its calls."""
    calls: list[int] = []

    def get_keyring():
        calls.append(1)
        return dict_keyring

    monkeypatch.setattr(keyring, "get_keyring", get_keyring)
    return calls


def no_secret_service_expected():
    raise AssertionError("the Secret Service was asked although keyring is configured")


@pytest.mark.parametrize("variable", ["PYTHON_KEYRING_BACKEND", "KEYRING_PROPERTY_PREFERRED_COLLECTION"])
def test_a_keyring_variable_leaves_the_choice_to_keyring(unconfigured, discovery, dict_keyring, monkeypatch,
                                                         variable):
    monkeypatch.setenv(variable, "tests.memory_keyring.MemoryKeyring")
    monkeypatch.setattr(S, "available", no_secret_service_expected)
    assert C.default_backend() is dict_keyring and discovery == [1]


@pytest.mark.parametrize("root", ["config", "share"])  # keyring's config root, and the one it used before
def test_a_keyring_config_file_leaves_the_choice_to_keyring(unconfigured, discovery, dict_keyring, monkeypatch,
                                                            root):
    config = unconfigured / root / "python_keyring"
    config.mkdir(parents=True)
    (config / "keyringrc.cfg").write_text("[backend]\ndefault-keyring=keyring.backends.null.Keyring\n")
    monkeypatch.setattr(S, "available", no_secret_service_expected)
    assert C.default_backend() is dict_keyring and discovery == [1]


def test_without_a_secret_service_keyring_discovers(unconfigured, discovery, dict_keyring, monkeypatch):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={unconfigured / 'no-bus'}")
    assert S.available() is None
    creds = CredentialStore(namespace=secrets.token_hex(4))
    creds.set("e", SECRET)
    assert creds.get("e") == SECRET and discovery == [1]


def test_discovery_yielding_keyrings_alt_is_still_refused(unconfigured, monkeypatch, keyring_class):
    class PlaintextKeyring(keyring_class):
        pass

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    plaintext = PlaintextKeyring()
    monkeypatch.setattr(S, "available", lambda: None)
    monkeypatch.setattr(keyring, "get_keyring", lambda: plaintext)
    creds = CredentialStore()
    with pytest.raises(CredentialsUnavailable, match="keyrings.alt"):
        creds.set("e", SECRET)
    assert plaintext.entries == {}


def _keyring_backend_call(env, code, *args):
    """A statement run with keyring's own Secret Service backend ``k`` in another process."""
    prelude = "import sys; from keyring.backends import SecretService; k = SecretService.Keyring(); "
    done = subprocess.run([sys.executable, "-c", prelude + code, *args], env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr[-1000:]
    return done.stdout.strip()


def test_the_secret_service_is_used_directly_and_shares_keyring_s_entries(unconfigured, secret_service, discovery,
                                                                          monkeypatch):
    for name in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(name, secret_service[name])
    from secretstorage import util

    def fallback(connection):
        raise AssertionError("the session was opened by secretstorage's fallback")

    monkeypatch.setattr(util, "open_session", fallback)  # reads open their own short-exponent session
    creds = CredentialStore(namespace=secrets.token_hex(8))
    creds.set("mine", SECRET)
    spare = creds._usable()._spare
    assert spare is not None  # the connection the Secret Service was found on...
    assert creds.get("mine") == SECRET
    assert creds._usable()._spare is None and spare.sock.fileno() == -1  # ...carried the first read, then closed
    assert isinstance(creds._usable(), S.SecretServiceKeyring) and discovery == []
    assert "SecretService" in creds.backend_name and creds.status()[0] is True
    # keyring's own backend reads what was written, and writes what is read.
    env = {**secret_service, "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring"}
    assert _keyring_backend_call(env, "print(k.get_password('kms-tui', sys.argv[1]))", creds.username("mine")) == SECRET
    _keyring_backend_call(env, "k.set_password('kms-tui', sys.argv[1], sys.argv[2])", creds.username("theirs"), "v-2")
    assert creds.get("theirs") == "v-2"
    assert creds.get("nobody") is None
    creds.delete("mine")
    creds.delete("theirs")
    assert creds.get("mine") is None and creds.get("theirs") is None


def test_a_secret_service_gone_after_the_choice_fails_as_keyring_s_own_backend_does(unconfigured, monkeypatch):
    from keyring.backends import SecretService

    said = []
    for address in (f"unix:path={unconfigured / 'gone'}", "nonsense:"):
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        for backend in (S.SecretServiceKeyring(), SecretService.Keyring()):
            with pytest.raises(CredentialsUnavailable) as err:
                CredentialStore(backend=backend, namespace="n").get("e")
            said.append((address, err.value.message, err.value.hint))
    assert said[0] == said[1] and said[2] == said[3], said


def test_the_short_exponent_session_agrees_with_secretstorage_s_own():
    from secretstorage.dhcrypto import Session

    mine, peer = S.short_exponent_session(), Session()  # the peer plays the Secret Service
    mine.set_server_public_key(peer.my_public_key)
    peer.set_server_public_key(mine.my_public_key)
    assert mine.aes_key == peer.aes_key and len(mine.aes_key) == 16 and mine.encrypted
    assert mine.my_private_key.bit_length() == 256
    assert mine.my_private_key != S.short_exponent_session().my_private_key


def test_a_session_the_service_refuses_is_opened_as_secretstorage_opens_it(monkeypatch):
    from secretstorage import util

    class Refusing:
        def __init__(self, *args):
            pass

        def call(self, *args):
            raise RuntimeError("org.freedesktop.DBus.Error.NotSupported")

    monkeypatch.setattr(util, "DBusAddressWrapper", Refusing)
    monkeypatch.setattr(util, "open_session", lambda connection: ("secretstorage's", connection))
    assert S.open_session("the connection") == ("secretstorage's", "the connection")
