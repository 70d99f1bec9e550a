"""The rotation wizard: key → options → confirm → progress → done.

The key is prefilled when the wizard opens on one; ``kms.rotation.plan`` checks it in a worker
(a retired key, or one whose rotation did not finish, is refused there with the reason). The
options are the successor's algorithm and size (the key's, among what its engine can create),
its name (the next free ``-vN``) and whether the key's bindings move too. The confirm step says
what will move: the aliases, the engine's own aliases (AWS KMS), the bindings. Rotate shows the
progress step while a thread worker makes the successor, moves the aliases in one transaction and
retires the key (it cannot be stopped half-way: Escape waits); an error goes back to the confirm
step, said inline. The last step shows what was done and the equivalent command.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Checkbox, Input, Label, Static

from ..service.types import KeyRecord
from ..widgets.cells import literal
from .commands import PROGRAM, CliCommand
from .frame import SHORT_COMPACT
from .key_spec import CREATABLE, KeySpecChooser
from .parts import CommandView, cli_data_dir, compose_signing_key, key_line, summary
from .steps import Step, WizardScreen

AFTER = "retired: it still verifies; signing with it must be allowed"


def plan_rotation(kms, ref: str):
    """The plan with the key's own spec, and what its engine can create -> (plan, supported, level). Worker."""
    plan = kms.rotation.plan(ref)
    supported = kms.engines.supported_key_types(plan.engine_id)
    level = kms.engines.get(plan.engine_id).record.security_level
    return plan, {a: sorted(s) for a, s in supported.items() if a in CREATABLE and s}, level


def check_plan(kms, ref: str, algorithm: str, size: int, name: str | None):
    """The plan with the options chosen (the name checked). Runs in a worker."""
    return kms.rotation.plan(ref, algorithm=algorithm, size=size, name=name)


def rotate_key(kms, ref: str, algorithm: str, size: int, name: str, move_bindings: bool):
    """Rotate as planned -> RotationResult. Runs in a worker."""
    return kms.rotation.rotate(ref, algorithm=algorithm, size=size, name=name, move_bindings=move_bindings)


def _listed(values: list[str]) -> str:
    return ", ".join(values) if values else "none"


def _bindings(bindings: list[dict[str, str]]) -> str:
    return _listed([f"{b.get('resource_type')}/{b.get('resource_id')}" for b in bindings])


def _binding_fate(plan, move: bool) -> str:
    """Which bindings move and which stay; certificates always stay (they certify this key)."""
    if not plan.bindings:
        return "none"
    moving = plan.movable_bindings if move else []
    staying = [b for b in plan.bindings if b not in moving]
    parts = [f"{_bindings(moving)} (move)"] if moving else []
    return "; ".join(parts + ([f"{_bindings(staying)} (stay)"] if staying else []))


