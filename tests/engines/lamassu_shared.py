"""Registering an engine marked as shared with Lamassu (``--option lamassu=true``), as each backend's tests do it.

``register_shared`` goes through the command line in this process (``engines add``, then
``engines show`` and ``engines list``, text and JSON), which goes through the service; it
returns the runner so a test can go on with the same data directory and keyring.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli.runner import InProcessCli, home_env

SHOWN = "Lamassu      shared: only what Lamassu can use is made here"


def register_shared(tmp_path: Path, engine_type: str, engine_id: str, options: dict[str, str],
                    secret: str | None = None) -> InProcessCli:
    """``engines add TYPE --option lamassu=true …``; checks the engine is shown as shared everywhere."""
    cli = InProcessCli(tmp_path / "data", env=home_env(tmp_path / "home"))
    argv = ["engines", "add", engine_type, "--id", engine_id, "--option", "lamassu=true"]
    for key, value in options.items():
        argv += ["--option", f"{key}={value}"]
    if secret is not None:
        argv.append("--secret-stdin")
    added = cli.json(*argv, input=f"{secret}\n" if secret is not None else None)
    assert added["lamassu"] is True and added["config"]["lamassu"] == "true", added
    assert cli.json("engines", "show", engine_id)["lamassu"] is True
    assert SHOWN in cli("engines", "show", engine_id).stdout.decode()
    assert "Lamassu      not shared" in cli("engines", "show", "golang-default").stdout.decode()
    lines = cli("engines", "list").stdout.decode().splitlines()
    assert lines[0].split() == ["DEF", "ID", "TYPE", "SL", "KEYS", "LAMASSU", "NAME"]
    rows = {name: next(line for line in lines[2:] if f" {name} " in line) for name in ("golang-default", engine_id)}
    listed = cli.json("engines", "list")
    assert {e["id"]: e["lamassu"] for e in listed} == {"golang-default": False, engine_id: True}
    assert " yes " in rows[engine_id] and " yes " not in rows["golang-default"], rows
    return cli


def refused(cli: InProcessCli, engine_type: str, options: dict[str, str], secret: str | None = None) -> str:
    """``engines add`` refused (exit 3, nothing recorded); its one stderr line."""
    argv = ["engines", "add", engine_type, "--id", "refused"]
    for key, value in options.items():
        argv += ["--option", f"{key}={value}"]
    if secret is not None:
        argv.append("--secret-stdin")
    before = cli.json("engines", "list")
    proc = cli(*argv, input=f"{secret}\n" if secret is not None else None, code=3)
    assert cli.json("engines", "list") == before
    return proc.stderr.decode()
