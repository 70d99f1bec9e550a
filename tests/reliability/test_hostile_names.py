"""Hostile names, tags and filter text: stored literally, shown safely, searched harmlessly.

Names and tags carrying Rich markup, OSC/CSI escape sequences, C0/C1 controls,
bidi overrides and 10 000 characters go through the service into SQLite, come
back exactly (service and ``--json``), are escaped in CLI tables and in the TUI
(keys screen and key detail, no markup interpreted), and filter text made of SQL
metacharacters returns exactly the rows a plain substring search would.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.widgets import DataTable, Input

from kms_tui.app import KmsApp
from kms_tui.screens.key_detail import KeyDetailScreen
from kms_tui.service import Kms
from kms_tui.service.errors import KmsError
from kms_tui.text import safe_text
from store import CredentialStore, KeyQuery
from tests.cli.runner import InProcessCli, ProcessCli
from tests.memory_keyring import MemoryKeyring
from tests.pilot import screen_text, until
from tests.reliability.fixtures_hostile import HOSTILE_NAMES, count

# Characters an SQL string, a LIKE pattern or a shell would treat specially.
META = "'\"%_-;\\*?[]()=/ aAbB1\u202e\x1b"
PLAIN_NAMES = ("alpha", "al%pha", "al_pha", "o'brien", 'say "hi"', "back\\slash", "drop--table", "semi;colon")
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e", "\u2067", "\x08", "\x7f", "\r")


def public_pem() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def populate(kms: Kms) -> dict[str, list[str]]:
    """Public-key entries under hostile and SQL-ish names; {name: tags}."""
    made: dict[str, list[str]] = {}
    for i, name in enumerate(HOSTILE_NAMES):
        tags = [HOSTILE_NAMES[(i + 1) % len(HOSTILE_NAMES)][:200], f"t{i}[/]"]
        kms.keys.import_key(public_pem(), name, tags=tags, aliases=[f"alias-{i}\x1b[0m"],
                       metadata={"note": name[:100], "[b]k[/b]": "\x1b]8;;http://x\x07"})
        made[name] = tags
    for name in PLAIN_NAMES:
        kms.keys.import_key(public_pem(), name, tags=["%", "_"] if "%" in name else [])
        made[name] = ["%", "_"] if "%" in name else []
    return made


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One data dir with every hostile entry, shared by the read-only tests of this module."""
    data = tmp_path_factory.mktemp("hostile") / "data"
    kms = Kms(data, credentials=CredentialStore(backend=MemoryKeyring()))
    made = populate(kms)
    yield kms, made
    kms.close()


def expected(kms: Kms, text: str) -> set[str]:
    """What a plain, case-insensitive substring search over name, aliases and tags finds."""
    needle = text.strip().lower()
    if not needle:
        return {r.name for r in kms.keys.list()}
    return {r.name for r in kms.keys.list()
            if any(needle in part.lower() for part in (r.name, *r.aliases, *r.tags)) or r.key_id.startswith(needle)}


def test_names_tags_and_metadata_come_back_exactly(hostile):
    kms, made = hostile
    for name, tags in made.items():
        record = kms.keys.resolve(name)
        assert record.name == name and record.tags == tags
    record = kms.keys.resolve(HOSTILE_NAMES[0])
    assert record.metadata["[b]k[/b]"] == "\x1b]8;;http://x\x07"
    assert len(kms.keys.resolve(HOSTILE_NAMES[-1]).name) == 10_006


@pytest.mark.parametrize("bad", ["nul\x00name", "", "   ", "x" * 20_000])
def test_unstorable_names_are_refused_with_a_typed_error_and_nothing_is_lost(kms, bad):
    kms.keys.import_key(public_pem(), "kept")
    with pytest.raises(KmsError):
        kms.keys.import_key(public_pem(), bad)
    with pytest.raises(KmsError):
        kms.keys.rename("kept", bad)
    with pytest.raises(KmsError):
        kms.keys.add_tag("kept", bad)
    assert [r.name for r in kms.keys.list()] == ["kept"] and kms.keys.resolve("kept").tags == []


