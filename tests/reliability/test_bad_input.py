"""Bad input never reads as a damaged database, and never ends in "Internal error".

Metadata SQLite's json() cannot read (NaN, Infinity), nested past 32 levels or
over 64 KiB is refused by the store, whatever the front end; the command line
refuses it, and numbers out of bounds, as usage errors (exit 2). "Damaged" is
said only when SQLite's own quick check says so.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from store import InvalidValue, KeyQuery
from store.validation import MAX_JSON_BYTES, MAX_JSON_DEPTH, check_json_value, parse_json_object
from tests.cli.runner import InProcessCli, ProcessCli


def run(data: Path, *args: str, code: int, process: bool = False) -> subprocess.CompletedProcess:
    """A command run in this process, or with ``process`` as the installed command."""
    proc = (ProcessCli(None, data) if process else InProcessCli(data))(*args, code=None)
    assert proc.returncode == code, (args, proc.returncode, proc.stderr.decode(errors="replace"))
    assert b"Internal error" not in proc.stderr and b"Traceback" not in proc.stderr
    return proc


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A data directory with a clear software engine (no keyring needed) and one key, made by
    the installed command."""
    path = tmp_path_factory.mktemp("bad-input") / "data"
    run(path, "engines", "add", "GOLANG", "--id", "clear", "--option", "encrypt=false", "--default", code=0,
        process=True)
    run(path, "keys", "create", "--algorithm", "Ed25519", "--size", "256", "--name", "k", code=0, process=True)
    return path


def nested(depth: int) -> str:
    return '{"a":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def create(data: Path, metadata: str, code: int, process: bool = False) -> subprocess.CompletedProcess:
    return run(data, "keys", "create", "--algorithm", "Ed25519", "--size", "256", "--name", "m",
               "--metadata", metadata, code=code, process=process)


@pytest.mark.parametrize("metadata", ['{"x": NaN}', '{"x": Infinity}', '{"x": [-Infinity]}', '{"x": 1e999}'])
def test_non_finite_metadata_is_a_usage_error_and_listing_still_works(data, metadata):
    proc = create(data, metadata, code=2)
    assert b"not a finite number" in proc.stderr
    run(data, "keys", "metadata", "k", "--set", metadata, code=2)
    listed = json.loads(run(data, "keys", "list", "--json", code=0).stdout)
    assert [k["name"] for k in listed] == ["k"] and listed[0]["metadata"] == {}


def test_deep_and_large_metadata_are_usage_errors(data):
    # A new process's stack, not this one's: this was a RecursionError.
    assert b"nested more than 32" in create(data, nested(5000), code=2, process=True).stderr
    assert b"nested more than 32" in create(data, nested(MAX_JSON_DEPTH + 1), code=2).stderr
    big = json.dumps({"pad": "x" * MAX_JSON_BYTES})
    assert b"larger than 65536 bytes" in create(data, big, code=2).stderr
    run(data, "keys", "metadata", "k", "--set", nested(MAX_JSON_DEPTH), code=0)  # the limit itself is fine
    run(data, "keys", "metadata", "k", "--set", "{}", code=0)


@pytest.mark.parametrize("args", [
    ("keys", "list", "--limit", "99999999999999999999999"),
    ("keys", "list", "--limit", "0"),
    ("keys", "list", "--limit", "-1"),
    ("keys", "list", "--size", "100000000000000000000000"),
    ("keys", "list", "--size", "1e3"),
    ("audit", "list", "--limit", "99999999999999999999999"),
    ("audit", "list", "--limit", "２"),  # not ASCII digits
    ("keys", "create", "--algorithm", "RSA", "--size", "100000000000000000000000", "--name", "x"),
    ("keys", "create", "--algorithm", "RSA", "--size", "65537", "--name", "x"),
])
def test_numbers_out_of_bounds_are_usage_errors(data, args):
    proc = run(data, *args, code=2)
    assert b"must be a whole number from" in proc.stderr


def test_numbers_in_bounds_still_work(data):
    assert len(json.loads(run(data, "keys", "list", "--limit", "1000000000", "--json", code=0).stdout)) == 1
    assert json.loads(run(data, "keys", "list", "--size", "65536", "--json", code=0).stdout) == []
    assert json.loads(run(data, "audit", "list", "--limit", "1", "--json", code=0).stdout)


# ---------------------------------------------------------------- every path: the store itself


