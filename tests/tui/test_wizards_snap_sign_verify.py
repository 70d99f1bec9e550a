"""Snapshots of every step of the sign and verify wizards, at 80x24 and 120x40.

Ed25519 signatures are deterministic, so the signature step draws the same every run.
"""

from __future__ import annotations

import hashlib

import pytest
from textual.widgets import Button, Input, RadioButton, TextArea

from kms_tui.wizards.sign import SignWizard
from kms_tui.wizards.verify import VerifyWizard
from tests.pilot import settle_view, type_text, until
from tests.tui import test_wizards_support as support
from tests.tui.conftest import SIZES
from tests.tui.test_wizards_support import SHOWN, next_step, refused

ui_kms = support.ui_kms  # the wizard tests' data directory is the CLI's default one
ui_shown = support.ui_shown

MESSAGE = "firmware image 1.4.3"
SIGN_STEPS = ["key", "key-not-found", "algorithm", "message", "digest", "signature", "saved"]
VERIFY_STEPS = ["key", "pasted-key", "algorithm", "message", "signature", "valid", "invalid"]


async def sign_up_to(pilot, step: str) -> None:
    kms = pilot.app.kms
    record = None if step == "key-not-found" else kms.keys.resolve("firmware-signing")
    wizard = SignWizard(record if step != "digest" else kms.keys.resolve("issuing-ca-2026"))
    pilot.app.push_screen(wizard)
    await until(pilot, lambda: getattr(wizard.focused, "id", "") == "key-ref")
    if step == "key-not-found":
        await type_text(pilot, "firmware-signing-2025")
        await refused(pilot, "key")
    if step in ("key", "key-not-found"):
        return await settle_view(pilot)
    await next_step(pilot, "algorithm")
    if step != "algorithm":
        await next_step(pilot, "message")
    if step == "digest":
        wizard.query_one("#msg-digest-choice", RadioButton).value = True  # no mouse: no lingering hover
        wizard.query_one("#msg-digest-input", Input).value = hashlib.sha384(MESSAGE.encode()).hexdigest()
    elif step != "algorithm":
        await type_text(pilot, MESSAGE)
    if step in ("signature", "saved"):
        await next_step(pilot, "signature")
    if step == "saved":
        (pilot.app.kms.data_dir.parent / "out").mkdir()
        wizard.query_one("#save-path", Input).value = f"{SHOWN}/out/firmware-1.4.3.sig"  # read back by the app
        wizard.query_one("#save", Button).press()
        await until(pilot, lambda: wizard.saved is not None)
    await settle_view(pilot)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", SIGN_STEPS)
def test_sign_wizard(snap_compare, demo_app, size, step):
    async def run_before(pilot):
        await sign_up_to(pilot, step)

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)


async def verify_up_to(pilot, step: str) -> None:
    kms = pilot.app.kms
    record = kms.keys.resolve("firmware-signing")
    signature = kms.signing.sign("firmware-signing", "ED25519", MESSAGE.encode())
    wizard = VerifyWizard(record)
    pilot.app.push_screen(wizard)
    await until(pilot, lambda: getattr(wizard.focused, "id", "") == "key-ref")
    if step == "pasted-key":
        wizard.query_one("#key-pem-choice", RadioButton).value = True
        wizard.query_one("#key-pem", TextArea).text = record.public_key
    if step in ("key", "pasted-key"):
        return await settle_view(pilot)
    await next_step(pilot, "algorithm")
    if step != "algorithm":
        await next_step(pilot, "message")
        await type_text(pilot, MESSAGE if step != "invalid" else MESSAGE.replace("1.4.3", "1.4.4"))
    if step in ("signature", "valid", "invalid"):
        await next_step(pilot, "signature")
        wizard.query_one("#sig-text", TextArea).text = signature.hex()
    if step in ("valid", "invalid"):
        await next_step(pilot, "result")
    await settle_view(pilot)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", VERIFY_STEPS)
def test_verify_wizard(snap_compare, demo_app, size, step):
    async def run_before(pilot):
        await verify_up_to(pilot, step)

    assert snap_compare(demo_app, terminal_size=SIZES[size], run_before=run_before)
