"""Pieces several wizards share: a path field with a file picker, the message source,
the command view, summaries, engine and signing-algorithm choices.

Each part is given what it shows and reports what the user did through its
widgets' own messages; the wizard decides what happens.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    ContentSwitcher,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option

from ..path_display import PathDisplay
from ..service import algorithms as A
from ..service.errors import AlgorithmMismatch
from ..service.types import resolve_data_dir
from ..widgets.cells import literal, strength
from ..widgets.file_picker import FilePickerDialog
from .commands import CliCommand
from .inputs import split_list


def cli_data_dir(kms) -> str | None:
    """``--data-dir`` for the equivalent command, when the CLI would not find this one by itself."""
    return None if kms.data_dir == resolve_data_dir(None) else str(kms.data_dir)


def summary(rows: list[tuple[str, Text | str]]) -> Table:
    """A two-column grid of labels and values; values given as str are shown literally."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, value if isinstance(value, Text) else literal(value))
    return grid


def strength_line(algorithm: str, size: int) -> Text:
    """The strength class in its colour, then why (in the normal colour)."""
    return Text.assemble(strength(A.strength(algorithm, size)), "  ", A.strength_reason(algorithm, size))


def engine_option(view) -> Option:
    """An engine in a list: id, kind, security level, default mark, key count."""
    r = view.record
    keys = f"{view.key_count} key{'s' if view.key_count != 1 else ''}"
    text = Text.assemble(literal(r.id, 40, style="bold"), f"  {view.display} · SL{r.security_level} · {keys}",
                         ("  default" if r.is_default else "", "green"))
    return Option(text, id=r.id)


SIGNING_NOTES = {"PKCS1v15": "RSA PKCS#1 v1.5", "PSS": "RSA-PSS, salt = hash length"}


def fitting_algorithms(key_algorithm: str, size: int) -> list[str]:
    """Signing algorithms a key of this kind and size can use (PSS needs room for its salt)."""
    out = []
    for name in A.algorithms_for_key(key_algorithm):
        try:
            A.check_fits(A.SIGNING_ALGORITHMS[name], key_algorithm, size)
        except AlgorithmMismatch:
            continue
        out.append(name)
    return out


def preferred_algorithm(key_algorithm: str, size: int) -> str | None:
    """The usual choice: ECDSA's hash matched to its curve, RSA PKCS#1 v1.5 SHA-256."""
    fitting = fitting_algorithms(key_algorithm, size)
    wanted = {256: "ECDSA_SHA_256", 384: "ECDSA_SHA_384", 521: "ECDSA_SHA_512"}.get(size, "")
    if key_algorithm == A.ECDSA and wanted in fitting:
        return wanted
    return fitting[0] if fitting else None


def algorithm_option(name: str) -> Option:
    alg = A.SIGNING_ALGORITHMS[name]
    note = SIGNING_NOTES.get(alg.padding or "", "ECDSA, DER signature" if alg.key_algorithm == A.ECDSA else "")
    if alg.hash_name:
        note = f"{note}, {alg.hash_name.upper()} ({alg.digest_size}-byte digest)".lstrip(", ")
    elif alg.key_algorithm == A.ML_DSA:
        note = "pure ML-DSA (FIPS 204): signs the message itself (no digest)"
    else:
        note = "pure EdDSA: signs the message itself (no digest)"
    return Option(Text.assemble((name.ljust(26), "bold"), (note, "dim")), id=name)


def compose_signing_key(purpose: str, record) -> ComposeResult:
    """The key step of the sign and CSR wizards: a reference typed (or given by the screen it opened from)."""
    yield Label(f"{purpose}: its name, an alias, its key id or a pkcs11: URI.")
    yield Input(value=record.name if record else "", placeholder="name, alias or key id", id="key-ref")
    yield Static("", id="key-found")


def look_up_signing_key(wizard, then):
    """The key step's check (sign, verify, CSR): the typed reference resolved in a worker, ``then`` given the record."""
    ref = wizard.query_one("#key-ref", Input).value.strip()
    if not ref:
        return "Give the key: a name, an alias, a key id or a pkcs11: URI."
    return wizard.wait_for("Looking up the key…", wizard.kms.keys.resolve, ref, then=then)


