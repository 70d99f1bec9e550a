"""Engines shared with Lamassu in the workstation: the checkbox of the registration form, the
proposal on a directory of Lamassu's files, and the engine shown as shared.

Lamassu's filesystem engine writes ``<directory>/<key id>`` holding a clear PEM ``PRIVATE KEY``
(lamassuiot/lamassuiot engines/crypto/filesystem/filesystem.go ``importKey``), so the form
proposes sharing a directory of such files, and a shared software engine never encrypts.
"""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from textual.widgets import Checkbox, DataTable, Input, Select

from engines.keys import key_id_of
from kms_tui.screens.engines import EnginesScreen
from tests.pilot import open_form, settle_view, submit, until, until_text
from tests.tui.conftest import UI_SHOWN, fixture_key

SHARED_TEXT = "shared: only what Lamassu can use is made here"


def lamassu_directory(root) -> str:
    """A directory holding one key file as Lamassu writes it (a fixed key: snapshots draw the same)."""
    directory = root / "lamassu-keys"
    directory.mkdir(mode=0o700)
    pem = fixture_key("p256.pem")
    key = serialization.load_pem_private_key(pem, None)
    clear = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    path = directory / key_id_of(key.public_key())
    path.write_bytes(clear)
    os.chmod(path, 0o600)
    return f"{UI_SHOWN}/lamassu-keys"


async def test_ticking_the_box_registers_a_clear_engine_without_a_passphrase(ui_kms, empty_app, memory_keyring,
                                                                             ui_root):
    async with empty_app.run_test(size=(100, 40)) as pilot:
        dialog = await open_form(pilot, "GOLANG")
        box = dialog.query_one("#opt-lamassu", Checkbox)
        encrypt = dialog.query_one("#opt-encrypt", Select)
        assert not box.value and encrypt.value == "true"
        dialog.query_one("#engine-id", Input).value = "fs"
        dialog.query_one("#opt-directory", Input).value = f"{UI_SHOWN}/new-keys"
        box.focus()
        await pilot.press("space")
        await until(pilot, lambda: box.value and encrypt.value == "false", "encrypt to follow the box")
        await pilot.press("space")
        await until(pilot, lambda: not box.value and encrypt.value == "true", "encryption back with the box cleared")
        assert "lamassu" not in dialog.form.options()
        await pilot.press("space")
        await until(pilot, lambda: box.value and encrypt.value == "false")
        assert dialog.form.options()["lamassu"] == "true"
        await submit(pilot, dialog)
        await until(pilot, lambda: isinstance(pilot.app.screen, EnginesScreen) and "fs" in pilot.app.screen.views)
        view = ui_kms.engines.get("fs")
        assert view.lamassu and view.record.config["encrypt"] == "false" and not view.record.has_secret
        assert ui_kms.context.credentials.username("fs") not in {user for _, user in memory_keyring.entries}


async def test_a_directory_of_lamassu_files_ticks_the_box(ui_root, empty_app):
    shown = lamassu_directory(ui_root)
    async with empty_app.run_test(size=(100, 40)) as pilot:
        dialog = await open_form(pilot, "GOLANG")
        dialog.query_one("#opt-directory", Input).value = f"{UI_SHOWN}/elsewhere"
        await pilot.pause()
        assert not dialog.query_one("#opt-lamassu", Checkbox).value
        dialog.query_one("#opt-directory", Input).value = shown
        await until(pilot, lambda: dialog.query_one("#opt-lamassu", Checkbox).value, "the box ticked")
        assert dialog.query_one("#opt-encrypt", Select).value == "false"
        assert dialog.form.options()["lamassu"] == "true"
        await until_text(pilot, "Lamassu key files")


def test_snapshot_register_form_proposes_lamassu(snap_compare, ui_root, empty_app):
    shown = lamassu_directory(ui_root)

    async def run_before(pilot):
        dialog = await open_form(pilot, "GOLANG")
        dialog.query_one("#engine-id", Input).value = "lamassu-fs"
        dialog.query_one("#opt-directory", Input).value = shown
        await until(pilot, lambda: dialog.query_one("#opt-lamassu", Checkbox).value, "the box ticked")
        await until_text(pilot, "Lamassu key files")
        await settle_view(pilot)

    assert snap_compare(empty_app, terminal_size=(80, 24), run_before=run_before)


@pytest.fixture
def shared_app(ui_kms, ui_root, empty_app):
    """The default engine and a software engine shared with Lamassu, on a directory of Lamassu's files."""
    lamassu_directory(ui_root)
    ui_kms.engines.register("GOLANG", "lamassu-fs", name="Lamassu key directory",
                            options={"directory": str(ui_root / "lamassu-keys"), "lamassu": "true"})
    return empty_app


async def test_the_engines_screen_shows_the_engine_as_shared(shared_app):
    async with shared_app.run_test(size=(100, 40)) as pilot:
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(pilot.app.screen, EnginesScreen) and len(pilot.app.screen.views) == 2)
        screen = pilot.app.screen
        await until_text(pilot, "1 shared with Lamassu")
        table = screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index("golang-default"))
        await pilot.pause()
        assert SHARED_TEXT not in str(screen.query_one("#engine-info").render())
        table.move_cursor(row=table.get_row_index("lamassu-fs"))
        await until_text(pilot, SHARED_TEXT)


def test_snapshot_engines_shared_detail(snap_compare, shared_app):
    async def run_before(pilot):
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(pilot.app.screen, EnginesScreen) and len(pilot.app.screen.views) == 2
                    and all(pilot.app.screen.checks.get(i) is not None for i in pilot.app.screen.views))
        table = pilot.app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index("lamassu-fs"))
        await until_text(pilot, SHARED_TEXT)
        await settle_view(pilot)

    assert snap_compare(shared_app, terminal_size=(80, 24), run_before=run_before)
