"""A keyring backend for benchmark processes only: entries in a JSON file named by $KMS_TUI_BENCH_KEYRING.

Benchmarks start many short kms-tui processes on throwaway data directories
with throwaway secrets; they must not depend on (or fill) the desktop keyring.
Never used outside bench/.
"""

from __future__ import annotations

import json
import os

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class BenchKeyring(KeyringBackend):
    priority = -100  # never chosen by discovery

    def _path(self) -> str:
        return os.environ["KMS_TUI_BENCH_KEYRING"]

    def _load(self) -> dict[str, str]:
        try:
            with open(self._path()) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def _save(self, entries: dict[str, str]) -> None:
        fd = os.open(self._path(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(entries, f)

    def get_password(self, service, username):
        return self._load().get(f"{service}\x1f{username}")

    def set_password(self, service, username, password):
        entries = self._load()
        entries[f"{service}\x1f{username}"] = password
        self._save(entries)

    def delete_password(self, service, username):
        entries = self._load()
        if entries.pop(f"{service}\x1f{username}", None) is None:
            raise PasswordDeleteError(username)
        self._save(entries)
