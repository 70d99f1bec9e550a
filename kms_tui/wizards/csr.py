"""The CSR wizard: key → subject and SANs → profile → preview → file → done.

The key is prefilled when the wizard opens on one and must hold a private key.
The subject (OpenSSL slash form, encoded in the order written, or RFC 4514) and
the SANs (``dns:``/``ip:``/``email:``/``uri:``, one per line or comma-separated)
are read by ``kms.csr.check`` as they are typed; its refusal, which names the bad
part, shows under the field and Next stays refused. The profile step picks the
certificate profile whose extensions the request asks for (or none); its SAN rule
is checked. The preview says what the request will carry and which engine signs it. The file step claims a new file
(never over an existing one), has the engine sign and writes the request, in a
thread worker. The last step shows the file, its SHA-256 and the equivalent command.
"""

from __future__ import annotations

import os
import re

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Label, Select, Static, TextArea

from ..files import open_new_file
from ..service.errors import KmsError
from ..service.types import KeyRecord
from ..widgets.cells import literal
from .commands import PROGRAM, CliCommand
from .frame import SHORT_COMPACT
from .parts import (
    CommandView,
    cli_data_dir,
    compose_signing_key,
    key_line,
    look_up_signing_key,
    signing_key_found,
    summary,
)
from .steps import Step, WizardScreen, inline_text

FORMATS = [("PEM", "pem"), ("DER", "der")]
NO_PROFILE = ""


def split_sans(text: str) -> list[str]:
    """SANs as typed: one per line or comma-separated; blanks dropped, order kept."""
    return [part.strip() for part in re.split(r"[,\n]", text or "") if part.strip()]


def write_csr(kms, ref: str, subject: str, sans: list[str], fmt: str, path: str, profile: str | None = None):
    """Claim the new file, have the engine sign the request, write it -> (path, CsrResult). Runs in a worker.
    The file is claimed first, so nothing is signed for a path that is taken."""
    with open_new_file(path) as f:
        try:
            made = kms.csr.make(ref, subject, sans, fmt, profile)
            f.write(made.data)
        except BaseException:
            os.unlink(os.path.expanduser(path))
            raise
    return os.path.expanduser(path), made


def csr_command(ref: str, subject: str, sans: list[str], fmt: str, out: str, *,
                data_dir: str | None = None, profile: str | None = None) -> CliCommand:
    """``kms-tui keys csr REF --subject … [--san …]… [--profile NAME] [--format der] --out FILE``."""
    argv = [PROGRAM] + (["--data-dir", data_dir] if data_dir else []) + ["keys", "csr", ref, "--subject", subject]
    for san in sans:
        argv += ["--san", san]
    if profile:
        argv += ["--profile", profile]
    if fmt != "pem":
        argv += ["--format", fmt]
    return CliCommand(argv + ["--out", out])


