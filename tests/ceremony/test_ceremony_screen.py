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
from kms_tui.dialogs.ceremony import AbortDialog, NoteDialog, WitnessDialog, step_confirmation
from kms_tui.dialogs.confirm_typed import TypedConfirmDialog
from kms_tui.dialogs.error import ErrorDialog
from kms_tui.screens.ceremony import CeremonyScreen
from tests.ceremony.conftest import software_text
from tests.pilot import quick_idle, type_text, until, until_text  # noqa: F401 - quick_idle: a fixture
from tests.tui.conftest import SIZES, fixture_key, frozen_clock, ui_kms, ui_paths, ui_root, ui_shown  # noqa: F401

pytestmark = pytest.mark.usefixtures("quick_idle")  # every wait here is an until()

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
    not_before: 2026-03-14T00:00:00Z
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


async def run_step(pilot) -> None:
    """c, then the administrator's typed yes."""
    await pilot.press("c")
    await until(pilot, lambda: isinstance(pilot.app.screen, TypedConfirmDialog))
    await type_text(pilot, "yes")
    await pilot.press("enter")


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
        await run_step(pilot)
        await until(pilot, witness_asked(pilot))

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_finished_with_hash(snap_compare, ceremony_app, size):
    app, open_plan = ceremony_app

    async def run_before(pilot):
        await open_plan(pilot)
        for _ in range(4):
            await until(pilot, screen_state(pilot, "confirm"))
            await run_step(pilot)
            await acknowledge(pilot, "BW")
            await acknowledge(pilot, "cw")
        await until(pilot, screen_state(pilot, "done"))

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_generate_key_takes_a_typed_yes(snap_compare, ceremony_app, ui_kms, size):  # noqa: F811
    app, open_plan = ceremony_app
    (ui_kms.data_dir.parent / "ceremony.yaml").write_text(SNAPSHOT_SCRIPT.replace(
        "steps:\n", "steps:\n  - {action: generate-key, name: ceremony-new, algorithm: ECDSA, size: 384}\n"))

    async def run_before(pilot):
        await open_plan(pilot)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, TypedConfirmDialog))
        await type_text(pilot, "ok")
        await pilot.press("enter")
        await until_text(pilot, "Type yes to go on")

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_abort(snap_compare, ceremony_app, size):
    app, open_plan = ceremony_app

    async def run_before(pilot):
        await open_plan(pilot)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, AbortDialog))
        await type_text(pilot, "the HSM's tamper seal is broken")

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
            await run_step(pilot)
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


async def test_a_step_runs_only_on_a_typed_yes(kms, tmp_path):
    """As ``ceremony run`` asks: one key press or one Enter never makes a key."""
    script = tmp_path / "ceremony.yaml"
    script.write_text(software_text())
    app = KmsApp(kms)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_script(pilot, script)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, TypedConfirmDialog))
        dialog = pilot.app.screen
        await until_text(pilot, "A new key is made on engine golang-default")
        await pilot.press("enter")
        await until_text(pilot, "Type yes to go on")
        await type_text(pilot, "y")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert pilot.app.screen is dialog and screen.state == "confirm" and not kms.keys.list()
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen)
        await pilot.pause(0.1)
        assert screen.state == "confirm" and not kms.keys.list()
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, TypedConfirmDialog))
        await type_text(pilot, "YES")
        await pilot.press("enter")
        await until(pilot, witness_asked(pilot))
        assert [k.name for k in kms.keys.list()] == ["example-root-2026"]
    entries = load((tmp_path / "ceremony-2026" / "transcript.json").read_bytes()).entries
    assert [e["kind"] for e in entries][1:3] == ["step.confirm", "key.generated"]


@pytest.mark.parametrize("when", ["confirm", "ack"])
async def test_abort_records_why_and_seals_the_transcript(kms, tmp_path, when):
    """x: a reason is required; the transcript records it as ``ceremony run``'s ``abort TEXT`` does, and is sealed."""
    script = tmp_path / "ceremony.yaml"
    script.write_text(software_text())
    app = KmsApp(kms)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_script(pilot, script)
        if when == "ack":
            await run_step(pilot)
            await until(pilot, witness_asked(pilot))
            await pilot.press("escape")
            await until(pilot, screen_state(pilot, "ack"))
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, AbortDialog))
        await pilot.press("enter")
        await until_text(pilot, "cannot be empty")
        await type_text(pilot, "tamper seal broken")
        await pilot.press("enter")
        await until(pilot, screen_state(pilot, "done"))
        final = screen.ceremony.final_hash
        assert final and final in str(screen.query_one("#ceremony-status", Static).render())
        await pilot.press("c")  # nothing more runs
        await pilot.pause(0.1)
        assert pilot.app.screen is screen
    out = tmp_path / "ceremony-2026"
    report = verify(out / "transcript.json", out)
    assert report.ok and report.final_hash == final, report.problems
    entries = load((out / "transcript.json").read_bytes()).entries
    assert [e["kind"] for e in entries][-2:] == ["exception", "ceremony.end"]
    assert entries[-2]["text"] == "aborted: tamper seal broken" and entries[-2]["step"] == 1
    assert entries[-1]["status"] == "aborted" and "at step 1: tamper seal broken" in entries[-1]["reason"]
    assert len(kms.keys.list()) == (1 if when == "ack" else 0)


LONG = "\n".join(f"Line {n} of a long step description." for n in range(1, 41))


@pytest.mark.parametrize("dialog", [
    lambda: step_confirmation(1, 8, "generate-key", LONG, "Alice Administrator", "golang-default"),
    lambda: WitnessDialog("Bob Witness", 1, LONG, "Those are not this witness's initials."),
    lambda: NoteDialog("Exception", LONG, "what happened"),
    lambda: AbortDialog(3),
], ids=["step", "witness", "note", "abort"])
async def test_ceremony_dialogs_fit_80x24(ui_kms, dialog):  # noqa: F811
    """A long description scrolls inside; the answer, its error line and the buttons stay on screen."""
    app = KmsApp(ui_kms)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.app.push_screen(dialog())
        await pilot.pause()
        screen = pilot.app.screen
        for selector in ("Input", "#ok, #confirm", "#cancel", ".error-text"):
            region = screen.query(selector).first().region
            assert region.area and screen.region.contains_region(region), selector


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
