"""The create-key wizard, driven with Pilot against the software engine; results checked through the service."""

from __future__ import annotations

import os

import pytest
from textual.widgets import Input, OptionList

from engines.errors import KmsError
from kms_tui.actions import open_create
from kms_tui.screens.key_detail import KeyDetailScreen
from kms_tui.wizards.create import CreateKeyWizard
from tests.pilot import screen_text, until
from tests.tui import test_wizards_support as support
from tests.tui.test_wizards_support import message, next_step, refused

ui_kms = support.ui_kms  # the wizard tests' data directory is the CLI's default one
ui_shown = support.ui_shown


def option_ids(screen, selector: str) -> list[str]:
    options = screen.query_one(selector, OptionList).options
    return [o.id for o in options]


async def start(pilot) -> CreateKeyWizard:
    open_create(pilot.app)
    await until(pilot, lambda: isinstance(pilot.app.screen, CreateKeyWizard), "the create wizard")
    wizard = pilot.app.screen
    await until(pilot, lambda: wizard.supported_for is not None, "the engine's supported key types")
    await until(pilot, lambda: wizard.focused is not None, "the engine list to take the focus")
    return wizard


async def choose(pilot, wizard, algorithm: str, size: int) -> None:
    wizard.query_one("#algorithm-list", OptionList).focus()
    await pilot.pause()
    for _ in range(len(option_ids(wizard, "#algorithm-list"))):
        if wizard.algorithm == algorithm:
            break
        await pilot.press("down")
    wizard.query_one("#size-list", OptionList).focus()
    await pilot.pause()
    await pilot.press("home")
    for _ in range(len(option_ids(wizard, "#size-list"))):
        if wizard.key_size == size:
            break
        await pilot.press("down")
    assert (wizard.algorithm, wizard.key_size) == (algorithm, size)


async def fill_names(pilot, wizard, name: str, aliases: str = "", tags: str = "") -> None:
    for field, value in (("#name", name), ("#aliases", aliases), ("#tags", tags)):
        wizard.query_one(field, Input).value = value


async def test_create_end_to_end_on_the_chosen_engine(demo_app, demo_kms):
    demo_kms.engines.register("GOLANG", "soft-two", name="Second software engine")
    async with demo_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot)
        assert wizard.engine_id == "golang-default"  # the default engine is preselected
        await pilot.press("down")  # the engine list has the focus
        await until(pilot, lambda: wizard.supported_for == "soft-two", "soft-two's key types")
        await next_step(pilot, "algorithm")
        await choose(pilot, wizard, "ECDSA", 384)
        text = screen_text(pilot.app)
        assert "ECDSA P-384 is rated HIGH" in text  # the strength panel follows the choice
        # ... and the engine: P-384 is long enough for a root CA, but soft-two keeps keys in software.
        assert "✗ Root CA" in text and "held in software" in text and "✓ Device" in text
        await next_step(pilot, "names")
        await fill_names(pilot, wizard, "ca-[b]new[/b]-2026", "ca-new, ca-next", "pki, ca, pki")
        wizard.query_one("#backup-policy", Input).value = "1-of-3"  # one custodian alone of three: refused
        await refused(pilot, "names")
        assert "would give each of them the whole key" in message(pilot)
        wizard.query_one("#backup-policy", Input).value = "2-of-3"
        await next_step(pilot, "confirm")
        text = screen_text(pilot.app)
        assert "ca-[b]new[/b]-2026" in text and "soft-two" in text and "2-of-3: its material may leave" in text
        assert wizard.cli_command().text == (
            "kms-tui keys create --algorithm ECDSA --size 384 --name 'ca-[b]new[/b]-2026' --engine soft-two "
            "--alias ca-new --alias ca-next --tag pki --tag ca --backup 2-of-3")
        assert "$ kms-tui keys create --algorithm ECDSA" in text
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(pilot.app.screen, KeyDetailScreen), "the new key's detail")
        record = demo_kms.keys.resolve("ca-[b]new[/b]-2026")
        assert (record.engine_id, record.algorithm, record.size) == ("soft-two", "ECDSA", 384)
        assert record.aliases == ["ca-new", "ca-next"] and record.tags == ["pki", "ca"]
        assert demo_kms.backup.state(record) == "policy 2-of-3; not backed up yet"
        assert record.has_private_key and demo_kms.keys.resolve("ca-next").key_id == record.key_id
        assert pilot.app.screen.key_id == record.key_id  # the new key is what opened