def signing_key_found(wizard, record, public_only: str) -> bool:
    """Shows the key found; False (the step refused, ``public_only`` saying why for a public key) when it
    cannot sign now."""
    wizard.query_one("#key-found", Static).update(Text("Key: ") + key_line(record))
    if not record.has_private_key:
        wizard.refuse(f"{record.name[:60]!r} is a public key only: {public_only}.")
    elif record.status == "missing":
        wizard.refuse(f"{record.name[:60]!r} was not found in its engine at the last sync.")
    else:
        return True
    return False


def key_kind(algorithm: str, size: int) -> str:
    """A key's algorithm and size in one phrase: "RSA 3072", "ECDSA 384", "ML-DSA-65" (its parameter set)."""
    return A.display_name(algorithm, size) if algorithm == A.ML_DSA else f"{algorithm} {size}"


def spec_text(algorithm: str, size: int) -> str:
    """As a preview or a confirmation shows a key's kind: "ECDSA P-384 (384)", "RSA 3072", "ML-DSA-65"."""
    if algorithm == A.ECDSA:
        return f"{algorithm} {A.NIST_NAME.get(size, size)} ({size})"
    return key_kind(algorithm, size)


def key_line(record) -> Text:
    """A key in one line: name, algorithm and size, engine."""
    return Text.assemble(literal(record.name, 60, style="bold"), f"  {key_kind(record.algorithm, record.size)} · ",
                         literal(record.engine_id))


def compose_names(example: str) -> ComposeResult:
    """The name, aliases and tags fields of the create and import wizards."""
    yield Label("Name (unique on this workstation)")
    yield Input(placeholder=f"e.g. {example}", id="name")
    yield Label("Aliases (comma-separated, optional)", classes="field-label")
    yield Input(placeholder="e.g. issuing-ca, ca-current", id="aliases")
    yield Label("Tags (comma-separated, optional)", classes="field-label")
    yield Input(placeholder="e.g. pki, ca", id="tags")


def names_from(screen) -> tuple[str, list[str], list[str]]:
    """(name, aliases, tags) as typed: trimmed, lists split on commas."""
    return (screen.query_one("#name", Input).value.strip(), split_list(screen.query_one("#aliases", Input).value),
            split_list(screen.query_one("#tags", Input).value))


class CommandView(Static):
    """The equivalent ``kms-tui`` command, with notes for pasted input."""

    DEFAULT_CSS = "CommandView { border: round $primary-darken-1; padding: 0 1; height: auto; margin-top: 1; }"

    def on_mount(self) -> None:
        self.border_title = "Equivalent command (F6 copies)"

    def show(self, command: CliCommand, paths: PathDisplay) -> None:
        text = Text.assemble(("$ ", "dim"), command.shown(paths))
        for note in command.notes:
            text.append("\n" + note, style="dim italic")
        self.update(text)


class PathField(Horizontal):
    """A path typed, or picked with the file picker (Browse…, or Ctrl+O in the field)."""

    DEFAULT_CSS = "PathField { height: auto; } PathField > Input { width: 1fr; } PathField > Button { margin-left: 1; }"
    BINDINGS = [Binding("ctrl+o", "browse", "Browse", id="path.browse", tooltip="Pick the file in a folder tree")]

    def __init__(self, placeholder: str, picker_title: str, *, id: str):
        super().__init__(id=id)
        self.placeholder, self.picker_title = placeholder, picker_title

    def compose(self) -> ComposeResult:
        yield Input(placeholder=self.placeholder, id=f"{self.id}-path")
        yield Button("Browse…", id=f"{self.id}-browse")

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def value(self) -> str:
        return self.input.value.strip()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == f"{self.id}-browse":
            event.stop()
            self.action_browse()

    def action_browse(self) -> None:
        """The file picker, starting in the folder of what is typed."""
        self.app.push_screen(FilePickerDialog(self.picker_title, self.value), self._picked)

    def _picked(self, path: str | None) -> None:
        if path:
            self.input.value = path
            self.input.focus()


