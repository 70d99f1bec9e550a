"""The restore wizard: file → shares → engine → lower level → new names → done.

The backup file is read and checked for shape (its MAC needs the shares). The custodians then
type their shares one at a time, never shown: each is checked as it is typed
(``kms.backup.check_share``): a word that is no SLIP-39 word is named, a mistyped one is caught
by the checksum, a share of another backup or one already given is refused, and a right one
names its custodian. The target engine is one that takes wrapped material in; restoring to a
lower security level than the source's takes LOWER typed, as the CLI does, and a key whose name
is still recorded here needs a new one. ``kms.backup.restore`` then runs in a thread worker:
the MAC is checked before anything is unwrapped, and every key is proven to be the recorded one
(key id, a signature verified with the recorded public key) before any is recorded. The shares
are dropped once the wizard is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Static

from ..service import backup_file as F
from ..service.backup import RestoreResult
from ..service.engine_views import EngineView
from ..service.errors import InvalidInput, KmsError
from ..widgets.cells import literal
from .commands import PROGRAM, CliCommand
from .frame import SHORT_COMPACT, WAIT
from .inputs import read_regular
from .parts import CommandView, PathField, cli_data_dir, engine_option, summary
from .steps import Step, WizardScreen, inline_text

SHARE_WORDS = 33  # a SLIP-39 share of a 256-bit key-encryption key
LOWER = "LOWER"


def read_backup(kms, path: str) -> F.BackupFile:
    """The backup file read and checked for shape. Worker.

    A regular file only (or a link to one): a pipe or a terminal would hold the worker, and the
    app's exit, until something is written to it.
    """
    return kms.backup.read(read_regular(path, F.MAX_BYTES + 1, "backup file"))


@dataclass(frozen=True)
class Targets:
    offered: list[EngineView]
    refused: list[str]  # engines that take no wrapped key, named


def restore_targets(kms) -> Targets:
    """The engines a backup can be restored into, and the others. Worker."""
    offered, refused = [], []
    for view in kms.engines.list():
        try:
            wraps = kms.engines.type_info(view.record.type).backup_wrap
        except KmsError:
            wraps = False
        (offered if wraps else refused).append(view)
    return Targets(offered, [v.record.id for v in refused])


@dataclass(frozen=True)
class TargetPlan:
    engine_id: str
    lower: list[str]  # one sentence per key the restore keeps at a lower level than its source's
    taken: list[str]  # original names still recorded here: these keys need a new name


def plan_target(kms, backup: F.BackupFile, engine_id: str) -> TargetPlan:
    """What restoring into ``engine_id`` asks for. Worker."""
    lower = kms.backup.lower_levels(backup, engine_id)
    taken = [k.name for k in backup.keys if kms.keys.name_problem(k.name) is not None]
    return TargetPlan(engine_id, lower, taken)


def check_names(kms, names: dict[str, str]) -> dict[str, str]:
    """The new names, each free here and all different. Worker."""
    seen: set[str] = set()
    for new in names.values():
        problem = kms.keys.name_problem(new)
        if problem:
            raise InvalidInput(problem)
        if new in seen:
            raise InvalidInput(f"{new[:60]!r} is given twice: each restored key needs its own name.")
        seen.add(new)
    return names


def restore_keys(kms, backup: F.BackupFile, shares: Sequence[str], engine_id: str, names: dict[str, str],
                 confirm_lower: bool) -> RestoreResult:
    """Restore as planned. Worker."""
    return kms.backup.restore(backup, list(shares), engine_id, name=names or None,
                              confirm_lower_level=confirm_lower)


def share_feedback(kms, backup: F.BackupFile, typed: str, taken: Sequence[str]) -> tuple[str, bool | None]:
    """(what to say about a share as typed so far, True right / False wrong / None not complete yet)."""
    words = typed.split()
    if not words:
        return "", None
    try:
        custodian = kms.backup.check_share(backup, typed, taken)
    except KmsError as exc:
        if len(words) >= SHARE_WORDS:
            return inline_text(exc), False
        complete = words if typed[-1:].isspace() else words[:-1]  # the word being typed is not judged yet
        unknown = _unknown_word(kms, backup, complete, taken)
        return (unknown, False) if unknown else (f"{len(words)} of {SHARE_WORDS} words typed.", None)
    return f"Custodian {custodian}'s share: every word and its checksum are right. Enter takes it.", True


def _unknown_word(kms, backup: F.BackupFile, words: list[str], taken: Sequence[str]) -> str:
    """The service's sentence naming a word that is no SLIP-39 word, among the words typed whole."""
    if not words:
        return ""
    try:
        kms.backup.check_share(backup, " ".join(words), taken)
    except KmsError as exc:
        return exc.message if exc.message.startswith("Word ") else ""
    return ""