def deep_value(depth: int):
    """An object nested ``depth`` levels deep (the object itself is level 1), built without recursion."""
    value: list = []
    for _ in range(depth - 2):
        value = [value]
    return {"a": value}


@pytest.mark.parametrize("bad", [
    {"x": float("nan")}, {"x": [float("inf")]}, {"x": {"y": -float("inf")}},
    deep_value(MAX_JSON_DEPTH + 1), deep_value(100_000), {"pad": "x" * MAX_JSON_BYTES}, {"x": "\ud800"},
])
def test_the_store_refuses_what_it_could_not_read_back(kms, bad):
    record = kms.keys.create("Ed25519", 256, "k")
    with pytest.raises(InvalidValue):
        kms.keys.set_metadata("k", bad)
    with pytest.raises(InvalidValue):
        kms.keys.create("Ed25519", 256, "k2", metadata=bad)
    assert [r.name for r in kms.keys.list()] == ["k"]
    assert kms.keys.resolve(record.key_id).metadata == {}
    check_json_value(deep_value(MAX_JSON_DEPTH))  # the bound itself is fine


def test_the_store_bounds_limits_and_sizes(kms):
    kms.keys.create("Ed25519", 256, "k")
    for query in (KeyQuery(limit=10**30), KeyQuery(offset=10**30), KeyQuery(size=10**30)):
        with pytest.raises(InvalidValue):
            kms.context.store.list_keys(query)
    with pytest.raises(InvalidValue):
        kms.context.store.audit.list(10**30)


def test_parse_json_object_names_what_is_wrong():
    for text, needle in (("[1]", "JSON object"), ("{", "not valid JSON"), ('{"a": NaN}', "NaN"),
                         (nested(10_000), "nested")):
        with pytest.raises(InvalidValue, match=needle):
            parse_json_object(text)


# ---------------------------------------------------------------- "damaged" only when SQLite says so


def test_a_value_sqlite_refuses_is_not_called_damage(tmp_path):
    data = tmp_path / "data"
    run(data, "engines", "add", "GOLANG", "--id", "clear", "--option", "encrypt=false", "--default", code=0)
    run(data, "keys", "create", "--algorithm", "Ed25519", "--size", "256", "--name", "k", code=0)
    conn = sqlite3.connect(data / "kms.db")
    with conn:
        conn.execute("""UPDATE keys SET metadata = '{"x":NaN}'""")  # as an earlier version let through
    conn.close()
    proc = run(data, "keys", "list", "--json", code=3)
    err = proc.stderr.decode()
    assert "damaged" not in err and "aside" not in err.lower()
    assert "quick check finds the file sound" in err and "keep the file" in err.lower()


def test_a_really_damaged_database_is_called_damaged(tmp_path):
    data = tmp_path / "data"
    run(data, "engines", "add", "GOLANG", "--id", "clear", "--option", "encrypt=false", "--default", code=0)
    for i in range(3):
        run(data, "keys", "create", "--algorithm", "Ed25519", "--size", "256", "--name", f"k{i}",
            "--metadata", json.dumps({"pad": "x" * 3000}), code=0)
    conn = sqlite3.connect(data / "kms.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'keys'").fetchone()[0]
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(data / "kms.db", "r+b") as fh:  # the keys table's root page overwritten
        fh.seek((root - 1) * page)
        fh.write(b"\xff" * page)
    err = run(data, "keys", "list", "--json", code=3).stderr.decode()
    assert "is damaged: SQLite's quick check reports" in err and "keep a copy" in err


# ---------------------------------------------------------------- the TUI's metadata editor


async def test_the_metadata_editor_refuses_what_the_store_would(tmp_path):
    from textual.app import App
    from textual.widgets import Button, Label, TextArea

    from kms_tui.dialogs.form import JsonDialog

    results: list = []

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(JsonDialog("Metadata", {}), results.append)

    async with Host().run_test(size=(100, 30)) as pilot:
        dialog = pilot.app.screen
        for text, needle in (('{"x": NaN}', "not a finite number"), (nested(5000), "nested more than 32")):
            dialog.query_one(TextArea).text = text
            dialog.query_one("#ok", Button).press()
            await pilot.pause()
            await pilot.pause()
            assert pilot.app.screen is dialog and results == []  # still open: nothing was returned
            assert needle in str(dialog.query_one("#form-error", Label).render())
        dialog.query_one(TextArea).text = '{"owner": "pki"}'
        dialog.query_one("#ok", Button).press()
        await pilot.pause()
    assert results == [{"owner": "pki"}]
