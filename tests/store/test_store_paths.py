"""Data directory resolution and its owner-only permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from store import StoreError, UntrustedPath, ensure_private_dir, resolve_data_dir


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
    assert mode(tmp_path / "a") == 0o700  # a parent made here, too


def test_an_existing_readable_dir_keeps_its_mode(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    assert ensure_private_dir(shared) == shared
    assert mode(shared) == 0o755  # not ours to change; doctor reports it


@pytest.mark.parametrize("loose", [0o775, 0o757, 0o777, 0o720])
def test_an_existing_dir_others_can_write_is_refused_untouched(tmp_path, loose):
    target = tmp_path / "loose"
    target.mkdir()
    os.chmod(target, loose)
    with pytest.raises(UntrustedPath, match=f"writable by .*{loose:04o}") as err:
        ensure_private_dir(target)
    assert f"chmod 700 {target}" in err.value.hint
    assert mode(target) == loose


def test_a_dir_of_another_user_is_refused_untouched(tmp_path):
    target = tmp_path / "theirs"
    target.mkdir(mode=0o700)
    os.chown(target, 12345, 12345)
    with pytest.raises(UntrustedPath, match="another user") as err:
        ensure_private_dir(target)
    assert "chown" in err.value.hint
    assert os.stat(target).st_uid == 12345 and mode(target) == 0o700


def test_a_file_in_the_way_is_a_store_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a directory") as err:
        ensure_private_dir(tmp_path / "file")
    assert err.value.hint
