"""The Ceremony screen: load a script, see the plan, run it one step at a time.

Each step shows what it will do; the administrator confirms it (``c``) by typing
``yes``, as ``kms-tui ceremony run`` asks; the step runs in a thread worker; then each
witness acknowledges it with their initials. An exception (``e``) records a deviation
in free text, a break (``b``) is timestamped when it starts and when it resumes, and an
abort (``x``) records why and seals the transcript. At the end the transcript's final
hash is shown large, for the paper record. Every check (engine, names, files, lint) runs before
the first step can be confirmed. Each entry is on disk before the screen goes on; when
the transcript cannot be written, the ceremony stops there.
"""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from ..ceremony import Ceremony, StepResult, load_script
from ..ceremony.bigtext import big_hash
from ..ceremony.runner import stamp
from ..ceremony.transcript import TranscriptWriteError
from ..text import safe_text
from ..workers import ServiceCalls


def prepare(kms, path: str) -> Ceremony:
    """Load and check a script, then open its transcript (blocking: files, SQLite, the engine's token list)."""
    ceremony = Ceremony(kms, load_script(path), mode="run")
    ceremony.preflight()
    ceremony.start()
    return ceremony


def run_current(ceremony: Ceremony) -> StepResult:
    """Record the administrator's confirmation and run the step."""
    ceremony.confirm(ceremony.current)
    return ceremony.run_step()


