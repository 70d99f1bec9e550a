"""Fixtures shared by every test layer: a temporary data dir, an in-memory keyring, a Kms."""

from __future__ import annotations

import pytest
from keyring.backend import KeyringBackend

from kms_tui.service import Kms
from store import CredentialStore


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps entries in a dict (unit tests only)."""

    priority = 1

    def __init__(self):
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.entries:
            raise PasswordDeleteError(username)
        del self.entries[(service, username)]


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def kms(data_dir, memory_keyring):
    with Kms(data_dir, credentials=CredentialStore(backend=memory_keyring)) as service:
        yield service
