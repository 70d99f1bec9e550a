"""The import-key wizard: source → passphrase (encrypted keys only) → preview → names → escrow
(AWS KMS only) → confirm.

The key comes from a file (typed path or the file picker) or is pasted. It is
read and recognised in a worker before anything is stored; the preview says
what it is (algorithm, size, key id, private or public only, format) and where
it will go. An encrypted key asks for its passphrase in a masked field, which
is cleared as soon as it is read; the passphrase is held only until the import
runs or the wizard closes, and never shown, logged or put in the command.

AWS KMS never gives key material back: importing a private key there offers an escrow first,
a backup under M-of-N custody written to a new file (``keys import --backup M-of-N
--backup-out FILE``). Its shares are handed out on a terminal, one custodian after the other,
so an import with an escrow is run there: the wizard copies its command.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Input, Label, OptionList, RadioButton, RadioSet, Static, TextArea

from ..service.errors import KmsError
from ..service.types import KeyRecord
from ..widgets.cells import literal
from .commands import CliCommand, import_command
from .compat_note import CompatibilityNote
from .parts import (
    CommandView,
    PathField,
    cli_data_dir,
    compose_names,
    engine_option,
    names_from,
    summary,
)
from .recognise import Recognised, read_and_recognise, recognise, recognised_rows
from .steps import WAIT, Step, WizardScreen

ESCROW_ENGINES = ("AWS_KMS",)  # engines that never give key material back: their import may escrow first
ESCROW_NOTE = ("AWS KMS never gives this key back. It can first be backed up here, wrapped under a key split "
               "into M-of-N shares for custodians: any M of them restore it into a software engine, Vault or "
               "a PKCS#11 token. Leave M-of-N empty for no backup.")


class ImportKeyWizard(WizardScreen["KeyRecord | None"]):
    """Import a private key into an engine, or record a public key for verification."""

    WIZARD_TITLE = "Import a key"
    STEPS = (Step("source", "Source"), Step("passphrase", "Passphrase"), Step("preview", "Preview"),
             Step("names", "Names"), Step("escrow", "Escrow"), Step("confirm", "Confirm"))

    DEFAULT_CSS = """
    ImportKeyWizard #source-kind { layout: horizontal; height: auto; width: auto; }
    ImportKeyWizard #source-kind > RadioButton { width: auto; margin-right: 2; }
    ImportKeyWizard #source-switch { height: 1fr; }
    ImportKeyWizard #src-paste { height: 1fr; min-height: 4; }
    ImportKeyWizard #import-engines { height: auto; max-height: 6; }
    ImportKeyWizard #preview-summary { margin-bottom: 1; }
    """

    def __init__(self, engine_id: str | None = None):
        super().__init__()
        self.preselect = engine_id
        self.data: bytes | None = None
        self.source_path: str | None = None
        self.encrypted = False
        self.recognised: Recognised | None = None
        self._passphrase: str | None = None
        self.key_name, self.key_aliases, self.key_tags = "", [], []
        self.engine_types: dict[str, str] = {}  # engine id -> its type (the escrow is offered by type)
        self.escrow: tuple[int, int] | None = None  # (M, N) of the escrow asked for
        self.escrow_path: str | None = None

    def compose_steps(self) -> ComposeResult:
        with Vertical(id="source"):
            with RadioSet(id="source-kind"):
                yield RadioButton("From a file", value=True, id="src-file-choice")
                yield RadioButton("Paste", id="src-paste-choice")
            with ContentSwitcher(initial="src-file", id="source-switch"):
                with Vertical(id="src-file"):
                    yield Label("PEM or DER (PKCS#1, PKCS#8, SEC1, SPKI), OpenSSH or JWK; up to 1 MiB.",
                                classes="hint")
                    yield PathField("path of the key file", "Key file to import", id="key-file")
                yield TextArea(id="src-paste", placeholder="Paste a PEM, OpenSSH or JWK key")
        with Vertical(id="passphrase"):
            yield Static("The key is encrypted. Type its passphrase: it decrypts the key here and is not stored.")
            yield Input(password=True, placeholder="passphrase", id="key-passphrase")
        with VerticalScroll(id="preview"):
            yield Static("", id="preview-summary")
            yield Label("Import into engine")
            yield OptionList(id="import-engines")
        with VerticalScroll(id="names"):
            yield from compose_names("partner-root-2026")
        with VerticalScroll(id="escrow"):
            yield Static(ESCROW_NOTE, classes="hint")
            yield Label("Custodians, M-of-N (optional, e.g. 3-of-5)", classes="field-label")
            yield Input(placeholder="none: no backup", id="escrow-policy")
            yield Label("Backup file (a new file, never overwritten)", classes="field-label")
            yield PathField("path of the new backup file", "Escrow backup file", id="escrow-file")
        with VerticalScroll(id="confirm"):
            yield Static("", id="confirm-summary")
            yield CompatibilityNote(id="confirm-compat")
            yield CommandView(id="confirm-command")

    def started(self) -> None:
        self.call(self.kms.engines.list, then=self._engines_loaded, group="engines")

    def _engines_loaded(self, views) -> None:
        engines = self.query_one("#import-engines", OptionList)
        engines.set_options(engine_option(v) for v in views)
        self.engine_types = {v.record.id: v.record.type for v in views}
        ids = [v.record.id for v in views]
        default = next((v.record.id for v in views if v.record.is_default), ids[0] if ids else None)
        wanted = self.preselect if self.preselect in ids else default
        if wanted is not None:
            engines.highlighted = ids.index(wanted)

    @property
    def engine_id(self) -> str | None:
        option = self.query_one("#import-engines", OptionList).highlighted_option
        return option.id if option else None

    @property
    def source_kind(self) -> str:
        return "paste" if self.query_one("#source-kind", RadioSet).pressed_index == 1 else "file"

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        if event.radio_set.id == "source-kind":
            self.query_one("#source-switch", ContentSwitcher).current = f"src-{self.source_kind}"
            self.call_after_refresh(self.focus_step)

    def focus_target(self, step: str):
        if step == "source":
            if self.source_kind == "file":
                return self.query_one("#key-file", PathField).input
            return self.query_one("#src-paste")
        if step == "escrow":
            return self.query_one("#escrow-policy", Input)
        return None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_next()

    # --- steps -------------------------------------------------------------------

    def step_applies(self, step: str) -> bool:
        if step == "escrow":
            recognised = self.recognised
            return (self.engine_types.get(self.engine_id or "") in ESCROW_ENGINES
                    and recognised is not None and recognised.has_private_key)
        return step != "passphrase" or self.encrypted

    @property
    def escrow_wanted(self) -> tuple[int, int] | None:
        """The escrow's (M, N) when one was asked for and still applies to the chosen engine and key."""
        return self.escrow if self.step_applies("escrow") else None

    def step_shown(self, step: str) -> None:
        if step == "source":
            self._passphrase = None  # a new source may need another passphrase
        elif step == "preview":
            self._show_preview()
        elif step == "names":
            name = self.query_one("#name", Input)
            if not name.value and self.source_path:
                name.value = Path(self.source_path).stem
        elif step == "confirm":
            self._show_confirm()

    def check_step(self, step: str) -> str | None | object:
        if step == "source":
            kind = self.source_kind
            path = self.app.paths.real(self.query_one("#key-file", PathField).value)
            text = self.query_one("#src-paste", TextArea).text
            if kind == "file" and not path:
                return "Give the path of the key file, or choose Browse…"
            if kind == "paste" and not text.strip():
                return "Paste a key, or choose a file."
            self.source_path = path if kind == "file" else None
            return self.wait_for("Reading the key…", read_and_recognise, self.kms, kind, path, text,
                                 then=self._read)
        if step == "passphrase":
            field = self.query_one("#key-passphrase", Input)
            passphrase, field.value = field.value, ""  # cleared from the widget at once
            if not passphrase:
                return "Type the passphrase of the key."
            return self.wait_for("Decrypting…", self.kms.keys.inspect, self.data, passphrase,
                                 then=lambda parsed: self._decrypted(parsed, passphrase))
        if step == "preview":
            engine_id = self.engine_id
            if engine_id is None:
                return "Choose the engine to import into."
            return self.wait_for("Checking the engine…", self.kms.keys.by_key_id, self.recognised.key_id,
                                 then=lambda records: self._not_recorded(records, engine_id))
        if step == "names":
            self.key_name, self.key_aliases, self.key_tags = names_from(self)
            if not self.key_name:
                return "A key needs a name."
            return self.wait_for("Checking the name and aliases…", self.kms.keys.name_problem, self.key_name,
                                 self.key_aliases, then=lambda problem: self.refuse(problem) if problem else self.proceed())
        if step == "escrow":
            return self._check_escrow()
        if step == "confirm" and self.escrow_wanted:
            return self._to_terminal()
        if step == "confirm":
            return self.wait_for("Importing…", partial(self.kms.keys.import_key, self.data, self.key_name,
                                                       engine_id=self.engine_id, passphrase=self._passphrase,
                                                       aliases=self.key_aliases, tags=self.key_tags),
                                 then=self._imported)
        return None

    def _check_escrow(self) -> str | None:
        typed = self.query_one("#escrow-policy", Input).value.strip()
        path = self.app.paths.real(self.query_one("#escrow-file", PathField).value)
        self.escrow, self.escrow_path = None, None
        if not typed:
            return "Give M-of-N for the backup file, or clear its path." if path else None
        try:
            escrow = self.kms.backup.parse_policy(typed)
        except KmsError as exc:
            return exc.message
        if not path:
            return "Give the path of the new backup file."
        if os.path.lexists(path):
            return f"{path} exists; it is not overwritten."
        self.escrow, self.escrow_path = escrow, path
        return None

    def _to_terminal(self) -> object:
        """The import with its escrow runs on a terminal, where each custodian is shown their share."""
        self.action_copy_command()
        self.notify("Run the copied command in a terminal: each custodian is shown their share there, then the "
                    "key is imported. Nothing was imported here.", timeout=8)
        self.close(None)
        return WAIT

    def _read(self, result: tuple[bytes, Recognised | None]) -> None:
        self.data, self.recognised = result
        self.encrypted = self.recognised is None
        self.proceed()

    def _decrypted(self, parsed, passphrase: str) -> None:
        self._passphrase = passphrase
        self.recognised = recognise(parsed)
        self.proceed()

    def _not_recorded(self, records: list[KeyRecord], engine_id: str) -> None:
        same = [r for r in records if r.engine_id == engine_id]
        if same:
            self.refuse(f"This key is already recorded on {engine_id} as {same[0].name[:60]!r}.")
        else:
            self.proceed()

    def _imported(self, record: KeyRecord) -> None:
        self.notify(f"Key {record.name[:60]} imported.", timeout=3)
        self.close(record)

    def next_label(self, step: str) -> str | None:
        if step == "confirm":
            return "Copy command" if self.escrow_wanted else "Import"
        return "Next"

    def forget(self) -> None:
        self._passphrase = None
        self.data = None
        self.query_one("#key-passphrase", Input).value = ""
        self.query_one("#src-paste", TextArea).text = ""

    # --- what is shown ---------------------------------------------------------------

    def _rows(self) -> list[tuple[str, Text | str]]:
        source = self.app.paths.path(self.source_path) if self.source_path else None
        return recognised_rows(self.recognised, self.encrypted, source)

    def _show_preview(self) -> None:
        self.query_one("#preview-summary", Static).update(summary(self._rows()))

    def cli_command(self) -> CliCommand | None:
        if self.step_id != "confirm" or self.recognised is None:
            return None
        escrow = self.escrow_wanted
        return import_command(self.source_path, self.key_name, self.engine_id, encrypted=self.encrypted,
                              aliases=self.key_aliases, tags=self.key_tags, data_dir=cli_data_dir(self.kms),
                              backup=f"{escrow[0]}-of-{escrow[1]}" if escrow else None, backup_out=self.escrow_path)

    def _show_confirm(self) -> None:
        rows = self._rows()[:1] + self._rows()[2:4] + [
            ("Engine", literal(self.engine_id)),
            ("Name", literal(self.key_name)),
            ("Aliases", literal(", ".join(self.key_aliases) or "—")),
            ("Tags", literal(", ".join(self.key_tags) or "—")),
        ]
        escrow = self.escrow_wanted
        if escrow:
            rows.append(("Escrow", Text.assemble(
                f"{escrow[0]}-of-{escrow[1]} to ", literal(self.escrow_path or ""), ", before the import. Each "
                "custodian is shown their share on a terminal: Copy command, then run it there.")))
        self.query_one("#confirm-summary", Static).update(summary(rows))
        self.query_one("#confirm-command", CommandView).show(self.cli_command(), self.app.paths)
        note = self.query_one(CompatibilityNote)
        note.clear()
        recognised = self.recognised
        if recognised is not None and recognised.has_private_key:
            self.call(self.kms.keys.compatibility, self.engine_id, recognised.algorithm, recognised.size,
                      then=note.show, failed=lambda error: isinstance(error, KmsError), group="compat")
