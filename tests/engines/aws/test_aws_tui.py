"""The AWS engines in the workstation: registration forms end to end, and an outage seen in the TUI."""

from __future__ import annotations

import pytest

from kms_tui.app import KmsApp
from kms_tui.dialogs.error import ErrorDialog
from kms_tui.screens.engines import EnginesScreen
from tests.engines.aws.moto_server import SECRET
from tests.pilot import fill, open_form, register, screen_text, shown_error, submit, until


@pytest.mark.parametrize(("engine_type", "engine_id", "extra"), [
    ("AWS_KMS", "aws-kms-eu-west-1", {}),
    ("AWS_SECRETS_MANAGER", "aws-sm-lamassu", {"prefix": "lamassu/"}),
])
async def test_registration_form_end_to_end(moto, kms, memory_keyring, engine_type, engine_id, extra):
    region = "eu-west-1" if engine_type == "AWS_KMS" else "eu-west-2"
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        await register(pilot, engine_type, engine_id, moto.options(region, **extra), SECRET)
        assert isinstance(pilot.app.screen, EnginesScreen), screen_text(pilot.app)
    view = kms.engines.get(engine_id)
    assert view.record.type == engine_type and view.record.config["region"] == region
    assert view.record.config.get("prefix") == extra.get("prefix")
    assert SECRET in memory_keyring.entries.values()
    assert SECRET.encode() not in (kms.data_dir / "kms.db").read_bytes()
    record = kms.keys.create("ECDSA", 256, f"{engine_id}-key", engine_id=engine_id)
    assert kms.signing.verify(record.name, "ECDSA_SHA_256", b"m", kms.signing.sign(record.name, "ECDSA_SHA_256", b"m"))


async def test_outage_shows_a_clear_error_and_the_app_keeps_working(moto, kms):
    kms.engines.register("AWS_KMS", "aws-kms", secret=SECRET,
                        options=moto.options("sa-east-1", read_timeout="2", max_attempts="1"))
    kms.keys.create("ECDSA", 256, "cloud-key", engine_id="aws-kms")
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(pilot.app.screen, EnginesScreen))
        moto.freeze()
        try:
            pilot.app.screen.call(kms.signing.sign, "cloud-key", "ECDSA_SHA_256", b"m")
            for _ in range(5):  # the UI answers while the worker waits on the frozen endpoint
                await pilot.press("f4")
                await pilot.press("f3")
            await until(pilot, lambda: isinstance(pilot.app.screen, ErrorDialog))
            text = await shown_error(pilot)
        finally:
            moto.resume()
        assert text.startswith("Engine unreachable"), text
        assert SECRET not in text
        pilot.app.screen.call(kms.signing.sign, "cloud-key", "ECDSA_SHA_256", b"m")  # back again: no error
        await until(pilot, lambda: not pilot.app.screen.workers, "the signature")
        assert not isinstance(pilot.app.screen, ErrorDialog)
    assert [r.action for r in kms.audit.rows(limit=1)] == ["key.sign"]


async def test_a_bad_option_is_refused_in_the_form(moto, kms):
    async with KmsApp(kms).run_test(size=(120, 40)) as pilot:
        dialog = await open_form(pilot, "AWS_KMS")
        await fill(pilot, dialog, "aws-bad", moto.options("eu-west-1", max_attempts="99"), SECRET)
        await submit(pilot, dialog)
        text = await shown_error(pilot)
        assert "max_attempts" in text, text
    assert [e.record.id for e in kms.engines.list()] == ["golang-default"]
