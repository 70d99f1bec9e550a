"""The Azure Key Vault engine in the workstation: the registration form, and its errors shown in the TUI."""

from __future__ import annotations

from functools import partial

from kms_tui.app import KmsApp
from kms_tui.screens.engines import EnginesScreen
from tests.engines.azure.helpers import SECRET, engine_options
from tests.pilot import fill, open_form, register, screen_text, shown_error, submit, until


async def test_registration_form_end_to_end(server, kms, memory_keyring):
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        await register(pilot, "AZURE_KEY_VAULT", "azure-prod", engine_options(server), SECRET)
        assert isinstance(pilot.app.screen, EnginesScreen), screen_text(pilot.app)
    view = kms.engines.get("azure-prod")
    assert view.record.config["vault_url"] == server.url and view.record.security_level == 1
    assert SECRET in memory_keyring.entries.values()
    assert SECRET.encode() not in (kms.data_dir / "kms.db").read_bytes()
    kms.keys.create("ECDSA", 256, "az-key", engine_id="azure-prod")
    assert kms.signing.verify("az-key", "ECDSA_SHA_256", b"m", kms.signing.sign("az-key", "ECDSA_SHA_256", b"m"))


async def test_wrong_secret_and_unreachable_vault_each_say_so(server, kms):
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        dialog = await open_form(pilot, "AZURE_KEY_VAULT")
        await fill(pilot, dialog, "azure", engine_options(server), "wrong-secret")
        await submit(pilot, dialog)
        text = await shown_error(pilot)
        assert "authentication" in text.lower() and "wrong-secret" not in text, text
        await fill(pilot, dialog, "azure", engine_options(server, vault_url="https://127.0.0.1:9"), SECRET)
        await submit(pilot, dialog)
        text = await shown_error(pilot)
        assert "unreachable" in text.lower() and "127.0.0.1:9" in text, text
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]


async def test_a_forbidden_operation_says_so_and_the_app_keeps_working(server, kms):
    from kms_tui.dialogs.error import ErrorDialog
    from tests.engines.azure.helpers import READER, READER_SECRET

    kms.engines.register("AZURE_KEY_VAULT", "azure-read", options=engine_options(server, client_id=READER),
                        secret=READER_SECRET)
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        pilot.app.screen.call(partial(kms.keys.create, "ECDSA", 256, "not-allowed", engine_id="azure-read"))
        await until(pilot, lambda: isinstance(pilot.app.screen, ErrorDialog))
        text = await shown_error(pilot)
        assert "denied" in text.lower() or "forbidden" in text.lower(), text
        assert READER_SECRET not in text
        await pilot.press("f4")  # still answering
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "StatsScreen")
    assert kms.keys.count() == 0