async def test_only_what_the_engine_supports_is_offered(demo_app, demo_kms, monkeypatch):
    async with demo_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot)
        await next_step(pilot, "algorithm")
        supported = demo_kms.engines.supported_key_types("golang-default")
        assert option_ids(wizard, "#algorithm-list") == [a for a in ("RSA", "ECDSA", "Ed25519", "ML-DSA") if a in supported]
        await choose(pilot, wizard, "RSA", 3072)
        assert option_ids(wizard, "#size-list") == [str(s) for s in sorted(supported["RSA"])]
        assert "1024" not in option_ids(wizard, "#size-list")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, CreateKeyWizard), "the wizard to close")

        # An engine that cannot make Ed25519 or ML-DSA keys or small curves: they are not offered.
        monkeypatch.setattr(demo_kms.engines, "supported_key_types", lambda engine_id: {"RSA": [4096, 2048], "ECDSA": [384]})
        wizard = await start(pilot)
        await next_step(pilot, "algorithm")
        assert option_ids(wizard, "#algorithm-list") == ["RSA", "ECDSA"]
        assert option_ids(wizard, "#size-list") == ["2048", "4096"]
        await choose(pilot, wizard, "ECDSA", 384)
        assert option_ids(wizard, "#size-list") == ["384"]


async def test_a_taken_name_or_alias_is_refused_inline(demo_app, demo_kms):
    before = demo_kms.keys.count()
    async with demo_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot)
        await next_step(pilot, "algorithm")
        await next_step(pilot, "names")
        await refused(pilot, "names")
        assert message(pilot) == "A key needs a name."
        await fill_names(pilot, wizard, "issuing-ca-2026")
        await refused(pilot, "names")
        assert "already used" in message(pilot) and "issuing-ca-2026" in screen_text(pilot.app)
        await fill_names(pilot, wizard, "fresh-name", "issuing-ca")
        await refused(pilot, "names")
        assert "Alias 'issuing-ca' is already used" in message(pilot)
        await fill_names(pilot, wizard, "fresh-name", "fresh-alias")
        await next_step(pilot, "confirm")
        # Back keeps what was typed; Escape leaves without creating anything.
        await pilot.press("ctrl+b")
        await until(pilot, lambda: wizard.step_id == "names")
        assert wizard.query_one("#name", Input).value == "fresh-name"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, CreateKeyWizard), "the wizard to close")
        assert demo_kms.keys.count() == before
        with pytest.raises(KmsError):
            demo_kms.keys.resolve("fresh-name")


async def test_cancel_during_generation_leaves_no_key(demo_app, demo_kms):
    """A real cancel: the service generates the RSA 2048 key, sees the event, and discards the key.

    Generation takes well under a second here, too short to press Escape into reliably. The test
    holds the service's engine lock (nothing is patched), which parks the worker
    inside ``kms.keys.create`` until Escape has been pressed.
    """
    key_dir = demo_kms.data_dir / "keys" / "golang-default"
    files_before = sorted(os.listdir(key_dir))

    def actions(action):
        return len(demo_kms.audit.rows(limit=1000, action=action))

    created_before = actions("key.create")
    async with demo_app.run_test(size=(100, 32)) as pilot:
        wizard = await start(pilot)
        await next_step(pilot, "algorithm")
        await choose(pilot, wizard, "RSA", 2048)
        await next_step(pilot, "names")
        await fill_names(pilot, wizard, "rsa-2048-cancelled")
        await next_step(pilot, "confirm")
        with demo_kms.context._drivers_lock:
            await pilot.press("ctrl+n")
            await until(pilot, lambda: wizard.step_id == "generate", "the generation step")
            assert "Generating RSA 2048" in screen_text(pilot.app)
            await pilot.press("escape")  # Cancel: sets the event kms.keys.create watches
            assert wizard.cancel_event.is_set()
            assert "Cancelling" in screen_text(pilot.app)
        await until(pilot, lambda: not isinstance(pilot.app.screen, CreateKeyWizard), "the wizard to close", timeout=30)
        assert not isinstance(pilot.app.screen, KeyDetailScreen)  # nothing to open
        with pytest.raises(KmsError):
            demo_kms.keys.resolve("rsa-2048-cancelled")
        assert sorted(os.listdir(key_dir)) == files_before  # the engine's key file was discarded too
        assert actions("key.create") == created_before