class RotateWizard(WizardScreen[None]):
    """Rotate a key: a successor made, every alias moved to it, the key retired."""

    WIZARD_TITLE = "Rotate a key"
    STEPS = (Step("key", "Key"), Step("options", "Successor"), Step("confirm", "Confirm"),
             Step("progress", "Rotating"), Step("done", "Done"))

    DEFAULT_CSS = """
    RotateWizard #move-bindings { margin-bottom: 1; }
    """

    def __init__(self, record: KeyRecord | None = None):
        super().__init__()
        self.record = record
        self.plan = None
        self.supported: dict[str, list[int]] = {}
        self.level: int | None = None
        self.result = None

    def compose_steps(self) -> ComposeResult:
        with Vertical(id="key"):
            yield from compose_signing_key("The key to rotate", self.record)
        with VerticalScroll(id="options"):
            yield Label("Successor's name (unique)")
            yield Input(id="successor-name", classes=SHORT_COMPACT)
            yield Checkbox("Move the key's bindings to the successor too", id="move-bindings")
            yield KeySpecChooser(id="rotate-spec")
        with VerticalScroll(id="confirm"):
            yield Static("", id="confirm-summary")
        with Vertical(id="progress"):
            yield Static("", id="progress-what")
        with VerticalScroll(id="done"):
            yield Static("", id="done-summary")
            yield CommandView(id="rotate-command")

    # --- steps -------------------------------------------------------------------

    @property
    def move_bindings(self) -> bool:
        return self.query_one("#move-bindings", Checkbox).value

    def check_step(self, step: str) -> str | None | object:
        if step == "key":
            ref = self.query_one("#key-ref", Input).value.strip()
            if not ref:
                return "Give the key: a name, an alias, a key id or a pkcs11: URI."
            return self.wait_for("Looking up the key…", plan_rotation, self.kms, ref, then=self._planned)
        if step == "options":
            spec = self.query_one(KeySpecChooser)
            if not spec.chosen:
                return "Choose an algorithm and a size the key's engine supports."
            name = self.query_one("#successor-name", Input).value.strip() or None
            return self.wait_for("Checking the successor's name…", check_plan, self.kms, self.plan.predecessor.name,
                                 spec.algorithm, spec.key_size, name, then=self._checked)
        return None

    def _rotate(self) -> None:
        plan = self.plan
        self.busy = True
        self._sync_buttons()
        self.query_one("#progress-what", Static).update(Text.assemble(
            "Making ", (f"{plan.algorithm} {plan.size}", "bold"), " key ", literal(plan.name, 60, style="bold"),
            " in ", literal(plan.engine_id), ", then moving ", str(len(plan.aliases) + len(plan.engine_aliases)),
            " alias(es) to it and retiring ", literal(plan.predecessor.name, 60), "…"))
        self.call(rotate_key, self.kms, plan.predecessor.name, plan.algorithm, plan.size, plan.name,
                  self.move_bindings, then=self._rotated, failed=self._failed, group="rotate")

    def _failed(self, error: BaseException) -> bool:
        """Back on the confirm step, the error said there (nothing moved unless the message says so)."""
        self.go_to("confirm")
        return self.failed_inline(error)

    def action_cancel(self) -> None:
        if self.step_id == "progress":
            self.say("A rotation cannot be stopped half-way; it ends in a moment.")
            return
        super().action_cancel()

    def _planned(self, planned) -> None:
        self.plan, self.supported, self.level = planned
        self.record = self.plan.predecessor
        self.query_one("#key-found", Static).update(Text("Key: ") + key_line(self.record))
        spec = self.query_one(KeySpecChooser)
        spec.algorithm, spec.key_size = self.record.algorithm, self.record.size  # offered first: the key's own
        self.query_one("#successor-name", Input).value = self.plan.name
        self.proceed()

    def _checked(self, plan) -> None:
        self.plan = plan
        self.proceed()

    def _rotated(self, result) -> None:
        self.result = result
        self.proceed()

    def step_shown(self, step: str) -> None:
        if step == "options":
            self.query_one(KeySpecChooser).offer(self.supported, self.level)
        elif step == "confirm":
            self._show_confirm()
        elif step == "progress":
            self._rotate()
        elif step == "done":
            self._show_done()

    def next_label(self, step: str) -> str | None:
        return {"confirm": "Rotate", "progress": None, "done": "Done"}.get(step, "Next")

    def can_go_back(self, step: str) -> bool:
        return step not in ("progress", "done")

    def finish(self) -> None:
        self.close(None)

    # --- what is shown -------------------------------------------------------------

    def _show_confirm(self) -> None:
        p = self.plan
        rows = [
            ("Key", key_line(p.predecessor)),
            ("Successor", Text.assemble(literal(p.name, 40, style="bold"), f"  {p.algorithm} {p.size} · ",
                                        literal(p.engine_id))),
            ("Aliases move", literal(_listed(p.aliases))),
            ("Engine aliases", literal(_listed(p.engine_aliases))),
            ("Bindings", literal(_binding_fate(p, self.move_bindings))),
            ("Then the key is", Text(AFTER)),
        ]
        self.query_one("#confirm-summary", Static).update(summary(rows))

    def _show_done(self) -> None:
        r = self.result
        rows = [
            ("Rotated", Text.assemble(literal(r.predecessor.name, 30, style="bold"), " → ",
                                      literal(r.successor.name, 30, style="bold"))),
            ("Successor", Text(f"{r.successor.algorithm} {r.successor.size} · key id {r.successor.key_id[:16]}…")),
            ("Aliases moved", literal(_listed(r.aliases + r.engine_aliases))),
            ("Bindings moved", literal(_bindings(r.bindings_moved))),
            ("Bindings left", literal(_bindings(r.bindings_left))),
        ]
        self.query_one("#done-summary", Static).update(summary(rows))
        self.query_one("#rotate-command", CommandView).show(self.cli_command(), self.app.paths)

    def cli_command(self) -> CliCommand | None:
        if self.step_id != "done" or self.result is None:
            return None
        data_dir = cli_data_dir(self.kms)
        return CliCommand([PROGRAM, *(["--data-dir", data_dir] if data_dir else []),
                           *self.plan.argv(self.move_bindings)])
