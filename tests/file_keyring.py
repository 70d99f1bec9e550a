"""A keyring backend whose entries survive the process: for tests that SIGKILL processes.

A real Secret Service is what kms-tui uses, and most tests that need one use
gnome-keyring (``secret_service`` fixture). The kill tests fork hundreds of
processes and kill them at random points, some in the middle of a keyring call:
gnome-keyring-daemon does not survive clients vanishing mid-request (see
store/credentials.py), and a D-Bus round trip per call would not fit the tests'
time. This backend keeps what matters for them, that an entry written before a
kill is there after it and one being written is either old or new, by writing
one JSON file through an fsynced temporary file and an atomic rename.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = -100  # never picked by keyring's discovery; handed over explicitly

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)

    def entries(self) -> dict[str, str]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}

    def _write(self, entries: dict[str, str]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as fh:
            json.dump(entries, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def get_password(self, service, username):
        return self.entries().get(f"{service}|{username}")

    def set_password(self, service, username, password):
        self._write({**self.entries(), f"{service}|{username}": password})

    def delete_password(self, service, username):
        entries = self.entries()
        if entries.pop(f"{service}|{username}", None) is None:
            raise PasswordDeleteError(username)
        self._write(entries)