@settings(max_examples=250, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(text=st.text(alphabet=META, max_size=12) | st.sampled_from(PLAIN_NAMES + ("%", "_", "\\", "'", "--", ";")))
def test_filter_text_with_sql_metacharacters_finds_the_right_rows(hostile, text):
    kms, _ = hostile
    test_filter_text_with_sql_metacharacters_finds_the_right_rows.tried += 1
    assert {r.name for r in kms.keys.list(KeyQuery(text=text))} == expected(kms, text)
    assert kms.keys.count(KeyQuery(text=text)) == len(expected(kms, text))


test_filter_text_with_sql_metacharacters_finds_the_right_rows.tried = 0


@pytest.mark.parametrize("text", ["al\x00pha", "\x00", "a\x00", "'\x00--"])
def test_filter_text_with_nul_matches_nothing_and_raises_nothing(hostile, text):
    """No stored name holds NUL, so a filter with one finds nothing (not a truncated pattern's rows)."""
    kms, _ = hostile
    assert kms.keys.list(KeyQuery(text=text)) == []


@pytest.fixture(autouse=True)
def _filter_figures(request):
    before = test_filter_text_with_sql_metacharacters_finds_the_right_rows.tried
    yield
    tried = test_filter_text_with_sql_metacharacters_finds_the_right_rows.tried - before
    if tried:
        count(request, "hostile filter texts tried (each against every hostile entry)", tried)


# ---------------------------------------------------------------- CLI


def run_cli(data: Path, *args: str, process: bool = False) -> subprocess.CompletedProcess:
    """A command run in this process, or with ``process`` as the installed command (real argv and stdout)."""
    return (ProcessCli(None, data) if process else InProcessCli(data))(*args)


def test_cli_json_round_trips_and_filters_find_the_right_rows(hostile):
    kms, made = hostile
    listed = json.loads(run_cli(kms.data_dir, "keys", "list", "--json").stdout)
    assert {k["name"]: k["tags"] for k in listed} == made
    for text in ("'; DROP TABLE keys; --", "%", "_", "al\\", '"', "al%pha"):
        found = json.loads(run_cli(kms.data_dir, "keys", "list", "--filter", text, "--json").stdout)
        assert {k["name"] for k in found} == expected(kms, text), text
    assert len(json.loads(run_cli(kms.data_dir, "keys", "list", "--json").stdout)) == len(made)  # no table dropped


def test_cli_takes_hostile_names_in_argv_and_tables_escape(hostile):
    kms, _ = hostile
    shown = json.loads(run_cli(kms.data_dir, "keys", "show", HOSTILE_NAMES[1], "--json", process=True).stdout)
    assert shown["name"] == HOSTILE_NAMES[1]
    for args in (("keys", "list"), ("keys", "show", HOSTILE_NAMES[1]), ("keys", "show", HOSTILE_NAMES[3])):
        out = run_cli(kms.data_dir, *args, process=True).stdout.decode()
        for raw in RAW_CONTROLS:
            assert raw not in out, (args, raw)
    table = run_cli(kms.data_dir, "keys", "list", process=True).stdout.decode()
    assert safe_text(HOSTILE_NAMES[0], 40) in table and safe_text(HOSTILE_NAMES[1], 40) in table


# ---------------------------------------------------------------- TUI


async def wait_rows(pilot, count: int) -> DataTable:
    table = pilot.app.screen.query_one("#keys-table", DataTable)
    await until(pilot, lambda: table.row_count == count, f"{count} rows")
    return table


def assert_literal_screen(app) -> str:
    text = screen_text(app)
    for raw in RAW_CONTROLS:
        assert raw not in text, repr(raw)
    return text


async def test_tui_keys_screen_and_detail_show_hostile_names_literally(hostile):
    kms, made = hostile
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        table = await wait_rows(pilot, len(made))
        cells = [table.get_row_at(i)[0] for i in range(table.row_count)]
        for cell in cells:
            assert not getattr(cell, "spans", None), cell  # no markup became a style
        plains = {getattr(c, "plain", str(c)) for c in cells}
        assert safe_text(HOSTILE_NAMES[0], 40) in plains
        text = assert_literal_screen(pilot.app)
        assert "[red]alarm[/red]" in text
        for name in HOSTILE_NAMES:
            pilot.app.screen.query_one("#filter", Input).value = name[:30]
            await wait_rows(pilot, len(expected(kms, name[:30])))
            record = kms.keys.resolve(name)
            await pilot.app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))
            await until(pilot, lambda: pilot.app.screen.record is not None, "the key detail")
            assert pilot.app.screen.record.name == name
            text = assert_literal_screen(pilot.app)
            assert safe_text(name)[:30] in text
            assert safe_text(name)[:20] in text.splitlines()[0]  # the header: escaped, markup not applied
            if name.startswith("[red]"):
                assert "[red]alarm[/red]" in text and "[link=http://evil]" in text
            await pilot.press("escape")
            await pilot.pause()
        assert not isinstance(pilot.app.screen, KeyDetailScreen)
