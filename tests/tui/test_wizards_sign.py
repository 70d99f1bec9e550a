"""The sign wizard, driven with Pilot; signatures are checked with ``cryptography`` against the public key."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from textual.widgets import Input, OptionList, Select, TextArea

from kms_tui.actions import open_sign
from kms_tui.wizards.sign import SignWizard
from tests.pilot import quick_idle, screen_text, type_text, until  # noqa: F401 - quick_idle: a fixture
from tests.tui import test_wizards_support as support
from tests.tui.test_wizards_support import message, next_step, refused

pytestmark = pytest.mark.usefixtures("quick_idle")  # every step is awaited with until()

ui_kms = support.ui_kms  # the wizard tests' data directory is the CLI's default one
ui_shown = support.ui_shown


async def start(pilot, record=None) -> SignWizard:
    open_sign(pilot.app, record)
    await until(pilot, lambda: isinstance(pilot.app.screen, SignWizard), "the sign wizard")
    wizard = pilot.app.screen
    await until(pilot, lambda: wizard.focused is not None and wizard.focused.id == "key-ref", "the key field")
    return wizard


def shown_signature(wizard) -> bytes:
    """The signature as the wizard shows it (base64 field), checked against the hex field."""
    signature = base64.b64decode(wizard.query_one("#sig-base64", TextArea).text)
    assert wizard.query_one("#sig-hex", TextArea).text == signature.hex()
    assert wizard.query_one("#sig-base64", TextArea).read_only
    return signature


def public_key(kms, ref: str):
    return serialization.load_pem_public_key(kms.keys.resolve(ref).public_key.encode())


async def test_a_signature_from_the_wizard_verifies_with_cryptography(demo_app, demo_kms, tmp_path):
    async with demo_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot, demo_kms.keys.resolve("issuing-ca-2026"))
        assert wizard.query_one("#key-ref", Input).value == "issuing-ca-2026"  # prefilled
        await next_step(pilot, "algorithm")
        algorithms = wizard.query_one("#algorithm-list", OptionList)
        assert [o.id for o in algorithms.options] == ["ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512"]
        assert algorithms.highlighted_option.id == "ECDSA_SHA_384"  # matched to the P-384 curve
        await next_step(pilot, "message")
        await type_text(pilot, "release 2026.03 manifest")
        await next_step(pilot, "signature")
        signature = shown_signature(wizard)
        public_key(demo_kms, "issuing-ca-2026").verify(
            signature, b"release 2026.03 manifest", ec.ECDSA(hashes.SHA384()))
        rows = demo_kms.audit.rows(limit=1, action="key.sign")
        assert rows[0].details["signature_sha256"] == hashlib.sha256(signature).hexdigest()
        await pilot.press("ctrl+n")  # Done
        await until(pilot, lambda: not isinstance(pilot.app.screen, SignWizard), "the wizard to close")

        # Without a record: an alias, an RSA key, PSS, a message file.
        (tmp_path / "firmware.bin").write_bytes(bytes(range(256)) * 40)
        wizard = await start(pilot)
        await type_text(pilot, "intermediate-ca")
        await next_step(pilot, "algorithm")
        algorithms = wizard.query_one("#algorithm-list", OptionList)
        assert {o.id for o in algorithms.options} == {
            f"RSASSA_{p}_SHA_{b}" for p in ("PKCS1_V1_5", "PSS") for b in (256, 384, 512)}
        algorithms.highlighted = [o.id for o in algorithms.options].index("RSASSA_PSS_SHA_256")
        await next_step(pilot, "message")
        await pilot.click("#msg-file-choice")
        wizard.query_one("#msg-path-path", Input).value = str(tmp_path / "firmware.bin")
        await next_step(pilot, "signature")
        public_key(demo_kms, "intermediate-ca").verify(
            shown_signature(wizard), (tmp_path / "firmware.bin").read_bytes(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        assert wizard.cli_command().text == (
            f"kms-tui keys sign intermediate-ca-2026 --algorithm RSASSA_PSS_SHA_256 --in {tmp_path}/firmware.bin")


async def test_key_references_are_resolved_with_clear_inline_errors(demo_app, demo_kms):
    async with demo_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot)
        await refused(pilot, "key")
        assert message(pilot) == "Give the key: a name, an alias, a key id or a pkcs11: URI."
        await type_text(pilot, "no-such-key")
        await refused(pilot, "key")
        assert message(pilot).startswith("Key not found: No key is known as 'no-such-key'.")
        wizard.query_one("#key-ref", Input).value = "partner-root-public"
        await refused(pilot, "key")
        assert "public key only: it can verify but not sign" in message(pilot)
        wizard.query_one("#key-ref", Input).value = demo_kms.keys.resolve("firmware-signing").key_id
        await next_step(pilot, "algorithm")
        assert [o.id for o in wizard.query_one("#algorithm-list", OptionList).options] == ["ED25519"]


async def test_a_digest_of_the_wrong_length_is_refused_inline(demo_app, demo_kms):
    async with demo_app.run_test(size=(100, 32)) as pilot:
        await start(pilot, demo_kms.keys.resolve("issuing-ca-2026"))
        await next_step(pilot, "algorithm")
        await next_step(pilot, "message")
        await pilot.click("#msg-digest-choice")
        assert "ECDSA_SHA_384 needs a 48-byte SHA384 digest" in screen_text(pilot.app)
        wizard = pilot.app.screen
        wizard.query_one("#msg-digest-input", Input).value = hashlib.sha256(b"x").hexdigest()
        before = len(demo_kms.audit.rows(limit=1000, action="key.sign"))
        await refused(pilot, "message")
        assert message(pilot) == (
            "Wrong digest length: ECDSA_SHA_384 needs a 48-byte SHA384 digest; got 32 bytes.")
        assert len(demo_kms.audit.rows(limit=1000, action="key.sign")) == before  # nothing was signed
        digest = hashlib.sha384(b"the real message").digest()
        wizard.query_one("#msg-digest-input", Input).value = base64.b64encode(digest).decode()
        await next_step(pilot, "signature")
        public_key(demo_kms, "issuing-ca-2026").verify(
            shown_signature(wizard), digest, ec.ECDSA(utils.Prehashed(hashes.SHA384())))
        assert "--message-type digest --in - --input-encoding base64" in wizard.cli_command().text


async def test_saving_writes_the_file_and_never_overwrites(demo_app, demo_kms, ui_root):
    target = ui_root / "out" / "manifest.sig"
    target.parent.mkdir(parents=True)
    async with demo_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot, demo_kms.keys.resolve("firmware-signing"))
        await next_step(pilot, "algorithm")
        await next_step(pilot, "message")
        await type_text(pilot, "manifest")
        await next_step(pilot, "signature")
        signature = shown_signature(wizard)
        wizard.query_one("#save-path", Input).focus()
        await type_text(pilot, str(target))
        await pilot.press("enter")
        await until(pilot, lambda: target.exists(), "the signature file")
        await until(pilot, lambda: message(pilot).startswith("Saved to"), "the saved note")
        assert target.read_bytes() == base64.b64encode(signature) + b"\n"
        assert wizard.step_id == "signature"  # Enter in the path saves; it does not close the wizard
        assert wizard.cli_command().text.endswith(f"--out {target} --encoding base64")
        public_key(demo_kms, "firmware-signing").verify(base64.b64decode(target.read_bytes()), b"manifest")

        wizard.query_one("#save-encoding", Select).value = "raw"
        await pilot.click("#save")
        await until(pilot, lambda: "not overwritten" in message(pilot), "the refusal")
        assert message(pilot) == f"'{pilot.app.paths.path(target)}' exists; it is not overwritten."
        assert target.read_bytes() == base64.b64encode(signature) + b"\n"  # unchanged
        with pytest.raises(InvalidSignature):
            public_key(demo_kms, "firmware-signing").verify(signature, b"another manifest")