class CsrWizard(WizardScreen[None]):
    """A certificate signing request from any key that can sign, written to a new file."""

    WIZARD_TITLE = "Make a CSR"
    STEPS = (Step("key", "Key"), Step("subject", "Subject and SANs"), Step("profile", "Profile"),
             Step("preview", "Preview"), Step("file", "File"), Step("done", "Done"))

    DEFAULT_CSS = """
    CsrWizard .field-error { color: $error; height: auto; }
    CsrWizard #sans { height: 4; }
    CsrWizard #out-format { width: 12; }
    """

    def __init__(self, record: KeyRecord | None = None):
        super().__init__()
        self.record = record
        self.preview = None
        self.written: tuple[str, object] | None = None  # (path, CsrResult)
        self._profiles: dict[str, str] = {}  # name -> description, read when the profile step first shows

    def compose_steps(self) -> ComposeResult:
        with Vertical(id="key"):
            yield from compose_signing_key("The key that signs the request", self.record)
        with VerticalScroll(id="subject"):
            yield Label("Subject: /C=ES/O=Example/CN=name (in this order) or CN=name,O=Example,C=ES")
            yield Input(placeholder="/C=ES/O=Example/CN=www.example.com", id="subject-text", classes=SHORT_COMPACT)
            yield Static("", id="subject-error", classes="field-error")
            yield Label("SANs (optional): dns:, ip:, email:, uri:, one per line or comma-separated",
                        classes="field-label")
            yield TextArea(id="sans")
            yield Static("", id="sans-error", classes="field-error")
        with VerticalScroll(id="profile"):
            yield Label("Certificate profile: the extensions the request asks for (optional)")
            yield Select([("None", NO_PROFILE)], value=NO_PROFILE, allow_blank=False, id="profile-name",
                         classes=SHORT_COMPACT)
            yield Static("", id="profile-description")
        with VerticalScroll(id="preview"):
            yield Static("", id="preview-summary")
        with Vertical(id="file"):
            yield Label("Path of the new file (an existing file is never overwritten)")
            yield Input(placeholder="e.g. www.example.com.csr", id="out-path", classes=SHORT_COMPACT)
            yield Label("Format", classes="field-label")
            yield Select(FORMATS, value="pem", allow_blank=False, id="out-format", classes=SHORT_COMPACT)
        with VerticalScroll(id="done"):
            yield Static("", id="done-summary")
            yield CommandView(id="csr-command")

    # --- what was typed ----------------------------------------------------------

    @property
    def subject(self) -> str:
        return self.query_one("#subject-text", Input).value.strip()

    @property
    def sans(self) -> list[str]:
        return split_sans(self.query_one("#sans", TextArea).text)

    @property
    def profile(self) -> str | None:
        return str(self.query_one("#profile-name", Select).value) or None

    def _problem(self, subject: str | None, sans: list[str]) -> str:
        """What ``kms.csr.check`` refuses in these (subject None: the SANs alone), or ""."""
        try:
            self.kms.csr.check(subject, sans)
        except KmsError as error:
            return inline_text(error)
        return ""

    def _validate(self) -> None:
        """Live validation under each field; an empty subject waits for Next to be named."""
        if not self.kms_ready:
            return
        subject = self.subject
        self.query_one("#subject-error", Static).update(Text(self._problem(subject, []) if subject else ""))
        self.query_one("#sans-error", Static).update(Text(self._problem(None, self.sans)))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "subject-text":
            self._validate()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if event.text_area.id == "sans":
            self._validate()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "subject-text":
            event.stop()
            event.prevent_default()  # Enter in the subject goes on to the SANs, not past them
            self.query_one("#sans", TextArea).focus()

    # --- steps -------------------------------------------------------------------

    def check_step(self, step: str) -> str | None | object:
        if step == "key":
            return look_up_signing_key(self, self._resolved)
        if step in ("subject", "profile"):
            self._validate()
            try:
                self.preview = self.kms.csr.check(self.subject, self.sans, self.record, self.profile)
            except KmsError as error:
                return inline_text(error)
            return None
        if step == "file":
            path = self.query_one("#out-path", Input).value.strip()
            if not path:
                return "Type the path of the new file."
            fmt = str(self.query_one("#out-format", Select).value)
            return self.wait_for("Signing the request and writing it…", write_csr, self.kms, self.record.name,
                                 self.subject, self.sans, fmt, self.app.paths.real(path), self.profile,
                                 then=self._written)
        return None

    def _resolved(self, record: KeyRecord) -> None:
        if signing_key_found(self, record, "it cannot sign a request"):
            self.record = record
            self.proceed()

    def _written(self, result) -> None:
        self.written = result
        self.proceed()

    def step_shown(self, step: str) -> None:
        if step == "subject":
            self._validate()
        elif step == "profile":
            self._show_profiles()
        elif step == "preview":
            self._show_preview()
        elif step == "done":
            self._show_done()

    def next_label(self, step: str) -> str | None:
        return {"file": "Sign and write", "done": "Done"}.get(step, "Next")

    def can_go_back(self, step: str) -> bool:
        return step != "done"

    def finish(self) -> None:
        self.close(None)

    # --- what is shown -------------------------------------------------------------

    def _show_profiles(self) -> None:
        select = self.query_one("#profile-name", Select)
        if len(self._profiles) == 0:
            self._profiles = dict(self.kms.csr.profiles())
            chosen = select.value
            select.set_options([("None", NO_PROFILE), *((name, name) for name in self._profiles)])
            select.value = chosen
        self._describe_profile()

    def _describe_profile(self) -> None:
        text = self._profiles.get(self.profile or "", "No extensions besides the SANs.")
        self.query_one("#profile-description", Static).update(Text(text))

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "profile-name":
            self._describe_profile()

    def _show_preview(self) -> None:
        p = self.preview
        rows = [
            ("Key", key_line(self.record)),
            ("Signed by", literal(p.engine_id)),
            ("Signature", Text(p.signature_algorithm)),
            ("Subject", literal(p.subject)),
            ("Order written", literal(" / ".join(p.rdns))),
            ("SANs", literal(", ".join(p.sans) or "—")),
            ("Profile", literal(p.profile or "—")),
        ]
        self.query_one("#preview-summary", Static).update(summary(rows))

    def _show_done(self) -> None:
        path, made = self.written
        rows = [
            ("Key", key_line(self.record)),
            ("File", literal(self.app.paths.path(path))),
            ("Format", Text(made.format.upper())),
            ("SHA-256", Text(made.sha256)),
            ("Subject", literal(made.subject)),
            ("Signature", Text(made.signature_algorithm)),
        ]
        self.query_one("#done-summary", Static).update(summary(rows))
        self.query_one("#csr-command", CommandView).show(self.cli_command(), self.app.paths)

    def cli_command(self) -> CliCommand | None:
        if self.step_id != "done" or self.written is None:
            return None
        path, made = self.written
        return csr_command(self.record.name, self.subject, self.sans, made.format, path,
                           data_dir=cli_data_dir(self.kms), profile=self.profile)
