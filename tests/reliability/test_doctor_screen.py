"""The doctor screen: findings, their fixes, repair from the keyboard; snapshots at both sizes."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from textual.widgets import DataTable

from engines import keys as K
from kms_tui.app import KmsApp
from kms_tui.screens.doctor import DoctorScreen
from tests.pilot import screen_text, until
from tests.tui.conftest import (  # noqa: F401 - fixtures
    SIZES,
    demo_kms,
    frozen_clock,
    ui_kms,
    ui_paths,
    ui_root,
    ui_shown,
)


def checked(pilot, repaired: bool | None = None):
    def done() -> bool:
        screen = pilot.app.screen
        if not isinstance(screen, DoctorScreen) or screen.report is None or screen.running:
            return False
        if repaired is not None and screen.report.repair != repaired:
            return False
        return screen.query_one(DataTable).row_count == len(screen.report.findings)
    return done


@pytest.fixture
def sick_app(demo_kms, ui_paths):  # noqa: F811 - the imported fixtures, requested
    """The demo inventory with a key file gone, a key nobody recorded and a key directory open to its group."""
    directory = demo_kms.data_dir / "keys" / "golang-default"
    gone = demo_kms.keys.resolve("device-fleet-01")
    os.unlink(directory / gone.native_ref)
    stray = ec.derive_private_key(0x5EED, ec.SECP256R1())  # the same key every run
    demo_kms.context.driver("golang-default").import_key(K.parse_key(K.private_pkcs8_pem(stray)))
    os.chmod(directory, 0o750)
    return KmsApp(demo_kms, paths=ui_paths)


async def open_doctor(pilot, repaired: bool | None = False) -> DoctorScreen:
    await pilot.press("f7")
    await until(pilot, checked(pilot, repaired), "the checks")
    return pilot.app.screen


@pytest.mark.parametrize("size", SIZES)
def test_doctor_screen_with_findings(snap_compare, sick_app, size):
    async def run_before(pilot):
        await open_doctor(pilot)

    assert snap_compare(sick_app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_doctor_screen_after_repair(snap_compare, sick_app, size):
    async def run_before(pilot):
        await open_doctor(pilot)
        await pilot.press("R")
        await until(pilot, checked(pilot, repaired=True), "the repair")

    assert snap_compare(sick_app, terminal_size=SIZES[size], run_before=run_before)


async def test_repair_from_the_keyboard_then_a_clean_check(sick_app):
    async with sick_app.run_test(size=SIZES["120x40"]) as pilot:
        screen = await open_doctor(pilot)
        subjects = {f.subject: f for f in screen.report.findings}
        assert "device-fleet-01" in subjects and subjects["device-fleet-01"].repairable
        assert any(s.startswith("golang-default:") for s in subjects)
        text = screen_text(pilot.app)
        assert "3 finding(s) to act on" in text and "Fix:" in text
        await pilot.press("R")
        await until(pilot, checked(pilot, repaired=True), "the repair")
        assert screen.report.clean and all(f.repaired for f in screen.report.findings if f.severity != "info")
        await pilot.press("r")
        await until(pilot, checked(pilot, repaired=False), "the checks")
        assert screen.report.clean
        assert "Healthy: nothing to do." in screen_text(pilot.app)
        assert pilot.app.kms.keys.resolve("device-fleet-01").status == "missing"


async def test_the_doctor_is_in_the_command_palette(sick_app):
    async with sick_app.run_test(size=SIZES["80x24"]) as pilot:
        commands = [c.title for c in sick_app.get_system_commands(sick_app.screen)]
        assert "Go to Doctor" in commands
        await pilot.pause()


@pytest.fixture
def engine_down_app(demo_kms, ui_paths):  # noqa: F811 - the imported fixtures, requested
    """The demo inventory with a second software engine whose key directory is gone (a file in its place)."""
    demo_kms.engines.register("GOLANG", "vault-down", options={"encrypt": "false"})
    demo_kms.context.forget_driver("vault-down")
    directory = demo_kms.data_dir / "keys" / "vault-down"
    directory.rmdir()
    directory.write_text("not a directory")
    os.chmod(directory, 0o600)
    return KmsApp(demo_kms, paths=ui_paths)


async def show_not_checked(pilot) -> DoctorScreen:
    screen = await open_doctor(pilot)
    rows = [n for n, f in enumerate(screen.report.findings) if f.unchecked]
    await pilot.press(*["down"] * rows[0])
    await pilot.pause()
    return screen


def test_doctor_screen_with_an_engine_down(snap_compare, engine_down_app):
    assert snap_compare(engine_down_app, terminal_size=SIZES["80x24"], run_before=show_not_checked)


async def test_an_engine_down_is_never_reported_as_consistency_ok(engine_down_app):
    async with engine_down_app.run_test(size=SIZES["80x24"]) as pilot:
        screen = await show_not_checked(pilot)
        report = screen.report
        assert report.checked["engines"] == "findings" and report.checked["consistency"] == "incomplete"
        by_check = {(f.check, f.subject): f for f in report.findings}
        assert set(by_check) == {("engines", "vault-down"), ("consistency", "vault-down")}
        assert all(f.hint for f in report.findings)
        text = screen_text(pilot.app)
        assert "consistency incomplete" in text and "consistency ok" not in text
        assert "⊘ not checked: consistency" in text and "Healthy" not in text
        assert "were not compared" in text and "Fix: Make engine 'vault-down' usable" in text
