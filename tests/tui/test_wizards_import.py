"""The import-key wizard, driven with Pilot: files, the file picker, pasted keys, encrypted keys, garbage."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from textual.widgets import DirectoryTree, Input, RadioSet, TextArea

from kms_tui.actions import open_import
from kms_tui.screens.key_detail import KeyDetailScreen
from kms_tui.widgets.file_picker import FilePickerDialog
from kms_tui.wizards.import_key import ImportKeyWizard
from tests.pilot import screen_text, type_text, until
from tests.tui import test_wizards_support as support
from tests.tui.conftest import fixture_key
from tests.tui.test_wizards_support import PASSPHRASE, message, next_step, refused

files = support.files  # fixed key files to import
ui_kms = support.ui_kms  # the wizard tests' data directory is the CLI's default one
ui_shown = support.ui_shown


def key_id_of(pem: bytes) -> str:
    """Lamassu's key id, computed here: SHA-256 of the DER SubjectPublicKeyInfo."""
    try:
        key = serialization.load_pem_private_key(pem, None).public_key()
    except (TypeError, ValueError):
        key = serialization.load_pem_public_key(pem)
    return hashlib.sha256(key.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


async def start(pilot) -> ImportKeyWizard:
    open_import(pilot.app)
    await until(pilot, lambda: isinstance(pilot.app.screen, ImportKeyWizard), "the import wizard")
    wizard = pilot.app.screen
    await until(pilot, lambda: wizard.focused is not None and wizard.focused.id == "key-file-path", "the path field")
    await until(pilot, lambda: wizard.engine_id is not None, "the engines")
    return wizard


async def finish(pilot, wizard, name: str) -> None:
    """From the names step: name the key, confirm, import, and land on its detail."""
    wizard.query_one("#name", Input).value = name
    await next_step(pilot, "confirm")
    await pilot.press("ctrl+n")
    await until(pilot, lambda: isinstance(pilot.app.screen, KeyDetailScreen), "the imported key's detail")


async def test_import_from_a_file_with_a_preview_before_storing(empty_app, ui_kms, files):
    count = ui_kms.keys.count()
    async with empty_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot)
        await type_text(pilot, str(files / "device-p256.pem"))
        await next_step(pilot, "preview")
        expected = key_id_of(fixture_key("p256.pem"))
        text = screen_text(pilot.app)
        assert "ECDSA P-256 (256)" in text and expected in text and "private key: it can sign" in text
        assert "PEM private key" in text and "Step 2 of 4" in text  # no passphrase step for a clear key
        assert ui_kms.keys.count() == count  # nothing stored by the preview
        await next_step(pilot, "names")
        assert wizard.query_one("#name", Input).value == "device-p256"  # suggested from the file name
        wizard.query_one("#aliases", Input).value = "dev-imported"
        wizard.query_one("#tags", Input).value = "devices, imported"
        wizard.query_one("#name", Input).value = "device-imported"
        await next_step(pilot, "confirm")
        assert wizard.cli_command().text == (
            f"kms-tui keys import {files}/device-p256.pem --name device-imported --engine golang-default "
            "--alias dev-imported --tag devices --tag imported")
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(pilot.app.screen, KeyDetailScreen), "the imported key's detail")
        record = ui_kms.keys.resolve("device-imported")
        assert record.key_id == expected and record.has_private_key
        assert (record.algorithm, record.size, record.engine_id) == ("ECDSA", 256, "golang-default")
        assert record.aliases == ["dev-imported"] and record.tags == ["devices", "imported"]


async def test_the_file_picker_browses_and_picks_a_public_key(empty_app, ui_kms, files):
    async with empty_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot)
        wizard.query_one("#key-file-path", Input).value = str(files)
        await pilot.click("#key-file-browse")
        await until(pilot, lambda: isinstance(pilot.app.screen, FilePickerDialog), "the file picker")
        picker = pilot.app.screen
        await until(pilot, lambda: picker.tree is not None and len(picker.tree.root.children) == 5, "the folder")
        shown = pilot.app.paths.path  # the picker shows paths as the app does, and fills the field so
        assert picker.query_one("#picker-path", Input).value == shown(files) == f"{support.SHOWN}/files"
        tree = picker.query_one(DirectoryTree)
        assert [str(n.label) for n in tree.root.children] == [
            "keys", "device-p256.pem", "encrypted-rsa2048.pem", "notes.txt", "partner-public.pem"]
        await pilot.press("end", "enter")  # the last entry: partner-public.pem
        await until(pilot, lambda: pilot.app.screen is wizard, "the picker to close")
        assert wizard.query_one("#key-file-path", Input).value == shown(files / "partner-public.pem")
        await next_step(pilot, "preview")
        assert "public key only: it can verify, not sign" in screen_text(pilot.app)
        assert "PEM public key (SPKI)" in screen_text(pilot.app)
        await next_step(pilot, "names")
        await finish(pilot, wizard, "partner-2026")
        record = ui_kms.keys.resolve("partner-2026")
        assert not record.has_private_key
        assert record.key_id == key_id_of((files / "partner-public.pem").read_bytes())


