"""Every modal fits 80x24: its content scrolls, its buttons and error line stay on screen.

Also the key delete confirmation: Enter that cannot delete says why, and a key whose
name holds markup or control characters is confirmed by its name as shown or by the
first 8 characters of its id.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from textual.widgets import DataTable

from kms_tui.dialogs.delete_key import DeleteKeyDialog
from kms_tui.dialogs.error import ErrorDialog
from kms_tui.dialogs.form import ChoiceDialog, Field, FormDialog, JsonDialog
from kms_tui.dialogs.register_engine import RegisterEngineDialog
from kms_tui.dialogs.secret import SecretDialog
from kms_tui.dialogs.sync_progress import SyncDialog
from kms_tui.service import DEFAULT_ENGINE_ID
from tests.pilot import open_form, screen_text, settle_view, type_text, until, workers_idle

SIZE = (80, 24)
MARKUP_NAME = "[bold red]x\x1b]0;pwned\x07"
MULTILINE_NAME = "multi\nline"
LONG_MESSAGE = " ".join(f"Sentence {n} of what went wrong, told in full." for n in range(1, 41))


def on_screen(screen, selector: str) -> bool:
    """The widget is drawn where it claims to be: inside the terminal and not covered or clipped."""
    widget = screen.query_one(selector)
    region = widget.region
    if not widget.display or region.area == 0 or not screen.region.contains_region(region):
        return False
    seen, _ = screen.get_widget_at(*region.center)
    return seen is widget or widget in seen.ancestors


async def keys_loaded(pilot) -> None:
    await until(pilot, lambda: pilot.app.screen.query("#keys-table")
                and pilot.app.screen.query_one("#keys-table", DataTable).row_count > 0 and workers_idle(pilot.app),
                "the keys")


async def open_delete(pilot, name: str) -> DeleteKeyDialog:
    await keys_loaded(pilot)
    await pilot.app.push_screen(DeleteKeyDialog(pilot.app.kms.keys.by_name(name)))
    dialog = pilot.app.screen
    await until(pilot, lambda: dialog.notice is not None and getattr(pilot.app.focused, "id", None) == "confirm-name",
                "the delete dialog, told what this engine does with a deleted key")
    return dialog


def many_bindings(kms, name: str = "issuing-ca-2026") -> None:
    for n in range(12):
        kms.keys.bind(name, "certificate", f"serial-{n:02d}")


def fixed_key(secret: int) -> bytes:
    """A P-256 private key that is the same on every run (snapshots show its id)."""
    key = ec.derive_private_key(secret, ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def hostile_keys(kms) -> None:
    kms.keys.import_key(fixed_key(0x15_0001), MARKUP_NAME)
    kms.keys.import_key(fixed_key(0x15_0002), MULTILINE_NAME)


# --- delete: Enter says why, hostile names ------------------------------------------------------


async def test_enter_without_force_on_a_bound_key_says_why(demo_app, demo_kms):
    async with demo_app.run_test(size=SIZE) as pilot:
        dialog = await open_delete(pilot, "issuing-ca-2026")
        await type_text(pilot, "issuing-ca-2026")
        await pilot.press("enter")
        error = await _error_line(pilot, dialog)
        assert "Force is needed" in error and "bound to ca issuing-ca-2026, certificate 4f:1a:9c:02" in error
        assert on_screen(dialog, "#delete-error") and on_screen(dialog, "#delete") and on_screen(dialog, "#cancel")
        assert demo_kms.keys.by_name("issuing-ca-2026").state is None  # not deleted, not pending
        dialog.query_one("#force").value = True
        await until(pilot, lambda: not str(dialog.query_one("#delete-error").render()), "the error line to clear")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(pilot.app.screen, DeleteKeyDialog), "the dialog to close")
        assert demo_kms.keys.by_name("issuing-ca-2026").state == "PendingDeletion"


async def test_enter_with_a_wrong_name_says_what_is_accepted(demo_app, demo_kms):
    async with demo_app.run_test(size=SIZE) as pilot:
        dialog = await open_delete(pilot, "legacy-gateway")
        await type_text(pilot, "legacy")
        await pilot.press("enter")
        short = demo_kms.keys.by_name("legacy-gateway").key_id[:8]
        assert f"first 8 characters of the id ({short})" in await _error_line(pilot, dialog)
        assert pilot.app.screen is dialog


async def _error_line(pilot, dialog) -> str:
    await until(pilot, lambda: str(dialog.query_one("#delete-error").render()).strip(), "the error line")
    return str(dialog.query_one("#delete-error").render())


@pytest.mark.parametrize("name", [MARKUP_NAME, MULTILINE_NAME], ids=["markup-and-escapes", "multi-line"])
@pytest.mark.parametrize("confirm", ["name-as-shown", "id-prefix"])
async def test_hostile_name_can_be_deleted(demo_app, demo_kms, name, confirm):
    hostile_keys(demo_kms)
    record = demo_kms.keys.by_name(name)
    shown = name.encode("unicode_escape").decode("ascii")  # how the confirmation shows it
    async with demo_app.run_test(size=SIZE) as pilot:
        dialog = await open_delete(pilot, name)
        text = screen_text(pilot.app)
        assert shown in text and "\x1b" not in text and "\x07" not in text
        prompt = str(dialog.query_one("#delete-prompt").render())
        assert f"Type the key's name as shown, or the first 8 characters of its id ({record.key_id[:8]})" in prompt
        await type_text(pilot, "multi" if name == MULTILINE_NAME else "x")  # a part of it is not enough
        await pilot.press("enter")
        await _error_line(pilot, dialog)
        assert dialog.query_one("#delete").disabled
        dialog.query_one("#confirm-name").value = ""
        await type_text(pilot, shown if confirm == "name-as-shown" else record.key_id[:8].upper())
        await until(pilot, lambda: not dialog.query_one("#delete").disabled, "Delete to be enabled")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(pilot.app.screen, DeleteKeyDialog), "the dialog to close")
    assert demo_kms.keys.by_name(name).state == "PendingDeletion"
    others = [demo_kms.keys.by_name(n) for n in (MARKUP_NAME, MULTILINE_NAME) if n != name]
    assert [r.state for r in others] == [None]  # only the confirmed key


async def test_d_on_a_hostile_name_in_the_keys_table_opens_its_confirmation(demo_app, demo_kms):
    hostile_keys(demo_kms)
    async with demo_app.run_test(size=SIZE) as pilot:
        await keys_loaded(pilot)
        table = pilot.app.screen.query_one("#keys-table", DataTable)
        table.focus()
        table.move_cursor(row=0)  # sorted by name: "[bold red]x…" comes first
        await pilot.press("d")
        await until(pilot, lambda: isinstance(pilot.app.screen, DeleteKeyDialog), "the delete dialog")
        assert pilot.app.screen.record.name == MARKUP_NAME
        await type_text(pilot, "[bold red]x\\x1b]0;pwned\\x07")  # as shown
        await until(pilot, lambda: not pilot.app.screen.query_one("#delete").disabled, "Delete to be enabled")


# --- every modal fits 80x24 ---------------------------------------------------------------------


def _form() -> FormDialog:
    fields = [Field(f"f{n}", f"Field {n}", required=n == 0) for n in range(10)]
    return FormDialog("Ten fields", fields)


def _choices() -> ChoiceDialog:
    return ChoiceDialog("Pick one of thirty", [(str(n), f"Choice number {n}") for n in range(30)])


def _json() -> JsonDialog:
    return JsonDialog("Metadata of issuing-ca-2026", {f"k{n}": n for n in range(30)})


async def _fill_last_and_submit(pilot) -> None:
    """Enter in the last field submits: with a required field empty the error line says so."""
    pilot.app.screen.query("Input").last().focus()
    await pilot.press("enter")


async def _save(pilot) -> None:
    pilot.app.screen.query_one("#json").text = "[\n" + ",\n".join(str(n) for n in range(30)) + "\n]"  # not an object
    await pilot.click("#ok")


MODALS = {
    # what opens it, its error line, its buttons, what makes it show an error, what scrolls
    "form": (_form, "#form-error", ("#ok", "#cancel"), _fill_last_and_submit, "#dialog-scroll"),
    "secret": (lambda: SecretDialog("pkcs11-prod-hsm", "user PIN", LONG_MESSAGE, True), "#form-error",
               ("#ok", "#cancel"), _fill_last_and_submit, "#dialog-scroll"),
    "json": (_json, "#form-error", ("#ok", "#cancel"), _save, "#json"),
    "choice": (_choices, None, ("#cancel",), None, "#choices"),
    "error": (lambda: ErrorDialog("Engine unreachable", LONG_MESSAGE), None, ("#close",), None, "#dialog-scroll"),
}


@pytest.mark.parametrize("kind", list(MODALS))
async def test_modal_buttons_and_error_stay_on_screen(demo_app, kind):
    make, error, buttons, provoke, scrolls = MODALS[kind]
    async with demo_app.run_test(size=SIZE) as pilot:
        await keys_loaded(pilot)
        await pilot.app.push_screen(make())
        dialog = pilot.app.screen
        await pilot.pause()
        if provoke:
            await provoke(pilot)
            await until(pilot, lambda: str(dialog.query_one(error).render()).strip(), "the error line")
            assert pilot.app.screen is dialog
        for selector in buttons + ((error,) if error else ()):
            assert on_screen(dialog, selector), f"{selector} is off screen\n{screen_text(pilot.app)}"
        assert dialog.query_one(scrolls).max_scroll_y > 0  # the content is taller than the room it has


async def test_delete_dialog_with_many_bindings_fits(demo_app, demo_kms):
    many_bindings(demo_kms)
    async with demo_app.run_test(size=SIZE) as pilot:
        dialog = await open_delete(pilot, "issuing-ca-2026")
        await type_text(pilot, "issuing-ca-2026")
        await pilot.press("enter")
        assert "and 12 more" in await _error_line(pilot, dialog)
        for selector in ("#confirm-name", "#delete-error", "#delete", "#cancel"):
            assert on_screen(dialog, selector), f"{selector} is off screen\n{screen_text(pilot.app)}"
        assert dialog.query_one("#dialog-scroll").max_scroll_y > 0
        await pilot.press("shift+tab")  # back to the force checkbox, scrolled into view
        assert on_screen(dialog, "#force")


async def test_register_form_fits(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        dialog = await open_form(pilot, "HASHICORP_VAULT_KV_V2")
        dialog.action_submit()  # no engine id: the message line says so
        await until(pilot, lambda: "-error" in dialog.query_one("#register-message").classes, "the error line")
        for selector in ("#register-message", "#discover", "#register", "#back", "#cancel"):
            assert on_screen(dialog, selector), f"{selector} is off screen\n{screen_text(pilot.app)}"
        assert isinstance(pilot.app.screen, RegisterEngineDialog)


async def test_sync_dialog_fits(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await keys_loaded(pilot)
        await pilot.app.push_screen(SyncDialog(DEFAULT_ENGINE_ID))
        dialog = pilot.app.screen
        await until(pilot, lambda: dialog.reports is not None, "the sync to finish")
        assert on_screen(dialog, "#close") and on_screen(dialog, "#sync-progress")


# --- snapshots at 80x24 ---------------------------------------------------------------------------


def _snap_modal(make, provoke=None):
    async def run_before(pilot):
        await keys_loaded(pilot)
        await pilot.app.push_screen(make())
        await pilot.pause()
        if provoke:
            await provoke(pilot)
        await settle_view(pilot)

    return run_before


@pytest.mark.parametrize("kind", list(MODALS))
def test_snapshot_modal(snap_compare, demo_app, kind):
    make, _, _, provoke, _ = MODALS[kind]
    assert snap_compare(demo_app, terminal_size=SIZE, run_before=_snap_modal(make, provoke))


@pytest.mark.parametrize("name", ["bound", MARKUP_NAME, MULTILINE_NAME], ids=["bound", "markup", "multi-line"])
def test_snapshot_delete(snap_compare, demo_app, demo_kms, name):
    if name == "bound":
        many_bindings(demo_kms)
    else:
        hostile_keys(demo_kms)

    async def run_before(pilot):
        dialog = await open_delete(pilot, "issuing-ca-2026" if name == "bound" else name)
        if name == "bound":
            await type_text(pilot, "issuing-ca-2026")
            await pilot.press("enter")
            await _error_line(pilot, dialog)
        await settle_view(pilot)

    assert snap_compare(demo_app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_register_form(snap_compare, demo_app):
    async def run_before(pilot):
        dialog = await open_form(pilot, "HASHICORP_VAULT_KV_V2")
        dialog.action_submit()
        await until(pilot, lambda: "-error" in dialog.query_one("#register-message").classes, "the error line")
        await settle_view(pilot)

    assert snap_compare(demo_app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_sync(snap_compare, demo_app):
    async def run_before(pilot):
        await keys_loaded(pilot)
        await pilot.app.push_screen(SyncDialog(DEFAULT_ENGINE_ID))
        await until(pilot, lambda: pilot.app.screen.reports is not None, "the sync to finish")
        await settle_view(pilot)

    assert snap_compare(demo_app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("kind,focused", [("json", "json"), ("form", "field-f0"), ("error", "close")])
async def test_modal_opens_on_its_first_field_not_on_the_scrolling_frame(demo_app, kind, focused):
    async with demo_app.run_test(size=SIZE) as pilot:
        await keys_loaded(pilot)
        await pilot.app.push_screen(MODALS[kind][0]())
        await until(pilot, lambda: getattr(pilot.app.focused, "id", None) == focused, f"#{focused} to have the focus")
