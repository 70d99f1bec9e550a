"""The verify wizard, driven with Pilot: VALID and INVALID, recorded and pasted public keys, files, digests."""

from __future__ import annotations

import base64
import hashlib

import pytest
from textual.widgets import Input, OptionList, TextArea

from kms_tui.actions import open_verify
from kms_tui.wizards.verify import VerifyWizard
from tests.pilot import quick_idle, screen_text, type_text, until  # noqa: F401 - quick_idle: a fixture
from tests.tui import test_wizards_support as support
from tests.tui.conftest import fixture_key
from tests.tui.test_wizards_support import message, next_step, refused

pytestmark = pytest.mark.usefixtures("quick_idle")  # every step is awaited with until()

ui_kms = support.ui_kms  # the wizard tests' data directory is the CLI's default one
ui_shown = support.ui_shown


async def start(pilot, record=None) -> VerifyWizard:
    open_verify(pilot.app, record)
    await until(pilot, lambda: isinstance(pilot.app.screen, VerifyWizard), "the verify wizard")
    wizard = pilot.app.screen
    await until(pilot, lambda: wizard.focused is not None and wizard.focused.id == "key-ref", "the key field")
    return wizard


async def test_valid_then_invalid_for_a_tampered_message(demo_app, demo_kms):
    signature = demo_kms.signing.sign("issuing-ca-2026", "ECDSA_SHA_384", b"CSR for gateway-17")
    async with demo_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot, demo_kms.keys.resolve("issuing-ca-2026"))
        await next_step(pilot, "algorithm")
        assert wizard.query_one("#algorithm-list", OptionList).highlighted_option.id == "ECDSA_SHA_384"
        await next_step(pilot, "message")
        await type_text(pilot, "CSR for gateway-17")
        await next_step(pilot, "signature")
        await type_text(pilot, base64.b64encode(signature).decode())
        await next_step(pilot, "result")
        assert wizard.valid is True and "valid" in wizard.query_one("#verdict").classes
        text = screen_text(pilot.app)
        assert "The signature matches this message and key." in text and "█▀▀▀▄" in text
        assert "read as base64" in text

        # Back keeps the values: change one character of the message and verify again.
        await pilot.press("ctrl+b", "ctrl+b")
        await until(pilot, lambda: wizard.step_id == "message")
        area = wizard.query_one("#msg-text", TextArea)
        assert area.text == "CSR for gateway-17"
        area.text = "CSR for gateway-18"
        await next_step(pilot, "signature")
        assert wizard.query_one("#sig-text", TextArea).text == base64.b64encode(signature).decode()
        await next_step(pilot, "result")
        assert wizard.valid is False and "invalid" in wizard.query_one("#verdict").classes
        assert "The signature does NOT match this message and key." in screen_text(pilot.app)
        assert wizard.cli_command().text == (
            "kms-tui keys verify issuing-ca-2026 --algorithm ECDSA_SHA_384 --in - "
            "--signature SIGNATURE_FILE --encoding base64")


async def test_signature_files_in_hex_and_raw(demo_app, demo_kms, ui_root):
    folder = ui_root / "sigs"
    folder.mkdir(parents=True)
    data = fixture_key("ed25519.pem")  # any file will do as the message
    (folder / "message.bin").write_bytes(data)
    signature = demo_kms.signing.sign("intermediate-ca", "RSASSA_PKCS1_V1_5_SHA_512", data)
    (folder / "sig.hex").write_text(signature.hex() + "\n")
    (folder / "sig.raw").write_bytes(signature)
    async with demo_app.run_test(size=(100, 32)) as pilot:
        for name, encoding in (("sig.hex", "hex"), ("sig.raw", "raw")):
            wizard = await start(pilot)
            await type_text(pilot, "intermediate-ca")
            await next_step(pilot, "algorithm")
            algorithms = wizard.query_one("#algorithm-list", OptionList)
            algorithms.highlighted = [o.id for o in algorithms.options].index("RSASSA_PKCS1_V1_5_SHA_512")
            await next_step(pilot, "message")
            await pilot.click("#msg-file-choice")
            wizard.query_one("#msg-path-path", Input).value = str(folder / "message.bin")
            await next_step(pilot, "signature")
            await pilot.click("#sig-file-choice")
            wizard.query_one("#sig-path-path", Input).value = str(folder / name)
            await next_step(pilot, "result")
            assert wizard.valid is True and f"read as {encoding}" in screen_text(pilot.app)
            assert wizard.cli_command().text.endswith(
                f"--in {folder}/message.bin --signature {folder}/{name} --encoding {encoding}")
            await pilot.press("ctrl+n")
            await until(pilot, lambda: not isinstance(pilot.app.screen, VerifyWizard), "the wizard to close")


async def test_with_a_pasted_public_key(demo_app, demo_kms):
    record = demo_kms.keys.resolve("firmware-signing")
    signature = demo_kms.signing.sign("firmware-signing", "ED25519", b"firmware image 1.4.3")
    async with demo_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot)
        await pilot.click("#key-pem-choice")
        wizard.query_one("#key-pem", TextArea).text = fixture_key("ed25519.pem").decode()
        await refused(pilot, "key")  # a private key is not what this asks for
        assert message(pilot) == "This is a private key: paste only the public key. Nothing was stored."
        wizard.query_one("#key-pem", TextArea).text = record.public_key
        await next_step(pilot, "algorithm")
        assert [o.id for o in wizard.query_one("#algorithm-list", OptionList).options] == ["ED25519"]
        assert "pasted public key  Ed25519 256" in screen_text(pilot.app)
        await next_step(pilot, "message")
        await type_text(pilot, "firmware image 1.4.3")
        await next_step(pilot, "signature")
        wizard.query_one("#sig-text", TextArea).text = signature.hex()
        await next_step(pilot, "result")
        assert wizard.valid is True and "read as hex" in screen_text(pilot.app)
        command = wizard.cli_command()
        assert command.argv[:4] == ["kms-tui", "keys", "verify", "PUBLIC_KEY_NAME"]
        assert any("record the public key first" in note for note in command.notes)

        await pilot.press("ctrl+b", "ctrl+b")
        await until(pilot, lambda: wizard.step_id == "message")
        wizard.query_one("#msg-text", TextArea).text = "firmware image 1.4.4"
        await next_step(pilot, "signature")
        await next_step(pilot, "result")
        assert wizard.valid is False


async def test_message_and_signature_problems_are_refused_inline(demo_app, demo_kms):
    async with demo_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot, demo_kms.keys.resolve("device-fleet-01"))
        await next_step(pilot, "algorithm")
        await next_step(pilot, "message")
        await refused(pilot, "message")
        assert message(pilot) == "Type the message, or choose a file or a digest."
        await pilot.click("#msg-digest-choice")
        wizard.query_one("#msg-digest-input", Input).value = hashlib.sha512(b"m").hexdigest()
        await refused(pilot, "message")
        assert message(pilot).startswith("Wrong digest length: ECDSA_SHA_256 needs a 32-byte SHA256 digest")
        wizard.query_one("#msg-digest-input", Input).value = hashlib.sha256(b"m").hexdigest()
        await next_step(pilot, "signature")
        await refused(pilot, "signature")
        assert message(pilot) == "The signature is empty."
        wizard.query_one("#sig-text", TextArea).text = "not a signature!"
        await refused(pilot, "signature")
        assert message(pilot) == "The signature is neither hex nor base64."
