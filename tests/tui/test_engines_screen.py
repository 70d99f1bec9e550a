"""The engines screen, the register form and the sync dialog, driven with Pilot against software engines.

Results are checked through the service (``kms.engines.list()``, the keyring,
the database file), not only on screen. Snapshots cover every step at 80x24
and 120x40.
"""

from __future__ import annotations

import io
import os
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from rich.console import Console
from textual.widgets import Button, DataTable, Input, OptionList, Select, Static

import engines.software
from engines.keys import key_id_of
from kms_tui.dialogs.confirm_typed import TypedConfirmDialog
from kms_tui.dialogs.error import ErrorDialog
from kms_tui.dialogs.form import ChoiceDialog
from kms_tui.dialogs.register_engine import RegisterEngineDialog
from kms_tui.dialogs.sync_progress import SyncDialog
from kms_tui.screens.engines import EnginesScreen
from kms_tui.screens.keys import KeysScreen
from kms_tui.service.engine_ops import EngineService
from tests.pilot import screen_text, type_text, until, until_text
from tests.tui.conftest import SIZES, UI_SHOWN


def engines_settled(app, count: int):
    """The engines list has ``count`` rows and every reachability check has answered."""
    def check() -> bool:
        screen = app.screen
        return (isinstance(screen, EnginesScreen) and len(screen.views) == count
                and all(screen.checks.get(i) is not None for i in screen.views))
    return check


async def open_engines(pilot, count: int = 1, select: str | None = None) -> EnginesScreen:
    await pilot.app.switch_mode("engines")
    await until(pilot, engines_settled(pilot.app, count))
    screen = pilot.app.screen
    if select is not None:
        table = screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(select))
        await pilot.pause()
    return screen


def foreign_pem(directory: str) -> str:
    """A clear PKCS#8 file as Lamassu writes it, in an engine's directory; returns its key id."""
    key = ec.generate_private_key(ec.SECP256R1())
    key_id = key_id_of(key.public_key())
    with open(os.path.join(directory, key_id), "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return key_id


async def open_register_form(pilot, type_index: int = 0) -> RegisterEngineDialog:
    await pilot.press("a")
    await until(pilot, lambda: isinstance(pilot.app.screen, RegisterEngineDialog)
                and pilot.app.screen.query_one(OptionList).option_count > 0)
    for _ in range(type_index):
        await pilot.press("down")
    await pilot.press("enter")
    dialog = pilot.app.screen
    await until(pilot, lambda: dialog.info is not None and dialog.query("#engine-id"))
    return dialog


async def fill_software_form(pilot, dialog, engine_id: str, directory: str) -> None:
    await type_text(pilot, engine_id)
    dialog.query_one("#engine-name", Input).value = "Second engine"
    dialog.query_one("#opt-directory", Input).value = directory


# --- engines list and reachability ------------------------------------------------


async def test_engines_list_shows_level_default_count_and_reachability(demo_app, memory_keyring):
    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_engines(pilot)
        table = screen.query_one(DataTable)
        row = [str(c) for c in table.get_row("golang-default")]
        assert row == ["★", "golang-default", "Software", "SL0", "7", "✓ reachable"]
        text = screen_text(pilot.app)
        assert "RSA 2048/3072/4096" in text and "ECDSA 224/256/384/521" in text
        assert f"{UI_SHOWN}/data/keys/golang-default" in text  # the data directory, as the app shows it
        assert "at-rest passphrase: kept in the OS keyring" in text
        for secret in memory_keyring.entries.values():
            assert secret not in text


async def test_unreachable_engine_shows_why_and_the_app_keeps_working(ui_kms, demo_app, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    ui_kms.engines.register("GOLANG", "broken", options={"directory": str(blocker / "keys"), "encrypt": "false"},
                           check=False)
    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_engines(pilot, 2, select="broken")
        assert str(screen.query_one(DataTable).get_row("broken")[5]) == "✗ unreachable"
        assert str(screen.query_one(DataTable).get_row("golang-default")[5]) == "✓ reachable"
        check = screen.checks["broken"]
        assert not check.reachable and str(blocker) in check.message
        assert check.title in screen_text(pilot.app)
        await pilot.press("f2")  # still responsive: other screens work
        await until(pilot, lambda: isinstance(pilot.app.screen, KeysScreen))
        await pilot.press("f3")
        await until(pilot, lambda: pilot.app.screen is screen)


async def test_background_checks_never_prompt_for_a_secret(ui_kms, demo_app, memory_keyring, tmp_path):
    ui_kms.engines.register("GOLANG", "locked", options={"directory": str(tmp_path / "locked")}, secret="s3cret passphrase")
    memory_keyring.entries.pop(("kms-tui", ui_kms.context.credentials.username("locked")))
    ui_kms.context.forget_driver("locked")
    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_engines(pilot, 2, select="locked")
        assert isinstance(pilot.app.screen, EnginesScreen)  # no SecretDialog popped up
        assert not screen.checks["locked"].reachable
        assert "Secret needed" in screen_text(pilot.app)


async def test_enter_lists_the_keys_of_the_engine(ui_kms, demo_app, tmp_path):
    ui_kms.engines.register("GOLANG", "soft-2", options={"directory": str(tmp_path / "k2"), "encrypt": "false"})
    ui_kms.keys.create("Ed25519", 256, "on-soft-2", engine_id="soft-2")
    async with demo_app.run_test(size=(120, 40)) as pilot:
        await open_engines(pilot, 2, select="soft-2")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, KeysScreen)
                    and pilot.app.screen.query_one(DataTable).row_count == 1)
        assert pilot.app.screen.query_state.engine_id == "soft-2"
        assert "on-soft-2" in screen_text(pilot.app)