class RestoreWizard(WizardScreen[None]):
    """Restore the keys of a backup file from M custodians' shares into an engine."""

    WIZARD_TITLE = "Restore keys"
    STEPS = (Step("file", "File"), Step("shares", "Shares"), Step("engine", "Engine"), Step("lower", "Level"),
             Step("names", "Names"), Step("done", "Done"))

    DEFAULT_CSS = """
    RestoreWizard #file-about, RestoreWizard #shares-given { margin-top: 1; }
    RestoreWizard #share-check { height: auto; min-height: 2; }
    RestoreWizard #share-check.wrong { color: $error; text-style: bold; }
    RestoreWizard #share-check.right { color: $success; }
    RestoreWizard #engine-list { height: auto; max-height: 8; }
    RestoreWizard #engine-why-not { margin-top: 1; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.backup: F.BackupFile | None = None
        self.path = ""
        self.shares: list[str] = []
        self.custodians: list[int] = []
        self.plan: TargetPlan | None = None
        self.result: RestoreResult | None = None
        self.names: dict[str, str] = {}
        self.name_fields: list[tuple[str, Input]] = []  # (original name, the field for its new name)

    def compose_steps(self) -> ComposeResult:
        with Vertical(id="file"):
            yield Label("The backup file (written by kms-tui keys backup or the backup wizard).")
            yield PathField("path of the backup file", "Backup file", id="backup-file")
            yield Static("", id="file-about")
        with Vertical(id="shares"):
            yield Static("", id="shares-about")
            yield Static("", id="shares-given")
            yield Label("", id="share-label", classes="field-label")
            yield Input(password=True, id="share", classes=SHORT_COMPACT)
            yield Static("", id="share-check")
        with Vertical(id="engine"):
            yield Label("The engine that takes the keys in.", classes="hint")
            yield OptionList(id="engine-list")
            yield Static("", id="engine-why-not")
        with Vertical(id="lower"):
            yield Static("", id="lower-what")
            yield Label("", id="lower-label", classes="field-label")
            yield Input(id="lower-confirm", classes=SHORT_COMPACT)
        yield VerticalScroll(id="names")
        with VerticalScroll(id="done"):
            yield Static("", id="done-summary")
            yield CommandView(id="restore-command")

    def started(self) -> None:
        self.call(restore_targets, self.kms, then=self._targets, failed=self.failed_inline, group="targets")

    def _targets(self, targets: Targets) -> None:
        engines = self.query_one("#engine-list", OptionList)
        engines.set_options(engine_option(v) for v in targets.offered)
        if targets.offered:
            engines.highlighted = 0
        if targets.refused:
            self.query_one("#engine-why-not", Static).update(Text(
                "Not offered (their keys never leave them, so they take no wrapped key in): "
                + ", ".join(targets.refused)))

    # --- moving ----------------------------------------------------------------

    @property
    def engine_id(self) -> str | None:
        option = self.query_one("#engine-list", OptionList).highlighted_option
        return option.id if option else None

    def check_step(self, step: str) -> str | None | object:
        if step == "file":
            path = self.app.paths.real(self.query_one(PathField).value)
            if not path:
                return "Give the path of the backup file."
            return self.wait_for("Reading the backup file…", read_backup, self.kms, path, then=self._read(path))
        if step == "shares":
            return self._take_share()
        if step == "engine":
            if self.engine_id is None:
                return "Choose the engine that takes the keys in."
            return self.wait_for("Checking the engine…", plan_target, self.kms, self.backup, self.engine_id,
                                 then=self._planned)
        if step == "lower":
            if self.query_one("#lower-confirm", Input).value.strip() != LOWER:
                return f"Type {LOWER} to restore into a lower security level, or go back and choose another engine."
            return None if self._needs_names() else self._restore()
        if step == "names":
            names = {old: field.value.strip() for old, field in self.name_fields}
            empty = next((old for old, new in names.items() if not new), None)
            if empty is not None:
                return f"Give {empty[:60]!r} a new name: the original's is still recorded here."
            return self.wait_for("Checking the names…", check_names, self.kms, names, then=self._named)
        return None

    def _read(self, path: str):
        def read(backup: F.BackupFile) -> None:
            if self.backup is None or backup.sha256 != self.backup.sha256:
                self._drop_shares()
            self.backup, self.path = backup, path
            self.query_one("#file-about", Static).update(self._about())
            self.proceed()

        return read

    def _take_share(self) -> str | None | object:
        typed = self.query_one("#share", Input)
        if len(self.shares) >= self.backup.threshold and not typed.value.strip():
            return None  # back here after every share was given
        text, right = share_feedback(self.kms, self.backup, typed.value, self.shares)
        if not right:
            return text or "Type the share: its words, separated by spaces."
        custodian = self.kms.backup.check_share(self.backup, typed.value, self.shares)
        self.shares.append(" ".join(typed.value.split()).lower())
        self.custodians.append(custodian)
        typed.value = ""
        if len(self.shares) >= self.backup.threshold:
            return None
        self._show_shares()
        self.say(f"Custodian {custodian}'s share is taken.")
        return WAIT

    def _planned(self, plan: TargetPlan) -> None:
        self.plan = plan
        self._mount_names(plan.taken)
        if not plan.lower and not plan.taken:
            self._restore()
            return
        self.proceed()

    def _needs_names(self) -> bool:
        return bool(self.plan and self.plan.taken)

    def _mount_names(self, taken: list[str]) -> None:
        box = self.query_one("#names", VerticalScroll)
        box.remove_children()
        self.name_fields = [(old, Input(value=f"{old}-restored", classes=f"new-name {SHORT_COMPACT}"))
                            for old in taken]
        widgets: list[Widget] = [Static("These names are still recorded here (the original keys): give each "
                                        "restored key a new one. Aliases that are taken are not carried over.",
                                        classes="hint")]
        for old, field in self.name_fields:
            field.compact = self.size.height < 32  # as WizardScreen.on_resize draws fields in short terminals
            widgets += [Label(Text.assemble("New name for ", literal(old, 50, style="bold")), classes="field-label"),
                        field]
        box.mount_all(widgets)

    def _named(self, names: dict[str, str]) -> None:
        self.names = names
        self._restore()

    def _restore(self) -> object:
        plan = self.plan
        assert plan is not None and self.backup is not None
        self.busy = True
        self._sync_buttons()
        self.say("Restoring: checking the file, unwrapping and proving each key…")
        self.call(restore_keys, self.kms, self.backup, list(self.shares), plan.engine_id,
                  self.names if plan.taken else {}, bool(plan.lower), then=self._restored, failed=self.failed_inline,
                  group="restore")
        return WAIT

    def _restored(self, result: RestoreResult) -> None:
        self.result = result
        self._drop_shares()
        self.proceed("done")

    def step_applies(self, step: str) -> bool:
        if step == "lower":
            return bool(self.plan and self.plan.lower)
        if step == "names":
            return self._needs_names()
        return True

    def step_shown(self, step: str) -> None:
        if step == "shares":
            self._show_shares()
        elif step == "lower" and self.plan:
            self.query_one("#lower-what", Static).update(Text(
                "\n".join(self.plan.lower[:4]) + "\nRestoring there lowers the protection of the key material."))
            self.query_one("#lower-label", Label).update(f"Type {LOWER} to restore into {self.plan.engine_id} anyway")
        elif step == "done":
            self._show_done()

    def next_label(self, step: str) -> str | None:
        if step == "lower":
            return "Next" if self._needs_names() else "Restore"
        return {"names": "Restore", "done": "Done"}.get(step, "Next")

    def can_go_back(self, step: str) -> bool:
        return step != "done"

    def focus_target(self, step: str):
        return self.query_one("#engine-list", OptionList) if step == "engine" else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_next()

    # --- the shares ------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "share" or self.backup is None:
            return
        text, right = share_feedback(self.kms, self.backup, event.value, self.shares)
        self.say("")  # what was said of the share before no longer holds
        check = self.query_one("#share-check", Static)
        check.set_class(right is True, "right")
        check.set_class(right is False, "wrong")
        check.update(Text(text))

    def _about(self) -> Text:
        b = self.backup
        assert b is not None
        text = Text(f"Backup of {len(b.keys)} key(s) made {b.created}, share set {b.identifier}: {b.threshold} of its "
                    f"{b.custodians} custodians' shares restore it.\nKeys: ")
        text.append_text(literal(", ".join(k.name for k in b.keys[:8]) + (" …" if len(b.keys) > 8 else "")))
        return text

    def _show_shares(self) -> None:
        b = self.backup
        if b is None:
            return
        self.query_one("#shares-about", Static).update(self._about())
        given = ", ".join(f"custodian {c}" for c in self.custodians) or "none yet"
        self.query_one("#shares-given", Static).update(Text.assemble(("Shares given: ", "bold"), given))
        label = (f"Share {len(self.shares) + 1} of {b.threshold}: its {SHARE_WORDS} words (not shown as typed)"
                 if len(self.shares) < b.threshold else f"All {b.threshold} shares are given.")
        self.query_one("#share-label", Label).update(label)
        self.query_one("#share-check", Static).update("")

    def _drop_shares(self) -> None:
        self.shares = []
        self.custodians = []
        self.query_one("#share", Input).value = ""

    def forget(self) -> None:
        self._drop_shares()

    # --- the result ------------------------------------------------------------------

    def _show_done(self) -> None:
        r = self.result
        if r is None or self.plan is None:
            return
        rows: list[tuple[str, Text | str]] = [("File", literal(self.app.paths.path(self.path))),
                                              ("SHA-256", Text(r.sha256)), ("Engine", literal(self.plan.engine_id))]
        for restored in r.keys:
            record = restored.record
            rows.append(("Restored", Text.assemble(literal(record.name, 40, style="bold"),
                                                   f"  key id {record.key_id[:16]}…")))
            if restored.aliases_left:
                rows.append(("  aliases left", literal(", ".join(restored.aliases_left))))
        rows.append(("Proof", Text("each key gives the recorded key id, and a challenge it signed verified with "
                                   "the recorded public key")))
        self.query_one("#done-summary", Static).update(summary(rows))
        self.query_one("#restore-command", CommandView).show(self.cli_command(), self.app.paths)

    def cli_command(self) -> CliCommand | None:
        if self.step_id != "done" or self.result is None or self.plan is None:
            return None
        data_dir = cli_data_dir(self.kms)
        argv = [PROGRAM, *(["--data-dir", data_dir] if data_dir else []), "keys", "restore", self.path,
                "--engine", self.plan.engine_id]
        for old, new in (self.names.items() if self.plan.taken else []):
            argv += ["--name", new if len(self.result.keys) == 1 else f"{old}={new}"]
        if self.plan.lower:
            argv.append("--confirm-lower-level")
        return CliCommand(argv, ["The shares are typed on the controlling terminal."])
