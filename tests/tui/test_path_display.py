"""How the app shows paths (``~`` for home by default) and reads typed ones back (pure unit tests)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kms_tui.path_display import PathDisplay
from kms_tui.wizards import commands as C


def test_home_is_shown_as_a_tilde_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    paths = PathDisplay()
    assert paths.path(tmp_path / "data" / "keys") == "~/data/keys"
    assert paths.path(tmp_path) == "~"
    assert paths.path("/srv/kms/keys") == "/srv/kms/keys"
    assert paths.path(f"{tmp_path}-other/keys") == f"{tmp_path}-other/keys"  # a sibling is not under home


def test_aliases_in_messages_only_where_a_path_starts(tmp_path):
    real = tmp_path / "ui"
    paths = PathDisplay({real: "/shown"})
    assert paths.text(f"The key directory {real}/data/keys cannot be created") == \
        "The key directory /shown/data/keys cannot be created"
    assert paths.text(f"'{real}/x.sig' exists; '{real}' too.") == "'/shown/x.sig' exists; '/shown' too."
    assert paths.text(f"{real}-2/keys and https://host{real}/x") == f"{real}-2/keys and https://host{real}/x"


def test_the_longest_alias_wins_and_the_real_path_counts_too(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    paths = PathDisplay({tmp_path: "/outer", tmp_path / "link" / "in": "/inner"})
    assert paths.path(tmp_path / "link" / "in" / "k.pem") == "/inner/k.pem"
    assert paths.path(tmp_path / "target" / "in" / "k.pem") == "/inner/k.pem"  # the link's real path
    assert paths.path(tmp_path / "other") == "/outer/other"


def test_typed_shown_paths_read_back_as_the_real_ones(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    home = PathDisplay()
    assert home.real("~/keys/a.pem") == f"{tmp_path}/keys/a.pem"
    assert home.real("~") == str(tmp_path)
    assert home.real("~weird/name") == "~weird/name"  # not the alias: left as typed
    assert home.real("relative/a.pem") == "relative/a.pem"
    aliased = PathDisplay({tmp_path / "ui": "/tmp/shown"})
    assert aliased.real("/tmp/shown/data/k") == f"{tmp_path}/ui/data/k"
    assert aliased.real("/tmp/shown-2/k") == "/tmp/shown-2/k"
    for real in (f"{tmp_path}/ui/x", "/etc/hosts"):
        assert aliased.real(aliased.path(real)) == real


def test_commands_show_aliases_and_stay_one_shell_word_each(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    home = PathDisplay()
    command = C.import_command(f"{tmp_path}/my keys/a'b.pem", "k", "golang-default", data_dir=str(tmp_path / "d"))
    shown = command.shown(home)
    assert shown.startswith("kms-tui --data-dir ~/d keys import ~/'my keys/a'\"'\"'b.pem'")
    env = {"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
    words = subprocess.run(["bash", "-c", f"set -- {shown}; printf '%s\\0' \"$@\""], env=env, check=True,
                           capture_output=True).stdout.decode().split("\0")[:-1]
    assert words == command.argv  # pasted into a shell, the shown command runs with the real paths
    assert command.shown(PathDisplay({})) == command.text
    other = PathDisplay({Path("/srv/x"): "/shown dir"})
    assert C.shown_word("/srv/x/a b", other) == "'/shown dir'/'a b'"