class CeremonyScreen(ServiceCalls, Screen):
    """A witnessed key ceremony, step by step."""

    DEFAULT_CSS = """
    CeremonyScreen #ceremony-title { padding: 0 1; text-style: bold; height: auto; }
    CeremonyScreen #ceremony-path { margin: 0 1; }
    CeremonyScreen #ceremony-steps { height: auto; max-height: 10; margin: 0 1; }
    CeremonyScreen #ceremony-detail-box { height: 1fr; padding: 0 1; }
    CeremonyScreen #ceremony-status { padding: 0 1; height: auto; background: $boost; }
    """
    BINDINGS = [
        Binding("c", "confirm", "Run step", id="ceremony.confirm", tooltip="Type yes to run the step shown"),
        Binding("a", "acknowledge", "Witnesses", id="ceremony.acknowledge",
                tooltip="Ask the witnesses to acknowledge the step that ran"),
        Binding("e", "exception", "Exception", id="ceremony.exception",
                tooltip="Record a deviation from the script in the transcript"),
        Binding("b", "break", "Break", id="ceremony.break", tooltip="Take a break; it is recorded when it ends"),
        Binding("x", "abort", "Abort", id="ceremony.abort", tooltip="Stop the ceremony; the transcript records why"),
    ]

    def __init__(self, script_path: str | None = None):
        super().__init__()
        self.script_path = script_path
        self.ceremony: Ceremony | None = None
        self.state = "empty"  # empty, confirm, running, ack, finishing, done
        self.ack_index = 0
        self.last_result: StepResult | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("No ceremony loaded", id="ceremony-title")
        yield Input(placeholder="Path of a ceremony script (YAML); Enter loads it", id="ceremony-path")
        yield DataTable(id="ceremony-steps", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="ceremony-detail-box"):
            yield Static("", id="ceremony-detail")
        yield Static("Load a script: its engine, key names, output files and certificate profiles are checked "
                     "before anything starts.", id="ceremony-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#ceremony-steps", DataTable).add_columns("#", "Step", "Status")
        self.query_one("#ceremony-steps", DataTable).display = False
        if self.script_path:
            self.query_one("#ceremony-path", Input).value = self.script_path
            self.when_ready(self._load_script, show=self._status)
        else:
            self.query_one("#ceremony-path", Input).focus()

    # --- loading ----------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "ceremony-path" and event.value.strip() and self.state == "empty":
            self.script_path = event.value.strip()
            self.when_ready(self._load_script, show=self._status)  # typed while opening: loaded once open

    def _load_script(self) -> None:
        if self.script_path:
            self.load(self.script_path)

    def load(self, path: str) -> None:
        self._status("Checking the script, the engine, the key names, the output files and the profiles…")
        self.call(prepare, self.kms, self.app.paths.real(path), then=self._loaded, failed=self._load_failed)

    def _load_failed(self, error: BaseException) -> bool:
        self._status("The ceremony cannot start: nothing was signed. Fix the script and load it again.")
        return False  # the app's error modal says why

    def _loaded(self, ceremony: Ceremony) -> None:
        self.ceremony = ceremony
        s = ceremony.script
        self.query_one("#ceremony-title", Static).update(Text(f"Ceremony {safe_text(s.id)}: {safe_text(s.name)}"))
        self.query_one("#ceremony-path", Input).display = False
        table = self.query_one("#ceremony-steps", DataTable)
        table.display = True
        for step in ceremony.steps:
            table.add_row(str(step.number), step.action, "pending", key=str(step.number))
        table.focus()
        self.state = "confirm"
        self._show_current()

    # --- the step cycle -----------------------------------------------------------------

    def _show_current(self) -> None:
        c = self.ceremony
        step = c.current
        s = c.script
        roles = (f"Administrator {safe_text(s.administrator)}; witnesses "
                 + ", ".join(f"{safe_text(w.name)} ({safe_text(w.initials)})" for w in s.witnesses))
        body = [roles, f"Engine {safe_text(s.engine.id)} ({s.engine.type}); outputs in {safe_text(c.output_dir)}"]
        body += [f"Note: {safe_text(c.output_note)}", ""] if c.output_note else [""]
        if self.last_result is not None:
            body += [f"Step {self.last_result.step.number} done:"] + [f"  {safe_text(x)}" for x in self.last_result.lines] + [""]
        body += [f"Next, step {step.number} of {len(c.steps)} ({step.action}, line {step.line}):",
                 safe_text(c.describe(step))]
        self._detail("\n".join(body))
        self._set_row(step.number, "next: confirm")
        self._status(f"Step {step.number} of {len(c.steps)}: {safe_text(s.administrator)}, press c and type yes "
                     "to run it (e exception, b break, x abort).")

    def action_confirm(self) -> None:
        """The administrator's typed ``yes``, as ``ceremony run`` asks; nothing runs on one key press."""
        if self.state != "confirm":
            return
        from ..dialogs.ceremony import step_confirmation

        c = self.ceremony
        step = c.current
        self.app.push_screen(step_confirmation(step.number, len(c.steps), step.action, c.describe(step),
                                               c.script.administrator, c.engine_id),
                             callback=lambda yes: self._confirmed(step, yes))

    def _confirmed(self, step, yes: bool | None) -> None:
        if not yes or self.state != "confirm" or self.ceremony.current is not step:
            return
        self.state = "running"
        step = self.ceremony.current
        self._set_row(step.number, "running")
        self._status(f"Step {step.number} is running in the engine…")
        self.call(run_current, self.ceremony, then=self._ran, failed=self._step_failed)

    def _ran(self, result: StepResult) -> None:
        self.last_result = result
        self._set_row(result.step.number, "awaiting witnesses")
        self._detail("\n".join([f"Step {result.step.number} ({result.step.action}) done:",
                                *[f"  {safe_text(x)}" for x in result.lines]]))
        self.state, self.ack_index = "ack", 0
        self.action_acknowledge()

    def action_acknowledge(self, error: str = "") -> None:
        if self.state != "ack":
            return
        from ..dialogs.ceremony import WitnessDialog

        step = self.last_result.step
        witness = self.ceremony.script.witnesses[self.ack_index]
        self._status(f"Step {step.number}: waiting for {safe_text(witness.name)} to acknowledge "
                     f"({self.ack_index + 1} of {len(self.ceremony.script.witnesses)}).")
        self.app.push_screen(WitnessDialog(witness.name, step.number, self.ceremony.describe(step), error),
                             callback=self._acknowledged)

    def _acknowledged(self, initials: str | None) -> None:
        if initials is None:
            self._status("An acknowledgement is still needed: press a when the witness is ready "
                         "(e exception, b break, x abort).")
            return
        recorded = self._record(self.ceremony.acknowledge, self.last_result.step, self.ack_index, initials)
        if recorded is None:
            return
        if not recorded:
            self.action_acknowledge(error="Those are not this witness's initials.")
            return
        self.ack_index += 1
        if self.ack_index < len(self.ceremony.script.witnesses):
            self.action_acknowledge()
            return
        self._set_row(self.last_result.step.number, "done")
        if self.ceremony.current is not None:
            self.state = "confirm"
            self._show_current()
            return
        self.state = "finishing"
        self._status("Writing the transcript…")
        self.call(self.ceremony.finish, then=self._finished)

    def _finished(self, final_hash: str) -> None:
        self.state = "done"
        c = self.ceremony
        self.query_one("#ceremony-steps", DataTable).display = False
        self._detail(f"Final transcript hash (write it in the paper log):\n{final_hash}\n\n{big_hash(final_hash)}")
        self._status(f"Finished: {len(c.steps)} steps. Transcript {safe_text(c.transcript_path)}")

    def _step_failed(self, error: BaseException) -> bool:
        c = self.ceremony
        step = c.current
        if step is not None:
            self._set_row(step.number, "failed")
        title = getattr(error, "title", type(error).__name__)
        self.state = "finishing"
        self.call(c.abort, f"{title}: {error}", step, then=self._aborted)
        return False

    def action_abort(self) -> None:
        if self.state not in ("confirm", "ack"):
            return
        from ..dialogs.ceremony import AbortDialog

        step = self.ceremony.current if self.state == "confirm" else self.last_result.step
        self.app.push_screen(AbortDialog(step.number), callback=lambda reason: self._abort_noted(step, reason))

    def _abort_noted(self, step, reason: str | None) -> None:
        """As ``ceremony run``'s ``abort TEXT``: an exception says why, then the transcript is sealed."""
        if not reason or self.state not in ("confirm", "ack"):
            return
        if self._record(self.ceremony.exception, f"aborted: {reason}", step) is None:
            return
        self._set_row(step.number, "aborted")
        self.state = "finishing"
        self._status("Aborting: sealing the transcript…")
        why = f"The administrator aborted the ceremony at step {step.number}: {reason}"
        self.call(partial(self.ceremony.abort, note=False), why, step, then=self._aborted)

    def _aborted(self, final_hash: str | None) -> None:
        self.state = "done"
        if final_hash is None:
            self._status("Aborted; the transcript could not be sealed: it stops at its last entry written.")
        else:
            self._status(f"Aborted; the transcript records why. Final hash {final_hash}")

    # --- exceptions and breaks -------------------------------------------------------------------

    def action_exception(self) -> None:
        if self.state not in ("confirm", "ack"):
            return
        from ..dialogs.ceremony import NoteDialog

        self.app.push_screen(NoteDialog("Exception", "Describe the deviation from the script, for the transcript.",
                                        "what happened"), callback=self._exception_noted)

    def _exception_noted(self, text: str | None) -> None:
        if text:
            step = self.ceremony.current if self.state == "confirm" else self.last_result.step
            if self._record(self.ceremony.exception, text, step) is not None:
                self.notify("Exception recorded in the transcript.")

    def action_break(self) -> None:
        if self.state not in ("confirm", "ack"):
            return
        from ..dialogs.ceremony import NoteDialog

        started = self.ceremony.clock()
        self.app.push_screen(
            NoteDialog(f"Break since {stamp(started)}", "Resume when everyone is back in the room.", "reason (optional)",
                       "Resume", required=False),
            callback=lambda reason: self._break_over(started, reason))

    def _break_over(self, started, reason: str | None) -> None:
        if self._record(self.ceremony.record_break, started, self.ceremony.clock(), reason or "") is not None:
            self.notify("Break recorded in the transcript.")

    def _record(self, record, *args) -> bool | None:
        """Record an entry now, on the UI thread, so entries keep the order of the keys pressed (one short
        line and an fsync). None when the transcript could not be written: the ceremony stops there."""
        try:
            return record(*args) is not False
        except TranscriptWriteError as error:
            self.state = "done"
            self.ceremony.close()
            self._status("The transcript could not be written: the ceremony stops at its last entry written.")
            self.app.show_error(error)
            return None

    # --- drawing ------------------------------------------------------------------------------

    def _set_row(self, number: int, status: str) -> None:
        table = self.query_one("#ceremony-steps", DataTable)
        table.update_cell(str(number), table.ordered_columns[2].key, status)

    def _detail(self, text: str) -> None:
        self.query_one("#ceremony-detail", Static).update(Text(self.app.paths.text(text)))

    def _status(self, text: str) -> None:
        self.query_one("#ceremony-status", Static).update(Text(self.app.paths.text(text)))