async def test_import_pasted_key(empty_app, ui_kms, files):
    async with empty_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot)
        wizard.query_one("#source-kind", RadioSet).focus()
        await pilot.press("right", "enter")  # choose "Paste"
        await until(pilot, lambda: wizard.source_kind == "paste", "paste mode")
        pem = fixture_key("rsa3072.pem")
        wizard.query_one("#src-paste", TextArea).text = pem.decode()
        await next_step(pilot, "preview")
        assert "RSA 3072" in screen_text(pilot.app) and "Source     pasted text" in screen_text(pilot.app)
        await next_step(pilot, "names")
        assert wizard.query_one("#name", Input).value == ""  # nothing to suggest a name from
        wizard.query_one("#name", Input).value = "pasted-rsa"
        await next_step(pilot, "confirm")
        command = wizard.cli_command()
        assert command.text == "kms-tui keys import - --name pasted-rsa --engine golang-default"
        assert "read from standard input" in screen_text(pilot.app)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(pilot.app.screen, KeyDetailScreen), "the imported key's detail")
        assert ui_kms.keys.resolve("pasted-rsa").key_id == key_id_of(pem)


async def test_encrypted_key_asks_for_its_passphrase(empty_app, ui_kms, files):
    async with empty_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot)
        wizard.query_one("#key-file-path", Input).value = str(files / "encrypted-rsa2048.pem")
        await next_step(pilot, "passphrase")
        field = wizard.query_one("#key-passphrase", Input)
        assert field.password and "Step 2 of 5 · Passphrase" in screen_text(pilot.app)
        await type_text(pilot, "wrong passphrase")
        assert "wrong passphrase" not in screen_text(pilot.app)  # masked
        await refused(pilot, "passphrase")
        assert message(pilot).startswith("Wrong passphrase: The passphrase does not decrypt this key.")
        assert field.value == ""  # cleared from the widget at once
        field.value = PASSPHRASE
        await next_step(pilot, "preview")
        assert field.value == ""
        text = screen_text(pilot.app)
        assert "RSA 2048" in text and "PEM private key, encrypted" in text and PASSPHRASE not in text
        await next_step(pilot, "names")
        wizard.query_one("#name", Input).value = "decrypted-rsa"
        await next_step(pilot, "confirm")
        assert wizard.cli_command().text.endswith("--passphrase-stdin")
        assert PASSPHRASE not in wizard.cli_command().text and PASSPHRASE not in screen_text(pilot.app)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(pilot.app.screen, KeyDetailScreen), "the imported key's detail")
        assert ui_kms.keys.resolve("decrypted-rsa").key_id == key_id_of(fixture_key("rsa2048.pem"))
        assert wizard._passphrase is None and wizard.data is None  # nothing kept after the import


async def test_garbage_is_refused_inline_and_nothing_is_stored(demo_app, demo_kms, files):
    count, audit = demo_kms.keys.count(), len(demo_kms.audit.rows(limit=1000))
    async with demo_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot)
        await refused(pilot, "source")
        assert message(pilot) == "Give the path of the key file, or choose Browse…"
        wizard.query_one("#key-file-path", Input).value = str(files / "notes.txt")
        await refused(pilot, "source")
        assert message(pilot).startswith("Unreadable key: The data is not a readable key")
        wizard.query_one("#key-file-path", Input).value = str(files / "missing.pem")
        await refused(pilot, "source")
        assert "does not exist" in message(pilot)
        wizard.query_one("#source-kind", RadioSet).focus()
        await pilot.press("right", "enter")
        wizard.query_one("#src-paste", TextArea).text = "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n"
        await refused(pilot, "source")
        assert message(pilot).startswith("Unreadable key:")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, ImportKeyWizard), "the wizard to close")
        assert demo_kms.keys.count() == count and len(demo_kms.audit.rows(limit=1000)) == audit


async def test_a_key_already_recorded_on_the_engine_is_refused_at_the_preview(demo_app, demo_kms, files):
    async with demo_app.run_test(size=(100, 32)) as pilot:
        await start(pilot)
        await type_text(pilot, str(files / "device-p256.pem"))
        await next_step(pilot, "preview")
        await refused(pilot, "preview")
        assert message(pilot) == "This key is already recorded on golang-default as 'device-fleet-01'."
