"""ML-DSA in the create, sign and verify wizards: each step it changes, at 80x24.

Each walk to a snapshot is also the behaviour test of that wizard with ML-DSA, through the real
service on the software engine: signatures (raw, and a file's external mu) are checked with
``cryptography``, a saved one too, a tampered one is INVALID; what the wizards run in a worker
is called directly where a second walk would draw nothing new. ML-DSA signs with fresh randomness
(hedged), so the signature step draws a fixed stand-in of the same length once the real signature
has been checked.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from textual.widgets import Button, Checkbox, Input, OptionList, RadioButton, TextArea

from kms_tui.wizards.commands import sign_command
from kms_tui.wizards.create import CreateKeyWizard
from kms_tui.wizards.sign import SignWizard
from kms_tui.wizards.sign import sign_message as sign_file
from kms_tui.wizards.verify import VerifyWizard, read_message, verify_signature
from tests.pilot import settle_view, type_text, until
from tests.tui import test_wizards_support as support
from tests.tui.conftest import SIZES
from tests.tui.test_wizards_create import choose
from tests.tui.test_wizards_mldsa import (
    KEY_NAME,
    MESSAGE,
    create_mldsa65,
    mldsa65_key,
    with_mldsa_key,
)
from tests.tui.test_wizards_support import SHOWN, next_step, open_wizard

ui_kms = support.ui_kms  # the wizard tests' data directory is the CLI's default one
ui_shown = support.ui_shown

STEPS = ["create-algorithm", "sign-message", "sign-signature", "verify-result"]
IMAGE = MESSAGE * 5000  # a 100 000-byte file, hashed here to its external mu


async def create_algorithm(pilot) -> None:
    """A key created first, through to the engine; then a second wizard, on the algorithm step."""
    await create_mldsa65(pilot)
    pilot.app.clear_notifications()  # "Key … created."
    wizard = CreateKeyWizard()
    pilot.app.push_screen(wizard)
    await until(pilot, lambda: wizard.supported_for == "golang-default" and wizard.focused is not None)
    await next_step(pilot, "algorithm")
    await choose(pilot, wizard, "ML-DSA", 65)


async def to_message(pilot, wizard) -> None:
    """From the key step of the sign or verify wizard to its message step: one algorithm, no digest."""
    await next_step(pilot, "algorithm")
    assert [o.id for o in wizard.query_one("#algorithm-list", OptionList).options] == ["ML_DSA_SHAKE_256"]
    await next_step(pilot, "message")
    digest = wizard.query_one("#msg-digest-choice", RadioButton)
    assert not digest.display and digest.disabled  # ML-DSA signs the message itself: no digest offered


async def choose_file(pilot, wizard, mu: bool) -> None:
    wizard.query_one("#msg-file-choice", RadioButton).value = True
    wizard.query_one("#msg-path-path", Input).value = f"{SHOWN}/image.bin"  # read back by the app
    mu_box = wizard.query_one("#msg-mu", Checkbox)
    mu_box.value = mu and mu_box.display


async def sign_message(pilot, step: str) -> None:
    kms = pilot.app.kms
    (kms.data_dir.parent / "image.bin").write_bytes(IMAGE)
    wizard = SignWizard(kms.keys.resolve(KEY_NAME))
    await open_wizard(pilot, wizard, "key")
    await to_message(pilot, wizard)
    if step == "sign-message":
        await choose_file(pilot, wizard, mu=True)
        assert wizard.query_one("#msg-mu", Checkbox).display  # the software engine signs an external mu
        return
    public_key = mldsa65_key().public_key()
    await type_text(pilot, MESSAGE.decode())
    await next_step(pilot, "signature")
    signature = base64.b64decode(wizard.query_one("#sig-base64", TextArea).text)
    public_key.verify(signature, MESSAGE)
    wizard.query_one("#save-path", Input).value = f"{SHOWN}/firmware.sig"
    wizard.query_one("#save", Button).press()
    await until(pilot, lambda: wizard.saved is not None, "the signature file")
    public_key.verify(base64.b64decode((kms.data_dir.parent / "firmware.sig").read_bytes()), MESSAGE)

    # The file, hashed here to its external mu: what the wizard runs on Sign for that choice.
    mu_signature, spec, length = sign_file(kms, KEY_NAME, wizard.algorithm, "external-mu", "",
                                           str(kms.data_dir.parent / "image.bin"), "")
    public_key.verify(mu_signature, IMAGE)  # the file's pure ML-DSA signature
    assert (spec.external_mu, length) == (True, len(IMAGE))
    assert kms.audit.rows(limit=1, action="key.sign")[0].details["message_type"] == "EXTERNAL_MU"
    assert "--message-type external-mu --in" in sign_command(KEY_NAME, wizard.algorithm, spec).text
    wizard.signature = hashlib.shake_256(b"stand-in").digest(len(wizard.signature))
    wizard.step_shown("signature")


async def verify_result(pilot) -> None:
    """The file's external-mu signature: VALID in the wizard; tampered, INVALID; and VALID read as the
    whole file's (raw) signature, which it is."""
    kms = pilot.app.kms
    (kms.data_dir.parent / "image.bin").write_bytes(IMAGE)
    signature = kms.signing.sign(KEY_NAME, "ML_DSA_SHAKE_256", kms.signing.external_mu(KEY_NAME, [IMAGE]),
                                 "EXTERNAL_MU")
    wizard = VerifyWizard(kms.keys.resolve(KEY_NAME))
    await open_wizard(pilot, wizard, "key")
    await to_message(pilot, wizard)
    await choose_file(pilot, wizard, mu=True)
    await next_step(pilot, "signature")
    wizard.query_one("#sig-text", TextArea).text = signature.hex()
    await next_step(pilot, "result")
    assert wizard.valid is True
    tampered = bytearray(signature)
    tampered[100] ^= 1  # the wizard's own verification, with what it read: INVALID
    assert verify_signature(kms, KEY_NAME, None, wizard.algorithm, wizard.message, "text", tampered.hex(), "") == (
        False, len(signature), "hex")
    raw = read_message(kms, KEY_NAME, wizard.algorithm, "file", "", str(kms.data_dir.parent / "image.bin"), "")
    assert not raw[1].external_mu
    assert verify_signature(kms, KEY_NAME, None, wizard.algorithm, raw, "text", signature.hex(), "")[0] is True


@pytest.mark.parametrize("step", STEPS)
def test_mldsa_wizards(snap_compare, empty_app, step):
    async def run_before(pilot):
        if step.startswith(("sign", "verify")):
            with_mldsa_key(pilot.app.kms)
        if step == "create-algorithm":
            await create_algorithm(pilot)
        elif step.startswith("sign"):
            await sign_message(pilot, step)
        else:
            await verify_result(pilot)
        await settle_view(pilot)

    assert snap_compare(empty_app, terminal_size=SIZES["80x24"], run_before=run_before)