class MessageSource(Vertical):
    """What to sign or verify: typed text, a file, or a hex/base64 digest."""

    DEFAULT_CSS = """
    MessageSource { height: 1fr; }
    MessageSource > RadioSet { layout: horizontal; height: auto; width: auto; }
    MessageSource > RadioSet > RadioButton { width: auto; margin-right: 2; }
    MessageSource > ContentSwitcher { height: 1fr; }
    MessageSource TextArea { height: 1fr; min-height: 4; }
    """

    KINDS = (("text", "Text"), ("file", "File"), ("digest", "Digest"))

    def compose(self) -> ComposeResult:
        with RadioSet(id=f"{self.id}-kind"):
            for i, (kind, label) in enumerate(self.KINDS):
                yield RadioButton(label, value=i == 0, id=f"{self.id}-{kind}-choice")
        with ContentSwitcher(initial=f"{self.id}-text", id=f"{self.id}-switch"):
            yield TextArea(id=f"{self.id}-text", placeholder="Type or paste the message (signed as UTF-8)")
            with Vertical(id=f"{self.id}-file"):
                yield Label("The file is read whole (up to 64 MiB) and hashed here.", classes="hint")
                yield PathField("path of the message file", "Message file", id=f"{self.id}-path")
                mu = Checkbox("External mu: hashed here a chunk at a time, any size", id=f"{self.id}-mu")
                mu.display = False  # offered for an ML-DSA key whose engine signs an external mu
                yield mu
            with Vertical(id=f"{self.id}-digest"):
                yield Input(placeholder="hex or base64 digest", id=f"{self.id}-digest-input")
                yield Label("", id=f"{self.id}-digest-hint", classes="hint")

    @property
    def kind(self) -> str:
        index = self.query_one(RadioSet).pressed_index
        return self.KINDS[max(index, 0)][0]

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        self.query_one(ContentSwitcher).current = f"{self.id}-{self.kind}"
        self.call_after_refresh(lambda: self.field.focus())  # type where the choice leads

    @property
    def field(self) -> Widget:
        """The field of the chosen kind (where typing goes)."""
        return {"text": self.query_one(TextArea), "file": self.query_one(PathField).input,
                "digest": self.query_one(f"#{self.id}-digest-input", Input)}[self.kind]

    def set_algorithm(self, name: str, external_mu: bool = False) -> None:
        """Say what length a digest must have for the chosen signing algorithm.

        ML-DSA signs the message itself: no digest is offered; a file may be hashed here to its
        external mu when ``external_mu`` (the key's engine signs one, or the wizard verifies).
        """
        alg = A.SIGNING_ALGORITHMS.get(name)
        hint = self.query_one(f"#{self.id}-digest-hint", Label)
        if alg is None or alg.hash_name is None:
            hint.update(f"{name} signs the whole message: a digest cannot be used.")
        else:
            hint.update(f"{name} needs a {alg.digest_size}-byte {alg.hash_name.upper()} digest "
                        f"({alg.digest_size * 2} hex digits).")
        ml_dsa = alg is not None and alg.key_algorithm == A.ML_DSA
        digest = self.query_one(f"#{self.id}-digest-choice", RadioButton)
        if ml_dsa and digest.value:
            self.query_one(f"#{self.id}-text-choice", RadioButton).value = True
        digest.display, digest.disabled = not ml_dsa, ml_dsa
        mu = self.query_one(f"#{self.id}-mu", Checkbox)
        mu.display = ml_dsa and external_mu
        mu.value = mu.value and mu.display

    @property
    def external_mu(self) -> bool:
        """A file to hash here to its ML-DSA external mu."""
        mu = self.query_one(f"#{self.id}-mu", Checkbox)
        return self.kind == "file" and mu.display and mu.value

    def values(self, paths: PathDisplay) -> tuple[str, str, str, str]:
        """(kind, text, path, digest) as typed (the path read back by ``paths``): plain values a worker can read.

        The kind is "external-mu" for a file to hash here to its external mu.
        """
        kind = "external-mu" if self.external_mu else self.kind
        return (kind, self.query_one(TextArea).text, paths.real(self.query_one(PathField).value),
                self.query_one(f"#{self.id}-digest-input", Input).value)
