"""The Ceremony screen, driven end to end with Pilot, and its snapshots (plan, a step awaiting a
witness, finished with the hash) at 80x24 and 120x40.

Snapshots use the shown UI root and frozen clock of tests/tui, an imported Ed25519
key (its signatures are deterministic), a fixed serial, a fixed environment record and the paths
recorded as the app shows them, so the transcript and its final hash are the same on every run.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest
from textual.widgets import DataTable, Input, Static

import kms_tui.ceremony.runner as runner
import kms_tui.ceremony.transcript as transcript_module
import kms_tui.ceremony.x509build as x509build
from kms_tui.app import KmsApp
from kms_tui.ceremony import verify
from kms_tui.ceremony.transcript import load
from kms_tui.dialogs.ceremony import NoteDialog, WitnessDialog
from kms_tui.dialogs.error import ErrorDialog
from kms_tui.screens.ceremony import CeremonyScreen
from tests.ceremony.conftest import software_text
from tests.pilot import until
from tests.tui.conftest import SIZES, fixture_key, frozen_clock, ui_kms, ui_paths, ui_root, ui_shown  # noqa: F401

SNAPSHOT_SCRIPT = """ceremony: {id: root-2026, name: Example Root CA 2026}
roles:
  administrator: Alice Administrator
  witnesses: [{name: Bob Witness, initials: BW}, {name: Carol Witness, initials: CW}]
engine: {type: GOLANG, id: golang-default}
output_dir: out
steps:
  - {action: export-public-key, key: ceremony-root, output: root.pub.pem}
  - action: self-signed-certificate
    key: ceremony-root
    output: root.pem
    subject: {C: ES, O: Example PKI, CN: Example Root CA 2026}
    not_before: 2026-01-01T00:00:00Z
    not_after: 2035-12-29T23:59:59Z
    path_length: 1
    key_usage: [key_cert_sign, crl_sign]
  - action: sign-crl
    issuer_key: ceremony-root
    issuer_certificate: root.pem
    output: root.crl
    this_update: 2026-01-01T00:00:00Z
    next_update: 2026-12-31T23:59:59Z
  - {action: fingerprints}