# --- register ---------------------------------------------------------------------------


async def test_register_a_second_software_engine_through_the_form(ui_kms, demo_app, memory_keyring, tmp_path):
    async with demo_app.run_test(size=(100, 40)) as pilot:
        await open_engines(pilot)
        dialog = await open_register_form(pilot)
        assert dialog.info.type == "GOLANG"
        await fill_software_form(pilot, dialog, "soft-2", str(tmp_path / "k2"))
        dialog.query_one("#make-default").value = True
        secret_input = dialog.query_one("#engine-secret", Input)
        assert secret_input.password  # masked
        secret_input.focus()
        await type_text(pilot, "form-passphrase-1")
        await pilot.press("enter")  # Enter in the last field registers
        assert secret_input.value == ""  # cleared as soon as the worker started
        await until(pilot, engines_settled(pilot.app, 2))
        view = ui_kms.engines.get("soft-2")
        assert view.record.name == "Second engine" and view.record.is_default
        assert view.record.config == {"directory": str(tmp_path / "k2"), "encrypt": "true"}
        assert memory_keyring.entries[("kms-tui", ui_kms.context.credentials.username("soft-2"))] == "form-passphrase-1"
        for name in os.listdir(ui_kms.data_dir):
            if name.startswith("kms.db"):
                assert b"form-passphrase-1" not in (ui_kms.data_dir / name).read_bytes()
        screen = pilot.app.screen
        assert str(screen.query_one(DataTable).get_row("soft-2")[0]) == "★"
        assert screen.checks["soft-2"].reachable
        # The app closes the service when it exits: check through it while it runs.
        assert ui_kms.keys.create("ECDSA", 256, "made-on-soft-2").engine_id == "soft-2"


async def test_registration_with_a_bad_option_shows_the_error_and_records_nothing(ui_kms, demo_app, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    async with demo_app.run_test(size=(100, 40)) as pilot:
        await open_engines(pilot)
        dialog = await open_register_form(pilot)
        await fill_software_form(pilot, dialog, "soft-bad", str(blocker / "keys"))
        await pilot.click("#register")
        await until(pilot, lambda: isinstance(pilot.app.screen, ErrorDialog))
        await until_text(pilot, "Engine unreachable", "cannot be created")
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is dialog)
        assert "cannot be created" in str(dialog.query_one("#register-message").render())  # also inline
        assert not dialog.query_one("#register").disabled  # the user can fix it and retry
        assert [v.record.id for v in ui_kms.engines.list()] == ["golang-default"]
        assert not [r for r in ui_kms.audit.rows(50) if r.engine_id == "soft-bad"]


async def test_unavailable_engine_types_are_offered_disabled(demo_app, monkeypatch):
    import engines as engine_registry

    monkeypatch.setattr(engine_registry, "available", lambda name: name != "AWS_KMS")
    async with demo_app.run_test(size=(100, 30)) as pilot:
        await open_engines(pilot)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(pilot.app.screen, RegisterEngineDialog)
                    and pilot.app.screen.query_one(OptionList).option_count == len(engine_registry.ENGINE_TYPES))
        options = pilot.app.screen.query_one(OptionList)
        aws = options.get_option("AWS_KMS")
        assert aws.disabled and "not available" in str(aws.prompt)
        assert not options.get_option("GOLANG").disabled


