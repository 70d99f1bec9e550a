"""The service opens behind the first frame: screens say so, load once it is open, and show a failure once.

``KmsApp(data_dir=…)`` opens its Kms in a worker after the first frame. Here the
opening waits for a gate the test opens, so the state in between can be looked at.
"""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError

import pytest
from textual.widgets import Button

import kms_tui.service
from kms_tui.app import KmsApp
from kms_tui.dialogs.error import ErrorDialog
from kms_tui.dialogs.secret import SecretDialog
from kms_tui.opening import KmsOpener, KmsState
from kms_tui.screens.keys import KeysScreen
from kms_tui.screens.stats import StatsScreen
from kms_tui.service import Kms, SecretRequest
from kms_tui.wizards.create import CreateKeyWizard
from store import CredentialStore
from store.errors import DatabaseError
from tests.pilot import screen_text, until
from tests.tui.conftest import populate

OPENING = KmsState.OPENING.note
FAILED = KmsState.FAILED.note


class GatedOpening:
    """Stands in for ``Kms`` while the app opens it: waits for ``gate``, may ask a secret or fail."""

    def __init__(self, data_dir, memory_keyring):
        self.data_dir = data_dir
        self.keyring = memory_keyring
        self.gate = threading.Event()
        self.ask: SecretRequest | None = None  # asked through the app's prompt before opening
        self.answer: str | None = None
        self.error: BaseException | None = None  # raised instead of opening
        self.opened: list[Kms] = []
        self.closed: list[Kms] = []

    def __call__(self, data_dir, *, prompt):
        assert self.gate.wait(30), "the test never opened the gate"
        if self.ask is not None:
            self.answer = prompt(self.ask)
        if self.error is not None:
            raise self.error
        kms = Kms(data_dir, credentials=CredentialStore(backend=self.keyring), prompt=prompt)
        close = kms.close

        def closing() -> None:
            self.closed.append(kms)
            close()

        kms.close = closing
        self.opened.append(kms)
        return kms


@pytest.fixture
def opening(tmp_path, memory_keyring, monkeypatch):
    data_dir = tmp_path / "data"
    with Kms(data_dir, credentials=CredentialStore(backend=memory_keyring)) as kms:
        populate(kms)
    gated = GatedOpening(data_dir, memory_keyring)
    monkeypatch.setattr(kms_tui.service, "Kms", gated)  # what the opener imports
    return gated


async def test_screens_say_opening_and_load_what_was_asked_once_open(opening):
    app = KmsApp(data_dir=opening.data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: OPENING in screen_text(app))
        assert app.kms_state is KmsState.OPENING and not app.kms_ready
        with pytest.raises(RuntimeError):
            app.kms  # noqa: B018 - asking for it before it is open is a bug, said loudly
        await pilot.press("slash", *"firm", "enter", "o", "r")  # filter, sort, refresh: nothing to fetch yet
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, StatsScreen) and OPENING in screen_text(app))
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, KeysScreen))
        opening.gate.set()
        await until(pilot, lambda: app.kms_ready and "1 key ·" in screen_text(app))
        assert "firmware-signing" in screen_text(app)  # the filter typed while opening was applied
        assert app.kms_state is KmsState.OPEN and app.kms is opening.opened[0]
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, StatsScreen) and "7 keys on" in screen_text(app))
    assert opening.closed == opening.opened  # the app opened it, so the app closed it


async def test_a_wizard_opened_while_opening_waits_for_the_service(opening):
    app = KmsApp(data_dir=opening.data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: OPENING in screen_text(app))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, CreateKeyWizard) and OPENING in screen_text(app))
        wizard = app.screen
        assert wizard.query_one("#wizard-next", Button).disabled
        await pilot.press("ctrl+n")  # Next checks nothing before the service is open
        assert app.screen is wizard and wizard.step_id == "engine"
        opening.gate.set()
        await until(pilot, lambda: wizard.engine_id == "golang-default" and not wizard.busy)
        assert OPENING not in screen_text(app)
        assert not wizard.query_one("#wizard-next", Button).disabled


async def test_a_failure_to_open_is_shown_once_and_screens_say_why_they_are_empty(opening):
    opening.error = DatabaseError("Another process holds the database.", title="Database locked")
    app = KmsApp(data_dir=opening.data_dir)
    shown: list[BaseException] = []
    show_error = app.show_error
    app.show_error = lambda error: (shown.append(error), show_error(error))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: OPENING in screen_text(app))
        opening.gate.set()
        await until(pilot, lambda: isinstance(app.screen, ErrorDialog))
        assert "Database locked" in screen_text(app) and "Another process holds the database." in screen_text(app)
        assert app.kms_state is KmsState.FAILED and not app.kms_ready
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, KeysScreen) and FAILED in screen_text(app))
        await pilot.press("r", "f4")  # nothing to refresh from, and no second modal
        await until(pilot, lambda: isinstance(app.screen, StatsScreen) and FAILED in screen_text(app))
    assert shown == [opening.error] and opening.opened == []


async def test_a_secret_asked_for_while_opening_is_typed_in_the_secret_dialog(opening):
    opening.ask = SecretRequest("golang-default", "at-rest passphrase", False, "The keyring has no entry for it.")
    app = KmsApp(data_dir=opening.data_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        opening.gate.set()
        await until(pilot, lambda: isinstance(app.screen, SecretDialog))
        await pilot.press(*"pass phrase", "enter")
        await until(pilot, lambda: app.kms_ready and "7 keys" in screen_text(app))
        assert "pass phrase" not in screen_text(app)
    assert opening.answer == "pass phrase"


def test_an_opener_closed_before_it_ran_never_opens(tmp_path):
    opener = KmsOpener(tmp_path / "data", prompt=lambda request: None)
    opener.close()  # returns at once: nothing was opened, nothing will be
    with pytest.raises(CancelledError):
        opener.open()
    assert not (tmp_path / "data").exists()
