"""Data directory resolution and its owner-only permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from store import StoreError, ensure_private_dir, resolve_data_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_explicit_argument_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("KMS_TUI_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_data_dir(str(tmp_path / "s")) == tmp_path / "s"


def test_env_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KMS_TUI_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("KMS_TUI_DATA_DIR")
    assert resolve_data_dir(None) == tmp_path / "xdg" / "kms-tui"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir(None) == tmp_path / "home" / ".local" / "share" / "kms-tui"


def test_empty_or_relative_values_are_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KMS_TUI_DATA_DIR", "")
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")  # the XDG spec says: ignore it
    assert resolve_data_dir(None) == tmp_path / "home" / ".local" / "share" / "kms-tui"


def test_private_dir_is_created_0700_despite_a_permissive_umask(tmp_path):
    old = os.umask(0o000)
    try:
        created = ensure_private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    assert created == tmp_path / "a" / "b"
    assert mode(created) == 0o700


def test_existing_dir_is_tightened(tmp_path):
    loose = tmp_path / "loose"
    loose.mkdir()
    os.chmod(loose, 0o755)
    ensure_private_dir(loose)
    assert mode(loose) == 0o700


def test_a_file_in_the_way_is_a_store_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a directory") as err:
        ensure_private_dir(tmp_path / "file")
    assert err.value.hint
