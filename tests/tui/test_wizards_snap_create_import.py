"""Snapshots of every step of the create and import wizards (and the file picker), at 80x24 and 120x40."""

from __future__ import annotations

import pytest
from textual.widgets import Input, RadioSet, TextArea

from kms_tui.widgets.file_picker import FilePickerDialog
from kms_tui.wizards.create import CreateKeyWizard
from kms_tui.wizards.import_key import ImportKeyWizard
from tests.pilot import settle_view, type_text, until
from tests.tui import test_wizards_support as support
from tests.tui.conftest import SIZES, fixture_key
from tests.tui.test_wizards_support import PASSPHRASE, SHOWN, next_step, refused

ui_kms = support.ui_kms  # the wizard tests' data directory is the CLI's default one
ui_shown = support.ui_shown
files = support.files  # fixed key files to import
FILES = f"{SHOWN}/files"  # as the app shows (and reads back) the files' folder

CREATE_STEPS = ["engine", "algorithm", "names", "name-taken", "confirm", "generate"]
IMPORT_STEPS = ["source", "picker", "paste", "passphrase", "wrong-passphrase", "preview", "names", "confirm"]


async def create_up_to(pilot, step: str) -> None:
    wizard = CreateKeyWizard()
    pilot.app.push_screen(wizard)
    await until(pilot, lambda: wizard.supported_for == "golang-default" and wizard.focused is not None)
    if step != "engine":
        await next_step(pilot, "algorithm")
        await pilot.press("down")  # ECDSA; its first HIGH size (P-384) is chosen
        await until(pilot, lambda: wizard.algorithm == "ECDSA")
    if step in ("names", "name-taken", "confirm", "generate"):
        await next_step(pilot, "names")
        taken = step == "name-taken"
        await type_text(pilot, "issuing-ca-2026" if taken else "issuing-ca-2027")
        await pilot.press("tab")
        await type_text(pilot, "issuing-ca-next")
        await pilot.press("tab")
        await type_text(pilot, "pki, ca")
        if taken:
            await refused(pilot, "names")
    if step in ("confirm", "generate"):
        await next_step(pilot, "confirm")
    if step == "generate":
        # The generation step as it looks while the engine works (the key itself is made in the behaviour tests).
        wizard.show_generating()
        wizard.go_to("generate")
        await until(pilot, lambda: wizard.step_id == "generate")
    await settle_view(pilot)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", CREATE_STEPS)
def test_create_wizard(snap_compare, demo_app, size, step):
    async def run_before(pilot):
        await create_up_to(pilot, step)

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)


async def import_up_to(pilot, step: str) -> None:
    wizard = ImportKeyWizard()
    pilot.app.push_screen(wizard)
    await until(pilot, lambda: wizard.engine_id is not None and getattr(wizard.focused, "id", "") == "key-file-path")
    encrypted = step in ("passphrase", "wrong-passphrase")
    path = f"{FILES}/{'encrypted-rsa2048.pem' if encrypted else 'device-p256.pem'}"
    if step == "picker":
        wizard.query_one("#key-file-path", Input).value = f"{FILES}/"
        await pilot.press("ctrl+o")  # Browse from the keyboard: no button press effect to catch mid-way
        await until(pilot, lambda: isinstance(pilot.app.screen, FilePickerDialog))
        picker = pilot.app.screen
        await until(pilot, lambda: picker.tree is not None and len(picker.tree.root.children) == 5)
        await pilot.press("down", "down")  # highlight device-p256.pem
    elif step == "paste":
        wizard.query_one("#source-kind", RadioSet).focus()
        await pilot.press("right", "enter")
        wizard.query_one("#src-paste", TextArea).text = fixture_key("p256.pem").decode()
        wizard.query_one("#src-paste", TextArea).focus()
    else:
        await type_text(pilot, path)
    if step in ("passphrase", "wrong-passphrase"):
        await next_step(pilot, "passphrase")
        if step == "wrong-passphrase":
            await type_text(pilot, "not the passphrase")
            await refused(pilot, "passphrase")
        await type_text(pilot, PASSPHRASE[:9])  # typed, masked
    if step in ("preview", "names", "confirm"):
        await next_step(pilot, "preview")
    if step in ("names", "confirm"):
        await next_step(pilot, "names")
        await pilot.press("tab")
        await type_text(pilot, "dev-p256")
        await pilot.press("tab")
        await type_text(pilot, "devices")
    if step == "confirm":
        await next_step(pilot, "confirm")
    await settle_view(pilot)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", IMPORT_STEPS)
def test_import_wizard(snap_compare, empty_app, files, size, step):
    async def run_before(pilot):
        await import_up_to(pilot, step)

    assert snap_compare(empty_app, terminal_size=SIZES[size], run_before=run_before)

