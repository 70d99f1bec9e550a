"""The create-key wizard: engine → algorithm and size → names → confirm → generate.

Only what the chosen engine can create is offered (asked of the engine in a
worker). The strength panel follows the highlighted size. Names are checked
by the service before going on. Generation runs in a worker with a Cancel
that sets the event ``kms.keys.create`` watches: the service then discards the
key it made. The wizard dismisses with the new key, which the caller opens.
"""

from __future__ import annotations

import threading
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Center, Vertical, VerticalScroll
from textual.widgets import Input, Label, OptionList, ProgressBar, Static

from ..service.errors import Cancelled, KmsError, render
from ..service.types import KeyRecord
from ..widgets.cells import literal
from .commands import CliCommand, create_command
from .compat_note import CompatibilityNote
from .key_spec import CREATABLE, KeySpecChooser, supported_text
from .parts import (
    CommandView,
    cli_data_dir,
    compose_names,
    engine_option,
    key_kind,
    names_from,
    spec_text,
    strength_line,
    summary,
)
from .steps import Step, WizardScreen, inline_text

NO_CREATE = "This engine cannot create keys; choose another one."


class CreateKeyWizard(WizardScreen["KeyRecord | None"]):
    """Generate a key in an engine, step by step."""

    WIZARD_TITLE = "Create a key"
    STEPS = (Step("engine", "Engine"), Step("algorithm", "Algorithm"), Step("names", "Names"),
             Step("confirm", "Confirm"), Step("generate", "Generate"))

    DEFAULT_CSS = """
    CreateKeyWizard #engine-list { height: auto; max-height: 8; }
    CreateKeyWizard #engine-supported { margin-top: 1; }
    CreateKeyWizard #generate { align: center middle; }
    CreateKeyWizard #generate > Static { width: 100%; text-align: center; }
    CreateKeyWizard #generate-progress { width: 48; margin: 1 0; }
    CreateKeyWizard #generate-progress Bar { width: 48; }
    """

    def __init__(self, engine_id: str | None = None):
        super().__init__()
        self.preselect = engine_id
        self.supported: dict[str, list[int]] = {}
        self.supported_for: str | None = None
        self.levels: dict[str, int] = {}  # engine id -> its security level (role fitness depends on it)
        self.key_name, self.key_aliases, self.key_tags = "", [], []
        self.backup: tuple[int, int] | None = None  # (M, N) of the backup policy, when one is asked for
        self.cancel_event: threading.Event | None = None

    def compose_steps(self) -> ComposeResult:
        with Vertical(id="engine"):
            yield Label("The engine that generates and holds the key.", classes="hint")
            yield OptionList(id="engine-list")
            yield Static("", id="engine-supported")
        with VerticalScroll(id="algorithm"):
            yield KeySpecChooser(id="key-spec")
        with VerticalScroll(id="names"):
            yield from compose_names("issuing-ca-2026")
            yield Label("Backup policy, M-of-N custodians (optional, e.g. 3-of-5)", classes="field-label")
            yield Input(placeholder="none: the key never leaves the engine, not even wrapped", id="backup-policy")
        with VerticalScroll(id="confirm"):
            yield Static("", id="confirm-summary")
            yield CompatibilityNote(id="confirm-compat")
            yield CommandView(id="confirm-command")
        with Vertical(id="generate"):
            yield Static("", id="generate-what")
            # Determinate (idle) until generation starts: an indeterminate bar redraws 15 times a second.
            with Center():  # alignment centres the step's whole block; this centres the bar in it
                yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="generate-progress")
            yield Static("", id="generate-note", classes="hint")

    def started(self) -> None:
        self.say("Loading engines…")
        self.call(self.kms.engines.list, then=self._engines_loaded, failed=self.failed_inline, group="engines")

    # --- engine ----------------------------------------------------------------

    @property
    def algorithm(self) -> str | None:
        return self.query_one(KeySpecChooser).algorithm

    @property
    def key_size(self) -> int | None:
        return self.query_one(KeySpecChooser).key_size

    @property
    def engine_id(self) -> str | None:
        option = self.query_one("#engine-list", OptionList).highlighted_option
        return option.id if option else None

    def _engines_loaded(self, views) -> None:
        self.say("")
        engines = self.query_one("#engine-list", OptionList)
        engines.set_options(engine_option(v) for v in views)
        self.levels = {v.record.id: v.record.security_level for v in views}
        ids = [v.record.id for v in views]
        wanted = self.preselect if self.preselect in ids else next((v.record.id for v in views if v.record.is_default),
                                                                   ids[0] if ids else None)
        if wanted is not None:
            engines.highlighted = ids.index(wanted)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "engine-list" and event.option.id != self.supported_for:
            self.query_one("#engine-supported", Static).update(Text(f"Asking {event.option.id} what it can create…",
                                                                    style="dim"))
            self.call(self.kms.engines.supported_key_types, event.option.id, then=self._supported(event.option.id),
                      failed=self._supported_failed, group="supported")

    def _supported(self, engine_id: str):
        def loaded(supported: dict[str, list[int]]) -> None:
            if engine_id != self.engine_id:
                return  # the answer for an engine no longer highlighted
            self.supported = {a: sorted(s) for a, s in supported.items() if a in CREATABLE and s}
            self.supported_for = engine_id
            text = supported_text(self.supported) or "nothing (this engine cannot create keys)"
            self.query_one("#engine-supported", Static).update(Text.assemble(("Can create: ", "bold"), text))
            if self.busy and self.step_id == "engine":
                self.proceed() if self.supported else self.refuse(NO_CREATE)

        return loaded

    def _supported_failed(self, error: BaseException) -> bool:
        self.supported_for = None
        title, message = render(error)
        self.query_one("#engine-supported", Static).update(Text(f"{title}: {message}", style="red"))
        return self.failed_inline(error) if self.busy else isinstance(error, KmsError)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_next()

    # --- steps -------------------------------------------------------------------

    def step_shown(self, step: str) -> None:
        if step == "algorithm":
            level = self.levels.get(self.engine_id or "")
            self.query_one(KeySpecChooser).offer(self.supported, level)
        elif step == "confirm":
            self._show_confirm()

    def check_step(self, step: str) -> str | None | object:
        if step == "engine":
            engine_id = self.engine_id
            if engine_id is None:
                return "Choose an engine."
            if self.supported_for == engine_id:
                return None if self.supported else NO_CREATE
            return self.wait_for(f"Asking {engine_id} what it can create…", self.kms.engines.supported_key_types, engine_id,
                                 then=self._supported(engine_id))
        if step == "algorithm":
            ok = self.query_one(KeySpecChooser).chosen
            return None if ok else "Choose an algorithm and a size this engine supports."
        if step == "names":
            self.key_name, self.key_aliases, self.key_tags = names_from(self)
            if not self.key_name:
                return "A key needs a name."
            typed = self.query_one("#backup-policy", Input).value.strip()
            try:
                self.backup = self.kms.backup.parse_policy(typed) if typed else None
            except KmsError as exc:
                return exc.message
            return self.wait_for("Checking the name and aliases…", self.kms.keys.name_problem, self.key_name, self.key_aliases,
                                 then=lambda problem: self.refuse(problem) if problem else self.proceed())
        if step == "confirm":
            self._generate()
        return None

    def next_label(self, step: str) -> str | None:
        return {"confirm": "Create", "generate": None}.get(step, "Next")

    def can_go_back(self, step: str) -> bool:
        return step != "generate"

    def cli_command(self) -> CliCommand | None:
        if self.step_id != "confirm" or not self.algorithm or not self.engine_id:
            return None
        return create_command(self.algorithm, self.key_size, self.key_name, self.engine_id, aliases=self.key_aliases,
                              tags=self.key_tags, data_dir=cli_data_dir(self.kms), backup=self._backup_text())

    def _backup_text(self) -> str | None:
        return f"{self.backup[0]}-of-{self.backup[1]}" if self.backup else None

    def _show_confirm(self) -> None:
        rows = [
            ("Engine", literal(self.engine_id)),
            ("Algorithm", Text(spec_text(self.algorithm, self.key_size))),
            ("Strength", strength_line(self.algorithm, self.key_size)),
            ("Name", literal(self.key_name)),
            ("Aliases", literal(", ".join(self.key_aliases) or "—")),
            ("Tags", literal(", ".join(self.key_tags) or "—")),
        ]
        if self.backup:
            rows.append(("Backup", Text(f"{self._backup_text()}: its material may leave the engine only wrapped, "
                                        "for that many custodians (kms-tui keys backup)")))
        self.query_one("#confirm-summary", Static).update(summary(rows))
        self.query_one("#confirm-command", CommandView).show(self.cli_command(), self.app.paths)
        note = self.query_one(CompatibilityNote)
        note.clear()
        self.call(self.kms.keys.compatibility, self.engine_id, self.algorithm, self.key_size, then=note.show,
                  failed=lambda error: isinstance(error, KmsError), group="compat")

    # --- generation ----------------------------------------------------------------

    def show_generating(self) -> None:
        """The generation step's text and its running progress bar."""
        self.query_one("#generate-progress", ProgressBar).total = None
        what = Text.assemble("Generating ", (key_kind(self.algorithm, self.key_size), "bold"), " in ",
                             literal(self.engine_id), " for ", literal(self.key_name, 60), "…")
        self.query_one("#generate-what", Static).update(what)
        self.query_one("#generate-note", Static).update(
            "RSA 4096 can take several seconds. Cancel (Escape) discards the key once the engine has made it.")

    def _generate(self) -> None:
        self.cancel_event = threading.Event()
        self.show_generating()
        self.call(partial(self.kms.keys.create, self.algorithm, self.key_size, self.key_name, engine_id=self.engine_id,
                          aliases=self.key_aliases, tags=self.key_tags, cancel=self.cancel_event, backup=self.backup),
                  then=self._created, failed=self._create_failed, group="create")

    def action_cancel(self) -> None:
        if self.step_id != "generate":
            super().action_cancel()
        elif self.cancel_event is not None and not self.cancel_event.is_set():
            self.cancel_event.set()
            self.query_one("#generate-note", Static).update(
                "Cancelling: the engine finishes the key it is making, then it is discarded…")

    def _created(self, record: KeyRecord) -> None:
        if self.cancel_event is not None and self.cancel_event.is_set():
            # Cancel came after the service's last check: honour it by deleting the recorded key.
            self.call(self.kms.keys.delete, record.name, then=lambda _: self._cancelled(), group="create")
            return
        self.notify(f"Key {record.name[:60]} created.", timeout=3)
        self.close(record)

    def _cancelled(self) -> None:
        # A recorded key is deleted as any other: where the engine keeps deleted keys, it is pending deletion.
        self.notify("Key creation cancelled; the key made was deleted.", timeout=4)
        self.close(None)

    def _create_failed(self, error: BaseException) -> bool:
        if isinstance(error, Cancelled):
            self._cancelled()
            return True
        self.go_to("confirm")
        if isinstance(error, KmsError):
            self.say(inline_text(error), error=True)
            return True
        return False