async def test_discover_turns_offered_choices_into_a_select(ui_kms, demo_app, monkeypatch, tmp_path):
    async with demo_app.run_test(size=(100, 40)) as pilot:
        await open_engines(pilot)
        dialog = await open_register_form(pilot)
        await pilot.press("ctrl+o")  # the software engine offers nothing
        await until(pilot, lambda: "no choices" in str(dialog.query_one("#register-message").render()))
        assert isinstance(dialog.query_one("#opt-directory"), Input)
        asked = []

        def fake_choices(self, engine_type, options=None):
            asked.append((engine_type, dict(options or {})))
            return {"directory": [{"value": str(tmp_path / "a"), "label": "Token A", "serial": "0001"},
                                  {"value": str(tmp_path / "b"), "label": "Token B", "initialized": True}],
                    "not-an-option": [{"value": "x"}]}

        monkeypatch.setattr(EngineService, "option_choices", fake_choices)
        dialog.query_one("#opt-encrypt", Select).value = "false"
        await pilot.click("#discover")
        await until(pilot, lambda: isinstance(dialog.query_one("#opt-directory"), Select))
        assert asked == [("GOLANG", {"encrypt": "false"})]
        select = dialog.query_one("#opt-directory", Select)
        assert select.value == str(tmp_path / "a")
        select.value = str(tmp_path / "b")
        dialog.query_one("#engine-id", Input).value = "discovered"
        await pilot.click("#register")
        await until(pilot, lambda: not isinstance(pilot.app.screen, RegisterEngineDialog))
        assert ui_kms.engines.get("discovered").record.config["directory"] == str(tmp_path / "b")


# --- default, test, sync, unregister -----------------------------------------------------


async def test_set_default_and_test_connection(ui_kms, demo_app, tmp_path):
    ui_kms.engines.register("GOLANG", "soft-2", options={"directory": str(tmp_path / "k2"), "encrypt": "false"})
    async with demo_app.run_test(size=(100, 30)) as pilot:
        screen = await open_engines(pilot, 2, select="soft-2")
        await pilot.press("D")
        await until(pilot, lambda: str(screen.query_one(DataTable).get_row("soft-2")[0]) == "★")
        assert [v.record.id for v in ui_kms.engines.list() if v.record.is_default] == ["soft-2"]
        assert str(screen.query_one(DataTable).get_row("golang-default")[0]) == ""
        os.rename(tmp_path / "k2", tmp_path / "moved")
        (tmp_path / "k2").write_text("now a file")  # the directory is gone: the test must say so
        await pilot.press("t")
        await until(pilot, lambda: screen.checks.get("soft-2") is not None and not screen.checks["soft-2"].reachable)
        assert str(screen.query_one(DataTable).get_row("soft-2")[5]) == "✗ unreachable"
        (tmp_path / "k2").unlink()
        os.rename(tmp_path / "moved", tmp_path / "k2")
        await pilot.press("t")
        await until(pilot, lambda: screen.checks.get("soft-2") is not None and screen.checks["soft-2"].reachable)


async def test_sync_adopts_a_clear_pem_file_and_reports_it(ui_kms, demo_app):
    foreign = foreign_pem(ui_kms.engines.get("golang-default").record.config["directory"])
    async with demo_app.run_test(size=(100, 30)) as pilot:
        screen = await open_engines(pilot)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(pilot.app.screen, SyncDialog) and pilot.app.screen.reports)
        # Seven files (the public-only key has none): the new one adopted, the others unchanged.
        await until_text(pilot, "7 seen · 1 adopted · 0 missing · 0 restored · 6 unchanged", "Adopted: " + foreign[:12])
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen
                    and str(screen.query_one(DataTable).get_row("golang-default")[4]) == "8")
        assert ui_kms.keys.resolve(foreign).has_private_key


async def test_cancelling_a_sync_stops_it(ui_kms, empty_app, monkeypatch):
    directory = ui_kms.engines.get("golang-default").record.config["directory"]
    os.makedirs(directory, exist_ok=True)
    for _ in range(3):
        foreign_pem(directory)
    gate = threading.Event()
    original = engines.software.SoftwareEngine.inventory

    def slow_inventory(self, known=(), full=False):
        for n, native in enumerate(original(self, known, full)):
            if n == 1:
                assert gate.wait(10), "the test never released the engine"
            yield native

    monkeypatch.setattr(engines.software.SoftwareEngine, "inventory", slow_inventory)
    async with empty_app.run_test(size=(100, 30)) as pilot:
        await open_engines(pilot)
        await pilot.press("y")
        await until(pilot, lambda: "1 key(s) read" in screen_text(pilot.app))
        await pilot.press("escape")  # cancel: the service stops before the next key
        gate.set()
        dialog = pilot.app.screen
        await until(pilot, lambda: not dialog.running)
        await until_text(pilot, "Cancelled")
        assert dialog.reports is None
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, EnginesScreen))
        assert ui_kms.keys.count() == 1  # the one read before the cancel
        assert not [r for r in ui_kms.audit.rows(50) if r.action == "engine.sync"]


