"""The backup wizard: keys → custody → security officer → file → hand-out → done.

Only keys made with a backup policy are offered (the key the wizard opened on is chosen; a key
that cannot be backed up is named with the reason). The custodians N and threshold M default to
the keys' policy and are checked as typed (SLIP-39's bounds). Engines whose wrap needs the
security officer (PKCS#11) ask for the officer's PIN. The file is new: an existing one is never
overwritten. Then ``kms.backup.create`` runs in a thread worker: it wraps the keys, writes the
file and hands the shares over; the worker waits while the custodians come one at a time, each
on a screen of their own (``CustodianDesk``): their share shown once, paged, confirmed written
down and two of its words typed again. The desk is removed (not hidden) before the next
custodian comes, and nothing of a share is logged, notified or kept once its custodian is done.
A hand-out cut short leaves no file (its shares are useless without it).

The shares come from a *share source* (``make_backup``, the service itself); tests give a
source that hands out a fixed dummy share, so no real share is ever drawn in a snapshot.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Checkbox, Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from ..files import open_new_file
from ..service import backup_policy as P
from ..service.backup import BackupResult, ShareSet
from ..service.errors import Cancelled, InvalidInput, KmsError
from ..service.types import KeyQuery, KeyRecord
from ..widgets.cells import literal
from .commands import PROGRAM, CliCommand
from .frame import SHORT_COMPACT, WAIT, WizardButtons
from .parts import CommandView, PathField, cli_data_dir, summary
from .steps import Step, WizardScreen, inline_text

PER_ROW = 4  # words of a share on a row
CHROME_ROWS = 15  # rows around a page of words: the frame, the desk's title, the box's border, the checkbox
MAX_OFFERED = 500  # keys listed in the keys step


@dataclass(frozen=True)
class BackupRequest:
    """What the wizard asks ``kms.backup.create`` for (the officer's PIN is never shown)."""

    refs: tuple[str, ...]
    custodians: int
    threshold: int
    path: str
    officer_pin: str | None = field(default=None, repr=False)


HandOut = Callable[[ShareSet], None]
ShareSource = Callable[..., BackupResult]  # (kms, BackupRequest, hand_out) -> BackupResult, in a worker


def make_backup(kms, request: BackupRequest, hand_out: HandOut) -> BackupResult:
    """The backup written to a new file and its shares handed out. Worker.

    The file is removed again when the hand-out did not finish: without every share handed out
    it is useless. Once it finished, the file is the backup, whatever fails after.
    """
    out = open_new_file(request.path)  # an existing file is refused before anything is wrapped
    handed: list[bool] = []

    def give(shares: ShareSet) -> None:
        hand_out(shares)
        handed.append(True)

    try:
        with out:
            return kms.backup.create(list(request.refs), custodians=request.custodians,
                                     threshold=request.threshold, out=out, hand_out=give,
                                     officer_pin=request.officer_pin)
    except BaseException:
        if not handed:
            with contextlib.suppress(OSError):
                os.unlink(os.path.expanduser(request.path))
        raise


@dataclass(frozen=True)
class Candidates:
    """The keys the wizard offers, and what it says about the others."""

    offered: list[tuple[KeyRecord, tuple[int, int]]]
    wanted_why_not: str  # why the key the wizard opened on is not offered ("" when it is, or none)
    without_policy: int  # other keys made without a backup policy


def backup_candidates(kms, wanted: KeyRecord | None) -> Candidates:
    """Every key with a private key and a backup policy; why the wanted key is not one. Worker."""
    offered, without, why_not = [], 0, ""
    if wanted is not None and not wanted.has_private_key:
        why_not = f"{wanted.name[:60]!r} is a public key only: there is nothing to back up."
    for record in kms.keys.iter(KeyQuery(has_private_key=True)):
        try:
            policy = P.policy_of(record)
        except KmsError as exc:
            if wanted is not None and record.key_id == wanted.key_id and record.engine_id == wanted.engine_id:
                why_not = exc.message
            else:
                without += 1
            continue
        if len(offered) < MAX_OFFERED:
            offered.append((record, policy))
    return Candidates(offered, why_not, without)


def officer_engines(kms, engine_ids: Sequence[str]) -> list[str]:
    """The engines among ``engine_ids`` whose wrap needs the security officer's PIN. Worker."""
    needing = []
    for engine_id in dict.fromkeys(engine_ids):
        view = kms.engines.get(engine_id)
        if kms.engines.type_info(view.record.type).backup_needs_officer:
            needing.append(engine_id)
    return needing


def free_path(path: str) -> str:
    """``path`` when nothing is there yet and its folder exists; a clear error otherwise. Worker."""
    target = os.path.expanduser(path)
    if os.path.lexists(target):
        raise InvalidInput(f"{path[:120]!r} exists; a backup never overwrites a file. Choose a new name.")
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise InvalidInput(f"The folder {folder[:120]!r} does not exist.")
    return target


def checked_positions(count: int) -> list[int]:
    """Two word positions (0-based) a custodian types again, chosen at random."""
    return sorted(secrets.SystemRandom().sample(range(count), 2))


def custody_sentence(threshold: int, custodians: int) -> str:
    if custodians == 1:
        return "One custodian holds the only share: it alone restores the keys."
    return (f"Each of the {custodians} custodians gets a share; any {threshold} of them together restore the "
            f"keys; fewer than {threshold} learn nothing about them.")


class HandOutDesk:
    """Where the worker hands the shares to the screen, and waits until every custodian had theirs."""

    def __init__(self, show: Callable[[ShareSet], None], call_from_thread: Callable[..., object]) -> None:
        self._show = show
        self._call_from_thread = call_from_thread
        self._done = threading.Event()
        self._cancelled = False

    def __call__(self, shares: ShareSet) -> None:
        """Runs in the worker: the screen shows the shares; returns once they are all handed out."""
        if not self._done.is_set():
            self._call_from_thread(self._show, shares)
            self._done.wait()
        if self._cancelled:
            raise Cancelled("The hand-out was cancelled: the backup file was removed and nothing was recorded.")

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def finished(self) -> None:
        self._done.set()

    def cancel(self) -> None:
        if not self._done.is_set():
            self._cancelled = True
            self._done.set()


def share_grid(words: Sequence[str], start: int, spaced: bool) -> Table:
    """Words ``start``… of a share, numbered, four to a row (``spaced``: a blank row between rows)."""
    grid = Table.grid(padding=(0, 3))
    for _ in range(PER_ROW):
        grid.add_column(no_wrap=True)
    for row in range(0, len(words), PER_ROW):
        if row and spaced:
            grid.add_row(*[""] * PER_ROW)
        cells = [Text.assemble((f"{start + row + i + 1:>2}. ", "dim"), (word, "bold"))
                 for i, word in enumerate(words[row:row + PER_ROW])]
        grid.add_row(*cells, *[""] * (PER_ROW - len(cells)))
    return grid


class CustodianDesk(Vertical):
    """One custodian's turn: ready → their share, paged → written down → two words typed again.

    Each phase is composed anew, so the share's widgets are gone once the words are checked;
    the wizard removes the whole desk before the next custodian's turn.
    """

    DEFAULT_CSS = """
    CustodianDesk { height: 1fr; }
    CustodianDesk .desk-title { text-style: bold; margin-bottom: 1; }
    CustodianDesk .share-words { border: heavy $warning; padding: 0 1; height: auto; width: auto; }
    CustodianDesk #written { margin-top: 1; }
    """

    def __init__(self, number: int, count: int, share: str) -> None:
        super().__init__(id=f"custodian-{number}")
        self.number, self.count = number, count
        self._words = share.split()
        self.positions = checked_positions(len(self._words))
        self.phase = "ready"  # ready | words | check
        self.page = 0

    @property
    def rows(self) -> int:
        """Rows of words the screen has room for."""
        return max(1, self.screen.size.height - CHROME_ROWS)

    @property
    def page_words(self) -> int:
        return self.rows * PER_ROW

    @property
    def pages(self) -> int:
        return -(-len(self._words) // self.page_words)

    @property
    def last_page(self) -> bool:
        return self.page + 1 >= self.pages

    def compose(self) -> ComposeResult:
        n = self.number
        if self.phase == "ready":
            yield Static(Text(f"Custodian {n} of {self.count}", style="bold"), classes="desk-title")
            yield Static(f"Only custodian {n} should see the screen now. Share {n} is shown once: kms-tui keeps "
                         "no copy of it, on disk or anywhere else. Have paper and pen ready, then press Next.")
        elif self.phase == "words":
            start = self.page * self.page_words
            page = self._words[start:start + self.page_words]
            rows = -(-len(page) // PER_ROW)
            shown = "" if self.pages == 1 else f" · words {start + 1}–{start + len(page)}"
            more = "" if self.last_page else "  (more on the next page)"
            yield Static(Text(f"Share {n} of {self.count} · {len(self._words)} words{shown}{more}", style="bold"),
                         classes="desk-title")
            yield Static(share_grid(page, start, 2 * rows - 1 <= self.rows), classes="share-words")
            if self.last_page:
                yield Checkbox(f"I wrote share {n} down, every word, in order", id="written", classes=SHORT_COMPACT,
                               compact=self.short)
        else:
            yield Static(Text(f"Share {n}: check what you wrote down (it is no longer on screen).", style="bold"),
                         classes="desk-title")
            for i, position in enumerate(self.positions, 1):
                yield Label(f"Word #{position + 1} of share {n}", classes="field-label" if i > 1 else "")
                yield Input(password=True, id=f"check-{i}", classes=SHORT_COMPACT, compact=self.short)

    @property
    def short(self) -> bool:
        """In a short terminal, fields are drawn without borders (as ``WizardScreen.on_resize`` does)."""
        return self.screen.size.height < 32

    def next_label(self) -> str:
        if self.phase == "ready":
            return "Show share"
        if self.phase == "words":
            return "Next words" if not self.last_page else "Written down"
        return "Check words"

    async def advance(self) -> str | None:
        """Go on to the next phase; a problem when the custodian is not done with this one."""
        if self.phase == "ready":
            self.phase = "words"
        elif self.phase == "words" and not self.last_page:
            self.page += 1
        elif self.phase == "words":
            if not self.query_one("#written", Checkbox).value:
                return f"Tick the box once share {self.number} is written down."
            self.phase = "check"
        else:
            return self._check_words()
        await self.recompose()
        return None

    def _check_words(self) -> str | None:
        for i, position in enumerate(self.positions, 1):
            typed = self.query_one(f"#check-{i}", Input)
            if typed.value.strip().lower() != self._words[position]:
                typed.value = ""
                typed.focus()
                return f"That is not word #{position + 1}; correct the written share, then type it again."
        self.phase = "done"
        return None

    def forget(self) -> None:
        self._words = []


class BackupWizard(WizardScreen[None]):
    """Back up keys under M-of-N custody: wrapped to a new file, a share for each custodian."""

    WIZARD_TITLE = "Back up keys"
    STEPS = (Step("keys", "Keys"), Step("custody", "Custodians"), Step("officer", "Officer"),
             Step("file", "File"), Step("handout", "Hand-out"), Step("done", "Done"))

    DEFAULT_CSS = """
    BackupWizard #backup-keys { height: auto; max-height: 10; }
    BackupWizard #keys-why-not { margin-top: 1; color: $text-muted; }
    BackupWizard #custody Input { width: 12; }
    BackupWizard #custody-check { margin-top: 1; }
    """

    def __init__(self, record: KeyRecord | None = None, *, source: ShareSource = make_backup) -> None:
        super().__init__()
        self.record = record
        self.source = source
        self.policies: dict[str, tuple[int, int]] = {}  # key name -> its policy (M, N)
        self.engines: dict[str, str] = {}  # key name -> its engine
        self.officer_engines: list[str] = []
        self.path = ""
        self.result: BackupResult | None = None
        self.desk: HandOutDesk | None = None
        self._pending: list[str] = []  # the shares still to hand out (custodian order)
        self._custodian = 0
        self._share_count = 0
        self._handed = False
        self._advancing = False  # a custodian's Next is being handled
        self.desk_widget: CustodianDesk | None = None

    @property
    def shows_secret(self) -> bool:
        """A custodian's share may be on screen: the app takes no screenshot meanwhile."""
        return self.desk_widget is not None or bool(self._pending)

    def compose_steps(self) -> ComposeResult:
        with Vertical(id="keys"):
            yield Label("The keys to back up (Space ticks). Only keys made with a backup policy can be.",
                        classes="hint")
            yield SelectionList[str](id="backup-keys")
            yield Static("", id="keys-why-not")
        with VerticalScroll(id="custody"):
            yield Label("Custodians N: how many people get a share")
            yield Input(id="custodians", type="integer", classes=SHORT_COMPACT)
            yield Label("Threshold M: how many shares restore the keys", classes="field-label")
            yield Input(id="threshold", type="integer", classes=SHORT_COMPACT)
            yield Static("", id="custody-check")
        with Vertical(id="officer"):
            yield Static("", id="officer-what")
            yield Label("Security officer PIN", classes="field-label")
            yield Input(password=True, id="officer-pin", classes=SHORT_COMPACT)
            yield Static("Used for this backup only, never kept: the officer puts the backup's key-encryption "
                         "key on the token as a trusted key, and it is destroyed after the wrap.", classes="hint")
        with Vertical(id="file"):
            yield Label("The backup file: a new file (an existing one is never overwritten).")
            yield PathField("path of the new backup file", "Backup file", id="backup-file")
            yield Static("It holds the keys wrapped and no share: without M shares it opens nothing.", classes="hint")
        yield Vertical(id="handout")
        with VerticalScroll(id="done"):
            yield Static("", id="done-summary")
            yield CommandView(id="backup-command")

    def started(self) -> None:
        self.busy = True
        self._sync_buttons()
        self.say("Looking for keys made with a backup policy…")
        self.call(backup_candidates, self.kms, self.record, then=self._candidates, failed=self.failed_inline,
                  group="candidates")

    def _candidates(self, found: Candidates) -> None:
        self.busy = False
        self._sync_buttons()
        self.say("")
        keys = self.query_one("#backup-keys", SelectionList)
        wanted = (self.record.engine_id, self.record.key_id) if self.record else None
        for record, policy in found.offered:
            self.policies[record.name] = policy
            self.engines[record.name] = record.engine_id
            label = Text.assemble(literal(record.name, 36, style="bold"), f"  {record.algorithm} {record.size} · ",
                                  literal(record.engine_id, 20), f" · {P.policy_text(*policy)}")
            keys.add_option(Selection(label, record.name, (record.engine_id, record.key_id) == wanted))
        if found.offered:
            names = [record.name for record, _ in found.offered]
            keys.highlighted = names.index(self.record.name) if self.record and self.record.name in names else 0
        self.query_one("#keys-why-not", Static).update(Text(self._why_not(found)))
        if not found.offered:
            self.say("No key here was made with a backup policy.", error=True)

    def _why_not(self, found: Candidates) -> str:
        lines = [f"Not offered: {found.wanted_why_not}"] if found.wanted_why_not else []
        if found.without_policy:
            lines.append(f"{found.without_policy} other key(s) were made without a backup policy: their material "
                         "never leaves their engine (make a key with one, then rotate to it).")
        return "\n".join(lines)

    # --- moving ----------------------------------------------------------------

    @property
    def chosen(self) -> list[str]:
        return list(self.query_one("#backup-keys", SelectionList).selected)

    def check_step(self, step: str) -> str | None | object:
        if step == "keys":
            return self._check_keys()
        if step == "custody":
            return self._check_custody()
        if step == "officer":
            return None if self.query_one("#officer-pin", Input).value else "Type the security officer's PIN."
        if step == "file":
            path = self.app.paths.real(self.query_one(PathField).value)
            if not path:
                return "Give the path of the new backup file."
            return self.wait_for("Checking the file…", free_path, path, then=self._start)
        if step == "handout":
            if not self._advancing:
                self._advancing = True
                self.run_worker(self._advance_desk(), group="handout")
            return WAIT
        return None

    def _check_keys(self) -> str | None | object:
        chosen = self.chosen
        if not chosen:
            return "Tick at least one key (Space)."
        policies = {self.policies[name] for name in chosen}
        if len(policies) > 1:
            texts = ", ".join(sorted(P.policy_text(*p) for p in policies))
            return f"The keys chosen were made for different policies ({texts}): back them up separately."
        ((threshold, custodians),) = policies
        self.query_one("#custodians", Input).value = str(custodians)
        self.query_one("#threshold", Input).value = str(threshold)
        return self.wait_for("Asking the keys' engines…", officer_engines, self.kms,
                             [self.engines[name] for name in chosen], then=self._officers)

    def _officers(self, engines: list[str]) -> None:
        if len(engines) > 1:
            self.refuse("The keys chosen are on several tokens whose security officers must each log in: "
                        "back up the keys of one token at a time.")
            return
        self.officer_engines = engines
        self.proceed()

    def _custody(self) -> tuple[int, int]:
        """(M, N) as typed and checked: InvalidInput with the reason otherwise."""
        try:
            custodians = int(self.query_one("#custodians", Input).value)
            threshold = int(self.query_one("#threshold", Input).value)
        except ValueError:
            raise InvalidInput("Give the number of custodians and the threshold as whole numbers.") from None
        return P.check_policy(threshold, custodians)

    def _check_custody(self) -> str | None:
        try:
            threshold, custodians = self._custody()
        except KmsError as exc:
            return inline_text(exc)
        for name in self.chosen:
            policy = self.policies[name]
            if policy != (threshold, custodians):
                return (f"Key {name[:60]!r} was made to be backed up {P.policy_text(*policy)}, not "
                        f"{P.policy_text(threshold, custodians)}.")
        return None

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("custodians", "threshold"):
            self._show_custody_check()

    def _show_custody_check(self) -> None:
        """What the custody typed means, or why SLIP-39 refuses it: as typed."""
        check = self.query_one("#custody-check", Static)
        try:
            check.update(Text(custody_sentence(*self._custody())))
        except KmsError as exc:
            check.update(Text(inline_text(exc), style="red"))

    def step_applies(self, step: str) -> bool:
        return step != "officer" or bool(self.officer_engines)

    def step_shown(self, step: str) -> None:
        if step == "custody":
            self._show_custody_check()
        elif step == "officer" and self.officer_engines:
            self.query_one("#officer-what", Static).update(Text.assemble(
                "Wrapping a key of ", literal(self.officer_engines[0], 40, style="bold"),
                " needs its security officer, who logs in for this backup only."))
        elif step == "done":
            self._show_done()

    def next_label(self, step: str) -> str | None:
        if step == "handout":
            return None if self.busy or self.desk_widget is None else self.desk_widget.next_label()
        return {"file": "Back up", "done": "Done"}.get(step, "Next")

    def can_go_back(self, step: str) -> bool:
        return step not in ("handout", "done")

    def focus_target(self, step: str):
        return self.query_one("#backup-keys", SelectionList) if step == "keys" else None

    # --- the backup and its hand-out ----------------------------------------------

    def _start(self, path: str) -> None:
        threshold, custodians = self._custody()
        pin = self.query_one("#officer-pin", Input).value if self.officer_engines else None
        self.path = path
        request = BackupRequest(tuple(self.chosen), custodians, threshold, path, pin or None)
        self.desk = HandOutDesk(self._shares_arrived, self.app.call_from_thread)
        self.say("Wrapping the keys and writing the file…")
        self.call(self.source, self.kms, request, self.desk, then=self._recorded, failed=self._failed,
                  group="backup")

    def _shares_arrived(self, shares: ShareSet) -> None:
        if not self.is_mounted or self.desk is None or self.desk.cancelled:
            return  # the wizard was left meanwhile: the worker gives up, nothing is shown
        self._pending = list(shares.shares)
        self._share_count = len(self._pending)
        self._custodian = 0
        self.query_one("#officer-pin", Input).value = ""
        self.proceed("handout")  # not busy: each custodian moves on with Next
        self._next_custodian()

    def _next_custodian(self) -> None:
        for old in self.query(CustodianDesk):
            old.forget()
            old.remove()
        self.desk_widget = None
        if not self._pending:
            self._all_handed_out()
            return
        self._custodian += 1
        self.desk_widget = CustodianDesk(self._custodian, self._share_count, self._pending.pop(0))
        self.query_one("#handout", Vertical).mount(self.desk_widget)
        self.call_after_refresh(self._desk_shown)

    def _desk_shown(self) -> None:
        """The desk's phase on screen: its label on Next (the bindings stay as they are), its field focused."""
        self.say("")
        self.query_one(WizardButtons).show(self.next_label("handout"), False, False, False)
        self.call_after_refresh(self.focus_step)

    async def _advance_desk(self) -> None:
        desk = self.desk_widget
        try:
            problem = await desk.advance() if desk is not None else None
        finally:
            self._advancing = False
        if problem:
            self.say(problem, error=True)
        elif desk is not None and desk.phase == "done":
            self._next_custodian()
        else:
            self._desk_shown()

    def _all_handed_out(self) -> None:
        self._handed = True
        self.busy = True
        self._sync_buttons()
        self.say("Every custodian has a share; recording the backup…")
        if self.desk is not None:
            self.desk.finished()

    def _recorded(self, result: BackupResult) -> None:
        self.result = result
        self.proceed("done")

    def _failed(self, error: BaseException) -> bool:
        """Before the hand-out: back on the file step, the error said there (the file was removed)."""
        self._drop_shares()
        if self._handed:
            self.busy = False
            self.go_to("done")
            self.query_one("#done-summary", Static).update(Text(
                f"The backup file {self.app.paths.path(self.path)} is complete and every custodian has a share "
                "of it: keep it. Recording the backup here failed: " + inline_text(error), style="red"))
            return isinstance(error, KmsError)
        self.go_to("file")
        return self.failed_inline(error)

    def action_cancel(self) -> None:
        if self._handed and self.result is None:
            self.say("Every custodian has a share; the backup is being recorded.")
            return
        if self.step_id == "handout":
            self.notify("The backup was cancelled: its file is removed and the shares handed out are useless.",
                        timeout=5)
        super().action_cancel()

    def _drop_shares(self) -> None:
        self._pending = []
        for desk in self.query(CustodianDesk):
            desk.forget()
            desk.remove()

    def forget(self) -> None:
        self._drop_shares()
        if self.desk is not None:
            self.desk.cancel()  # a worker still waiting for the hand-out gives up: no file is left
        with contextlib.suppress(Exception):
            self.query_one("#officer-pin", Input).value = ""

    def on_unmount(self) -> None:
        if self.desk is not None:
            self.desk.cancel()

    # --- the result ------------------------------------------------------------------

    def _show_done(self) -> None:
        r = self.result
        if r is None:
            return
        rows = [
            ("File", literal(self.app.paths.path(self.path))),
            ("SHA-256", Text(r.sha256)),
            ("Custody", Text(f"{P.policy_text(r.threshold, r.custodians)}: {r.custodians} custodians hold a share, "
                             f"any {r.threshold} restore the keys (share set {r.identifier})")),
            ("Keys", literal(", ".join(k.name for k in r.keys))),
        ]
        self.query_one("#done-summary", Static).update(summary(rows))
        self.query_one("#backup-command", CommandView).show(self.cli_command(), self.app.paths)

    def cli_command(self) -> CliCommand | None:
        if self.step_id != "done" or self.result is None:
            return None
        data_dir = cli_data_dir(self.kms)
        notes = ["The shares are shown on the controlling terminal only."]
        return CliCommand([PROGRAM, *(["--data-dir", data_dir] if data_dir else []), "keys", "backup",
                           *[k.name for k in self.result.keys], "--custodians", str(self.result.custodians),
                           "--threshold", str(self.result.threshold), "--out", self.path], notes)
