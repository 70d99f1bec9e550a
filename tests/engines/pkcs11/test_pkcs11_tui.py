"""The PKCS#11 engine in the workstation: the registration form lists the tokens; errors show in a modal."""

from __future__ import annotations

from kms_tui.app import KmsApp
from kms_tui.dialogs.error import ErrorDialog
from tests.engines.pkcs11.softhsm import MODULE, USER_PIN
from tests.pilot import discover, fill, open_form, screen_text, shown_error, submit, until


async def test_register_form_lists_tokens_and_registers(softhsm, kms, memory_keyring):
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        dialog = await open_form(pilot, "PKCS11")
        await fill(pilot, dialog, "pkcs11-prod-hsm", {"module": MODULE}, USER_PIN)
        tokens = await discover(pilot, dialog, "token")
        offered = [str(label) for label, _ in tokens._options]
        assert any("service" in label for label in offered) and any("spare" in label for label in offered)
        tokens.value = "spare"
        await submit(pilot, dialog)
        assert not isinstance(pilot.app.screen, ErrorDialog), screen_text(pilot.app)
    view = kms.engines.get("pkcs11-prod-hsm")
    assert view.record.config == {"module": MODULE, "token": "spare"}
    assert "Ed25519" in view.record.supported_key_types and view.record.security_level == 2
    assert USER_PIN in memory_keyring.entries.values()
    assert USER_PIN.encode() not in (kms.data_dir / "kms.db").read_bytes()
    record = kms.keys.create("ECDSA", 384, "hsm-root", engine_id="pkcs11-prod-hsm")
    assert record.pkcs11_uri.startswith("pkcs11:") and "token=spare" in record.pkcs11_uri


async def test_wrong_pin_and_missing_token_show_their_errors_and_record_nothing(softhsm, kms):
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        dialog = await open_form(pilot, "PKCS11")
        await fill(pilot, dialog, "hsm", {"module": MODULE, "token": "service"}, "not-the-pin")
        await submit(pilot, dialog)
        text = await shown_error(pilot)
        assert text.startswith("Wrong PIN") and "not-the-pin" not in text, text
        await fill(pilot, dialog, "hsm", {"module": MODULE, "token": "no-such-token"}, USER_PIN)
        await submit(pilot, dialog)
        text = await shown_error(pilot)
        assert "no-such-token" in text and "service" in text, text  # names the labels that exist
        await fill(pilot, dialog, "hsm", {"module": "/nonexistent/libpkcs11.so", "token": "service"}, USER_PIN)
        await submit(pilot, dialog)
        text = await shown_error(pilot)
        assert "/nonexistent/libpkcs11.so" in text, text
        assert isinstance(pilot.app.screen, type(dialog))  # the form is still there to correct
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]


async def test_an_unsupported_mechanism_shows_its_error(softhsm, restricted, kms):
    kms.engines.register("PKCS11", "restricted-hsm", options=restricted, secret=USER_PIN)
    kms.keys.create("RSA", 2048, "no-pss", engine_id="restricted-hsm")
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        pilot.app.screen.call(kms.signing.sign, "no-pss", "RSASSA_PSS_SHA_256", b"m")
        await until(pilot, lambda: isinstance(pilot.app.screen, ErrorDialog))
        text = await shown_error(pilot)
        assert "PSS" in text, text
    assert [r.action for r in kms.audit.rows(limit=1)] == ["key.create"]