async def test_unregister_with_keys_takes_the_engine_id_typed(ui_kms, demo_app, tmp_path):
    ui_kms.engines.register("GOLANG", "soft-2", options={"directory": str(tmp_path / "k2"), "encrypt": "false"})
    ui_kms.keys.create("Ed25519", 256, "on-soft-2", engine_id="soft-2")
    async with demo_app.run_test(size=(100, 30)) as pilot:
        screen = await open_engines(pilot, 2, select="soft-2")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, TypedConfirmDialog))
        await until_text(pilot, "1 key record would be orphaned")
        dialog = pilot.app.screen
        assert dialog.focused is dialog.query_one("#confirm-typed", Input)
        assert dialog.query_one("#confirm", Button).disabled
        await pilot.press("enter")  # one Enter does nothing but say what to type
        await until_text(pilot, "not the engine id")
        await type_text(pilot, "soft-3")
        await pilot.press("enter")
        await pilot.pause()
        assert pilot.app.screen is dialog and dialog.query_one("#confirm", Button).disabled
        assert "soft-2" in [v.record.id for v in ui_kms.engines.list()]
        dialog.query_one(Input).value = ""
        await type_text(pilot, "soft-2")
        assert not dialog.query_one("#confirm", Button).disabled
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.screen is screen and "soft-2" not in screen.views)
        assert [v.record.id for v in ui_kms.engines.list()] == ["golang-default"]
    assert len(os.listdir(tmp_path / "k2")) == 1  # the key stays in the backend


async def test_unregister_without_keys_starts_on_keep(ui_kms, demo_app, tmp_path):
    ui_kms.engines.register("GOLANG", "soft-2", options={"directory": str(tmp_path / "k2"), "encrypt": "false"})
    async with demo_app.run_test(size=(100, 30)) as pilot:
        screen = await open_engines(pilot, 2, select="soft-2")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChoiceDialog))
        await pilot.press("enter")  # the highlighted choice keeps the engine
        await until(pilot, lambda: pilot.app.screen is screen)
        await pilot.pause(0.1)
        assert "soft-2" in [v.record.id for v in ui_kms.engines.list()]
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChoiceDialog))
        await pilot.press("down", "enter")
        await until(pilot, lambda: pilot.app.screen is screen and "soft-2" not in screen.views)
        assert [v.record.id for v in ui_kms.engines.list()] == ["golang-default"]


async def test_unregister_refused_for_keys_made_elsewhere_takes_the_engine_id_typed(ui_kms, demo_app, tmp_path):
    ui_kms.engines.register("GOLANG", "soft-2", options={"directory": str(tmp_path / "k2"), "encrypt": "false"})
    async with demo_app.run_test(size=(100, 30)) as pilot:
        screen = await open_engines(pilot, 2, select="soft-2")
        ui_kms.keys.create("Ed25519", 256, "made-elsewhere", engine_id="soft-2")  # the list still counts 0
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChoiceDialog))
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, TypedConfirmDialog))
        await until_text(pilot, "still has 1 key record")
        await type_text(pilot, "soft-2")
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.screen is screen and "soft-2" not in screen.views)
        assert [v.record.id for v in ui_kms.engines.list()] == ["golang-default"]


async def test_set_secret_replaces_the_stored_one(ui_kms, demo_app, memory_keyring, tmp_path):
    from kms_tui.dialogs.secret import SecretDialog

    ui_kms.engines.register("GOLANG", "soft-2", options={"directory": str(tmp_path / "k2")}, secret="old secret phrase")
    async with demo_app.run_test(size=(100, 30)) as pilot:
        screen = await open_engines(pilot, 2, select="soft-2")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(pilot.app.screen, SecretDialog))
        for _ in range(2):  # the secret, then again to confirm it
            await type_text(pilot, "new secret phrase")
            await pilot.press("enter")
        await until(pilot, lambda: pilot.app.screen is screen and screen.checks.get("soft-2") is not None)
        assert memory_keyring.entries[("kms-tui", ui_kms.context.credentials.username("soft-2"))] == "new secret phrase"
        assert screen.checks["soft-2"].reachable
        assert "new secret phrase" not in screen_text(pilot.app)