"""


def screen_state(pilot, state):
    return lambda: isinstance(pilot.app.screen, CeremonyScreen) and pilot.app.screen.state == state


def witness_asked(pilot):
    return lambda: isinstance(pilot.app.screen, WitnessDialog)


async def acknowledge(pilot, initials: str) -> None:
    await until(pilot, witness_asked(pilot))
    pilot.app.screen.query_one("#answer", Input).value = initials
    await pilot.press("enter")


@pytest.fixture
def ceremony_app(ui_kms, ui_paths, monkeypatch):  # noqa: F811
    """The app on the Ceremony screen with the snapshot script loaded (plan shown)."""
    ui_kms.keys.import_key(fixture_key("ed25519.pem"), "ceremony-root")
    script = ui_kms.data_dir.parent / "ceremony.yaml"
    script.write_text(SNAPSHOT_SCRIPT)
    moments = iter(range(10_000))
    monkeypatch.setattr(runner, "utc_now", lambda: datetime(2026, 3, 14, 9, 0, next(moments) % 60, tzinfo=UTC))
    monkeypatch.setattr(runner, "collect_environment", lambda kms, engine_id, note=None: {
        "tool": "kms-tui 0.1.0", "python": "3.11", "hostname": "ceremony-room", "engine": {"id": engine_id}})
    monkeypatch.setattr(x509build, "random_serial", lambda bits: 0x5A17_C0DE_0000_0001)
    record = runner.Ceremony._record

    def record_shown_paths(self, kind, **data):
        # Like the environment above: where the script and outputs are is fixed in the record (as the
        # app shows the test's directory), so the transcript and its hash are the same every run.
        if kind == "ceremony.start":
            data.update(script={**data["script"], "file": ui_paths.path(data["script"]["file"])},
                        output_dir=ui_paths.path(data["output_dir"]))
        return record(self, kind, **data)

    monkeypatch.setattr(runner.Ceremony, "_record", record_shown_paths)
    app = KmsApp(ui_kms, paths=ui_paths)

    async def open_plan(pilot):
        await pilot.press("f6")
        await until(pilot, lambda: isinstance(pilot.app.screen, CeremonyScreen))
        pilot.app.screen.query_one("#ceremony-path", Input).value = str(script)
        pilot.app.screen.query_one("#ceremony-path", Input).focus()
        await pilot.press("enter")
        await until(pilot, screen_state(pilot, "confirm"))

    return app, open_plan


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_plan(snap_compare, ceremony_app, size):
    app, open_plan = ceremony_app
    assert snap_compare(app, terminal_size=SIZES[size], run_before=open_plan)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_step_awaiting_witness(snap_compare, ceremony_app, size):
    app, open_plan = ceremony_app

    async def run_before(pilot):
        await open_plan(pilot)
        await pilot.press("c")
        await until(pilot, witness_asked(pilot))

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_finished_with_hash(snap_compare, ceremony_app, size):
    app, open_plan = ceremony_app

    async def run_before(pilot):
        await open_plan(pilot)
        for _ in range(4):
            await until(pilot, screen_state(pilot, "confirm"))
            await pilot.press("c")
            await acknowledge(pilot, "BW")
            await acknowledge(pilot, "cw")
        await until(pilot, screen_state(pilot, "done"))

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)

async def open_script(pilot, script) -> CeremonyScreen:
    """The Ceremony screen (F6) with ``script`` loaded, waiting at its first confirmation."""
    await pilot.press("f6")
    await until(pilot, lambda: isinstance(pilot.app.screen, CeremonyScreen))
    screen = pilot.app.screen
    screen.query_one("#ceremony-path", Input).value = str(script)
    await pilot.press("enter")
    await until(pilot, screen_state(pilot, "confirm"))
    return screen


async def test_screen_runs_a_whole_ceremony(kms, tmp_path):
    """Root + intermediate on the software engine: confirm, exception, break, witnesses, final hash."""
    script = tmp_path / "ceremony.yaml"
    script.write_text(software_text())
    app = KmsApp(kms)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_script(pilot, script)
        assert screen.query_one("#ceremony-steps", DataTable).row_count == 8
        # A deviation and a break, before the first step.
        await pilot.press("e")
        await until(pilot, lambda: isinstance(pilot.app.screen, NoteDialog))
        pilot.app.screen.query_one("#answer", Input).value = "tamper bag number differs from the log"
        await pilot.press("enter")
        await pilot.press("b")
        await until(pilot, lambda: isinstance(pilot.app.screen, NoteDialog))
        pilot.app.screen.query_one("#answer", Input).value = "fire drill"
        await pilot.press("enter")
        await until(pilot, screen_state(pilot, "confirm"))
        for number in range(1, 9):
            await pilot.press("c")
            if number == 1:  # wrong initials are refused and asked again
                await acknowledge(pilot, "XX")
                await until(pilot, lambda: "not this witness" in str(
                    pilot.app.screen.query_one("#answer-error", Static).render()))
            await acknowledge(pilot, "BW")
            await acknowledge(pilot, "CW")
            await until(pilot, lambda n=number: screen.state in ("confirm", "done") and screen.ceremony.position == n)
        await until(pilot, screen_state(pilot, "done"))
        final = screen.ceremony.final_hash
        assert final in str(screen.query_one("#ceremony-detail", Static).render())
    out = tmp_path / "ceremony-2026"
    report = verify(out / "transcript.json", out)
    assert report.ok and report.final_hash == final, report.problems
    kinds = [e["kind"] for e in load((out / "transcript.json").read_bytes()).entries]
    assert kinds.count("witness.ack") == 16 and kinds.count("exception") == 1 and kinds.count("break") == 1
    chain = subprocess.run(["openssl", "verify", "-CAfile", out / "root.pem", out / "intermediate.pem"],
                           capture_output=True, text=True)
    assert chain.returncode == 0, chain.stderr
    assert len(kms.audit.rows(action="key.sign")) == 6


async def test_screen_stops_when_the_transcript_cannot_be_written(kms, tmp_path, monkeypatch):
    """A deviation that cannot be recorded stops the ceremony with the error shown, not a crash."""
    script = tmp_path / "ceremony.yaml"
    script.write_text(software_text())
    app = KmsApp(kms)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_script(pilot, script)

        def disk_full(fd, data):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(transcript_module, "write_all", disk_full)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(pilot.app.screen, NoteDialog))
        pilot.app.screen.query_one("#answer", Input).value = "the seal number differs"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ErrorDialog))
        assert screen.state == "done" and "could not be written" in str(screen.query_one("#ceremony-status").render())
        monkeypatch.undo()
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen)
        await pilot.press("c")  # nothing runs once the transcript cannot record it
        await pilot.pause(0.2)
    assert not kms.keys.list()
    assert verify(tmp_path / "ceremony-2026" / "transcript.json", tmp_path / "ceremony-2026").stopped_at["entry"] == 0
