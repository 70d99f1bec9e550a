"""The keys screen and key detail, driven with Pilot against the software engine."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from kms_tui.app import KmsApp
from kms_tui.screens.key_detail import KeyDetailScreen
from kms_tui.screens.keys import PAGE, KeysScreen
from kms_tui.text import safe_text
from tests.pilot import screen_text, type_text, until, workers_idle
from tests.tui.conftest import HOSTILE


async def wait_for_rows(pilot, count: int) -> DataTable:
    table = pilot.app.screen.query_one("#keys-table", DataTable)
    await until(pilot, lambda: table.row_count == count and workers_idle(pilot.app)
                and not getattr(pilot.app.screen, "counting", False), f"{count} rows")
    return table


def row_names(table: DataTable) -> list[str]:
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def test_keys_table_lists_filters_and_sorts(demo_app):
    async with demo_app.run_test(size=(100, 30)) as pilot:
        assert isinstance(pilot.app.screen, KeysScreen)
        table = await wait_for_rows(pilot, 7)
        assert row_names(table)[0] == safe_text(HOSTILE, 40) and row_names(table)[1] == "device-fleet-01"
        await pilot.press("slash")
        await type_text(pilot, "issuing")
        table = await wait_for_rows(pilot, 1)
        assert row_names(table) == ["issuing-ca-2026"]
        pilot.app.screen.query_one("#filter", Input).value = "ca"
        table = await wait_for_rows(pilot, 2)
        assert sorted(row_names(table)) == ["intermediate-ca-2026", "issuing-ca-2026"]
        pilot.app.screen.query_one("#filter", Input).value = ""
        await wait_for_rows(pilot, 7)
        pilot.app.screen.query_one("#strength-filter").value = "LOW"
        table = await wait_for_rows(pilot, 1)
        assert row_names(table) == ["legacy-gateway"]
        assert "1 key " in screen_text(pilot.app)
        pilot.app.screen.query_one("#strength-filter").clear()  # back to every strength
        await wait_for_rows(pilot, 7)


async def test_enter_opens_the_key_detail_with_strength_and_bindings(demo_app):
    async with demo_app.run_test(size=(100, 40)) as pilot:
        pilot.app.screen.query_one("#filter", Input).value = "issuing-ca"
        await wait_for_rows(pilot, 1)
        pilot.app.screen.query_one("#keys-table", DataTable).focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, KeyDetailScreen) and pilot.app.screen.record is not None,
                    "the key detail")
        screen = pilot.app.screen
        assert screen.record.name == "issuing-ca-2026"
        bindings = screen.query_one("#detail-bindings", DataTable)
        assert bindings.row_count == 2
        text = screen_text(pilot.app)
        assert "ECDSA 384" in text and "issuing-ca" in text and "HIGH" in text
        assert "Root CA" in text  # the strength panel's role guidance


async def test_bound_key_cannot_be_deleted_without_force(demo_app, demo_kms):
    from kms_tui.dialogs.delete_key import DeleteKeyDialog

    async with demo_app.run_test(size=(100, 40)) as pilot:
        pilot.app.screen.query_one("#filter", Input).value = "issuing-ca"
        await wait_for_rows(pilot, 1)
        pilot.app.screen.query_one("#keys-table", DataTable).focus()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(pilot.app.screen, DeleteKeyDialog), "the delete dialog")
        dialog = pilot.app.screen
        await type_text(pilot, "issuing-ca-2026")
        assert dialog.query_one("#delete").disabled  # bound: force not ticked
        await pilot.press("enter")
        await until(pilot, lambda: "Force is needed" in str(dialog.query_one("#delete-error").render()),
                    "the error line to say why Enter did not delete")
        assert demo_kms.keys.resolve("issuing-ca").name == "issuing-ca-2026"
        dialog.query_one("#force").value = True
        await until(pilot, lambda: not dialog.query_one("#delete").disabled, "Delete to be enabled")
        await until(pilot, lambda: dialog.notice, "what this engine does with a deleted key, from the service")
        assert "trash" in str(dialog.query_one("#dialog-body").render())
        await pilot.click("#delete")
        await until(pilot, lambda: not isinstance(pilot.app.screen, DeleteKeyDialog), "the dialog to close")
        # The software engine keeps it in its trash: the record stays, pending deletion.
        assert demo_kms.keys.count() == 7 and demo_kms.keys.resolve("issuing-ca").state == "PendingDeletion"
        assert [r.action for r in demo_kms.audit.rows(limit=2)] == ["key.delete", "key.delete.intent"]


async def test_hostile_name_is_shown_literally(demo_app):
    async with demo_app.run_test(size=(120, 30)) as pilot:
        table = await wait_for_rows(pilot, 7)
        cell = table.get_row_at(0)[0]
        assert cell.plain.startswith("[red]alarm[/red] \\x1b]0;pwned")
        assert "\x1b" not in cell.plain and not cell.spans  # no markup was interpreted


async def test_the_cursor_moves_across_pages_as_if_every_row_were_loaded(kms):
    import hashlib

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from store import KeyRecord

    with kms.context.store.transaction():
        for i in range(450):
            public = ec.generate_private_key(ec.SECP256R1()).public_key()
            der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            key_id = hashlib.sha256(der).hexdigest()
            kms.context.store.add_key(KeyRecord(key_id=key_id, engine_id="golang-default", name=f"device-{i:04d}",
                                        algorithm="ECDSA", size=256, strength="MEDIUM", has_private_key=False,
                                        public_key=pem.decode()))
    app = KmsApp(kms)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await wait_for_rows(pilot, PAGE)
        screen = pilot.app.screen

        def at(offset: int, row: int, name: str):
            return lambda: (screen.query_state.offset == offset and table.cursor_row == row
                            and str(table.get_row_at(row)[0]) == name and screen.total == 450)

        table.focus()
        await pilot.press("ctrl+end")  # the last key of all, not of the page
        last = 449 // PAGE * PAGE
        await until(pilot, at(last, 449 - last, "device-0449"), "the last key")
        assert f"page {last // PAGE + 1}/{last // PAGE + 1}" in str(screen.query_one("#keys-status").render())
        await pilot.press("ctrl+home")
        await until(pilot, at(0, 0, "device-0000"), "the first key")
        for _ in range(20):  # page down within the loaded page until its last row
            await pilot.press("pagedown")
            await pilot.pause()
            if table.cursor_row == PAGE - 1:
                break
        assert (screen.query_state.offset, table.cursor_row) == (0, PAGE - 1)
        await pilot.press("down")  # past the page's last row: the next page, at its first row
        await until(pilot, at(PAGE, 0, f"device-{PAGE:04d}"), "the next page")
        await pilot.press("up")  # and back
        await until(pilot, at(0, PAGE - 1, f"device-{PAGE - 1:04d}"), "the first page's last row")
        await pilot.press("ctrl+end", "down")  # nothing after the last key
        await until(pilot, at(last, 449 - last, "device-0449"), "still the last key")


# --- the filter's keys, and F2 back to the list ---------------------------------------------

SIZE_80x24 = (80, 24)


async def test_escape_clears_the_filter_and_a_second_escape_leaves_it(demo_app):
    async with demo_app.run_test(size=SIZE_80x24) as pilot:
        await wait_for_rows(pilot, 7)
        field = pilot.app.screen.query_one("#filter", Input)
        await pilot.press("slash")
        await type_text(pilot, "legacy")
        await wait_for_rows(pilot, 1)
        await pilot.press("escape")
        await wait_for_rows(pilot, 7)
        assert field.value == "" and field.has_focus  # cleared, still typing in it
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen.query_one("#keys-table", DataTable).has_focus, "the table")
        assert isinstance(pilot.app.screen, KeysScreen)


async def test_enter_in_the_filter_opens_the_key_when_exactly_one_matches(demo_app):
    async with demo_app.run_test(size=SIZE_80x24) as pilot:
        await wait_for_rows(pilot, 7)
        await pilot.press("slash")
        await type_text(pilot, "ca")  # two keys match: Enter goes to the table
        await pilot.press("enter")
        table = await wait_for_rows(pilot, 2)
        assert table.has_focus and isinstance(pilot.app.screen, KeysScreen)
        await pilot.press("slash", "escape")  # back in the filter; Esc empties it
        await type_text(pilot, "firmware")
        await pilot.press("enter")  # at once, before its rows are in: opens once they are
        await until(pilot, lambda: isinstance(pilot.app.screen, KeyDetailScreen) and pilot.app.screen.record is not None,
                    "the key detail")
        assert pilot.app.screen.record.name == "firmware-signing"


async def test_enter_in_the_filter_with_no_match_stays_on_the_list(demo_app):
    async with demo_app.run_test(size=SIZE_80x24) as pilot:
        await wait_for_rows(pilot, 7)
        await pilot.press("slash")
        await type_text(pilot, "nothing-is-called-this")
        await pilot.press("enter")
        table = await wait_for_rows(pilot, 0)
        assert table.has_focus and isinstance(pilot.app.screen, KeysScreen)


async def test_f2_from_a_key_detail_goes_back_to_the_key_list(demo_app):
    async with demo_app.run_test(size=SIZE_80x24) as pilot:
        keys = pilot.app.screen
        await wait_for_rows(pilot, 7)
        keys.query_one("#filter", Input).value = "issuing"
        await wait_for_rows(pilot, 1)
        keys.query_one("#keys-table", DataTable).focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, KeyDetailScreen), "the key detail")
        await pilot.press("f2")
        await until(pilot, lambda: pilot.app.screen is keys, "the key list")
        await pilot.press("f3", "enter")  # an engine's own key list, then one of its keys, then F2
        await until(pilot, lambda: isinstance(pilot.app.screen, KeysScreen) and pilot.app.screen is not keys,
                    "the engine's key list")
        await wait_for_rows(pilot, 7)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, KeyDetailScreen), "a key of the engine")
        await pilot.press("f2")
        await until(pilot, lambda: pilot.app.screen is keys and pilot.app.current_mode == "keys", "the key list")


async def test_a_key_detail_shows_its_own_engines_audit_rows_not_a_copys(demo_kms, ui_paths, tmp_path):
    from tests.tui.conftest import fixture_key

    demo_kms.engines.register("GOLANG", "backup-soft", options={"directory": str(tmp_path / "b"), "encrypt": "false"})
    copy = demo_kms.keys.import_key(fixture_key("p384.pem"), "issuing-copy", engine_id="backup-soft")
    original = demo_kms.keys.resolve("issuing-ca-2026")
    assert copy.key_id == original.key_id  # the same key on two engines
    demo_kms.signing.sign("issuing-copy", "ECDSA_SHA_384", b"signed with the copy")
    app = KmsApp(demo_kms, paths=ui_paths)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.app.push_screen(KeyDetailScreen(original.engine_id, original.key_id))
        await until(pilot, lambda: getattr(pilot.app.screen, "record", None) is not None and workers_idle(pilot.app))
        table = pilot.app.screen.query_one("#detail-audit", DataTable)
        actions = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        assert "key.import" in actions and "key.sign" not in actions  # the copy's import and signature are not here
        assert table.row_count == len(demo_kms.audit.rows(key_id=original.key_id, engine_id=original.engine_id))