async def test_help_and_command_palette_list_the_engine_actions(demo_app):
    from kms_tui.actions import commands
    from kms_tui.dialogs.help import HelpDialog

    async with demo_app.run_test(size=(120, 40)) as pilot:
        screen = await open_engines(pilot)
        titles = {c.title for c in commands(pilot.app, screen)}
        for action in ("Register", "Test", "Default", "Sync", "Unregister", "Set secret", "Keys"):
            assert f"{action} (Engines)" in titles
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpDialog))
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(pilot.app.screen.query_one("#help-bindings", Static).content)
        listed = console.export_text()
        for action in ("Register", "Test", "Default", "Sync", "Unregister", "Set secret", "Refresh"):
            assert f"{action} " in listed and "Engines screen" in listed and "EnginesScreen" not in listed


# --- snapshots ----------------------------------------------------------------------------


@pytest.fixture
def broken_app(ui_kms, demo_app):
    """The demo inventory plus an engine whose key directory cannot exist."""
    blocker = ui_kms.data_dir / "not-a-directory"
    blocker.write_text("a file")
    ui_kms.engines.register("GOLANG", "broken-disk", name="Disk that went away",
                           options={"directory": str(blocker / "keys"), "encrypt": "false"}, check=False)
    return demo_app


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_engines(snap_compare, broken_app, size):
    async def run_before(pilot):
        await open_engines(pilot, 2)

    assert snap_compare(broken_app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_engines_unreachable_detail(snap_compare, broken_app, size):
    async def run_before(pilot):
        await open_engines(pilot, 2, select="broken-disk")

    assert snap_compare(broken_app, terminal_size=SIZES[size], run_before=run_before)


def _register_step(step: str, type_index: int = 0):
    async def run_before(pilot):
        await open_engines(pilot)
        if step == "types":
            await pilot.press("a")
            await until(pilot, lambda: isinstance(pilot.app.screen, RegisterEngineDialog)
                        and pilot.app.screen.query_one(OptionList).option_count == len(engines.ENGINE_TYPES))
            return
        dialog = await open_register_form(pilot, type_index)
        if step == "filled":
            await fill_software_form(pilot, dialog, "soft-2", f"{UI_SHOWN}/data/keys/soft-2")  # read back by the app
            dialog.query_one("#make-default").value = True
            dialog.query_one("#engine-secret", Input).focus()
            await type_text(pilot, "typed-secret")  # masked: the snapshot shows only bullets
        elif step == "failed":
            await fill_software_form(pilot, dialog, "soft-bad", f"{UI_SHOWN}/data/kms.db/keys")
            await pilot.click("#register")
            await until(pilot, lambda: isinstance(pilot.app.screen, ErrorDialog))
            await pilot.press("escape")
            await until(pilot, lambda: pilot.app.screen is dialog)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step,type_index", [("types", 0), ("empty", 0), ("filled", 0), ("failed", 0),
                                             ("pkcs11", 1), ("vault", 5)])
def test_snapshot_register(snap_compare, demo_app, size, step, type_index):
    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=_register_step(step, type_index))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", ["running", "done", "cancelled"])
def test_snapshot_sync(snap_compare, ui_kms, demo_app, monkeypatch, size, step):
    gate = threading.Event()
    original = engines.software.SoftwareEngine.inventory
    dialogs: list[SyncDialog] = []

    def held_inventory(self, known=(), full=False):
        for n, native in enumerate(original(self, known, full)):
            # Held after the first key until the test lets go, or the dialog closes as the app exits.
            while n == 1 and step != "done" and not gate.wait(0.02):
                if dialogs and dialogs[0].cancel_event.is_set():
                    break
            yield native

    monkeypatch.setattr(engines.software.SoftwareEngine, "inventory", held_inventory)

    async def run_before(pilot):
        await open_engines(pilot)
        await pilot.press("y")
        if step == "done":
            await until(pilot, lambda: isinstance(pilot.app.screen, SyncDialog) and pilot.app.screen.reports)
            return
        await until(pilot, lambda: "1 key(s) read" in screen_text(pilot.app))
        dialogs.append(pilot.app.screen)
        if step == "cancelled":
            await pilot.press("escape")
            gate.set()
            await until(pilot, lambda: not pilot.app.screen.running)

    try:
        assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)
    finally:
        gate.set()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", ["typed", "mistyped"])
def test_snapshot_unregister(snap_compare, demo_app, size, step):
    async def run_before(pilot):
        await open_engines(pilot, select="golang-default")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, TypedConfirmDialog)
                    and pilot.app.focused is pilot.app.screen.query_one("#confirm-typed"))
        if step == "mistyped":
            await type_text(pilot, "golang")
            await pilot.press("enter")
            await until_text(pilot, "not the engine id")

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)
