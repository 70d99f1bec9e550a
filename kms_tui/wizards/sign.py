"""The sign wizard: key → algorithm → message → signature.

The key is prefilled when the wizard opens on one; otherwise any reference
(name, alias, key id, pkcs11: URI) is resolved in a worker. Only signing
algorithms that fit the key are offered. The message is typed text, a file or
a hex/base64 digest; the service checks a digest's length, and its refusal is
shown on the message step. ML-DSA signs the message itself: no digest is
offered, but a file may be hashed here to its external mu (FIPS 204) when the
key's engine signs one. The signature is shown as base64 and hex in
read-only, selectable fields, and can be saved to a new file (an existing
file is never overwritten).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, OptionList, Select, Static, TextArea

from ..service import algorithms as A
from ..service.errors import KmsError
from ..service.types import KeyRecord
from .commands import CliCommand, MessageSpec, sign_command
from .frame import SHORT_COMPACT
from .inputs import encode_signature, load_signed, write_new_file
from .parts import (
    CommandView,
    MessageSource,
    algorithm_option,
    cli_data_dir,
    compose_signing_key,
    fitting_algorithms,
    key_line,
    preferred_algorithm,
    signing_key_found,
    summary,
)
from .steps import Step, WizardScreen, inline_text

SAVE_ENCODINGS = [("base64 text", "base64"), ("hex text", "hex"), ("raw bytes", "raw")]


def sign_message(kms, ref: str, algorithm: str, kind: str, text: str, path: str, digest: str,
                 allow_retired: bool = False):
    """Read the message (a file of kind "external-mu": hash it here) and sign it
    -> (signature, MessageSpec, message length). Runs in a worker."""
    data, message_type, encoding, length = load_signed(kms, ref, kind, text, path, digest)
    signature = kms.signing.sign(ref, algorithm, data, message_type, allow_retired=allow_retired)
    spec = MessageSpec(digest=message_type == "DIGEST", path=path if kind in ("file", "external-mu") else None,
                       encoding=encoding, external_mu=message_type == "EXTERNAL_MU")
    return signature, spec, length


def signer_of(kms, ref: str):
    """The key a reference names, its rotation links, and whether its engine signs an ML-DSA
    external mu -> (record, links, external_mu). Runs in a worker."""
    record = kms.keys.resolve(ref)
    external_mu = record.algorithm == A.ML_DSA and kms.engines.type_info(
        kms.engines.get(record.engine_id).record.type).external_mu
    return record, kms.rotation.links_of(record), external_mu


class SignWizard(WizardScreen[None]):
    """Sign a message, a file or a digest with a key; show and save the signature."""

    WIZARD_TITLE = "Sign"
    STEPS = (Step("key", "Key"), Step("algorithm", "Algorithm"), Step("message", "Message"),
             Step("signature", "Signature"))

    DEFAULT_CSS = """
    SignWizard #algorithm-list { height: auto; max-height: 12; }
    SignWizard .sig-text { height: 4; margin-top: 1; border-title-color: $text-muted; }
    SignWizard #save-row { height: auto; margin-top: 1; }
    SignWizard #save-path { width: 1fr; }
    SignWizard #save-encoding { width: 20; margin-left: 1; }
    SignWizard #save { margin-left: 1; }
    """

    def __init__(self, record: KeyRecord | None = None):
        super().__init__()
        self.record = record
        self.algorithm: str | None = None
        self.external_mu = False  # the key's engine signs an ML-DSA external mu
        self.signature: bytes | None = None
        self.spec: MessageSpec | None = None
        self.message_length = 0
        self.saved: tuple[str, str] | None = None  # (path, encoding)

    def compose_steps(self) -> ComposeResult:
        with Vertical(id="key"):
            yield from compose_signing_key("The key to sign with", self.record)
            allow = Checkbox("Sign with this retired key anyway", id="allow-retired")
            allow.display = False  # offered for a retired (rotated) key only
            yield allow
        with Vertical(id="algorithm"):
            yield Static("", id="algorithm-key")
            yield OptionList(id="algorithm-list")
        with Vertical(id="message"):
            yield MessageSource(id="msg")
        with VerticalScroll(id="signature"):
            yield Static("", id="signature-summary")
            for encoding in ("base64", "hex"):
                field = TextArea(read_only=True, soft_wrap=True, id=f"sig-{encoding}", classes="sig-text")
                field.border_title = f"Signature, {encoding} (select to copy)"
                yield field
            with Horizontal(id="save-row"):
                yield Input(placeholder="save to a new file (not overwritten)", id="save-path", classes=SHORT_COMPACT)
                yield Select(SAVE_ENCODINGS, value="base64", allow_blank=False, id="save-encoding",
                             classes=SHORT_COMPACT)
                yield Button("Save", id="save", classes=SHORT_COMPACT)
            yield CommandView(id="sign-command")

    # --- steps -------------------------------------------------------------------

    def check_step(self, step: str) -> str | None | object:
        if step == "key":
            ref = self.query_one("#key-ref", Input).value.strip()
            if not ref:
                return "Give the key: a name, an alias, a key id or a pkcs11: URI."
            return self.wait_for("Looking up the key…", signer_of, self.kms, ref, then=self._found)
        if step == "algorithm":
            option = self.query_one("#algorithm-list", OptionList).highlighted_option
            if option is None:
                return "Choose a signing algorithm."
            self.algorithm = option.id
            self.query_one(MessageSource).set_algorithm(self.algorithm, self.external_mu)
            return None
        if step == "message":
            return self.wait_for("Signing…", sign_message, self.kms, self.record.name, self.algorithm,
                                 *self.query_one(MessageSource).values(self.app.paths), self.allow_retired,
                                 then=self._signed)
        return None

    @property
    def allow_retired(self) -> bool:
        allow = self.query_one("#allow-retired", Checkbox)
        return allow.display and allow.value

    def _found(self, found) -> None:
        """A retired key goes on only once the operator ticked the box the wizard then shows."""
        record, links, self.external_mu = found
        allow = self.query_one("#allow-retired", Checkbox)
        if links.retired and not (allow.display and allow.value):
            allow.value, allow.display = False, True
            self.refuse(f"{record.name[:60]!r} is retired ({links.lines[0][:120]}): tick the box to sign with it "
                        "anyway, or sign with its successor.")
            return
        if not links.retired:
            allow.value, allow.display = False, False
        self._resolved(record)

    def _resolved(self, record: KeyRecord) -> None:
        if signing_key_found(self, record, "it can verify but not sign"):
            if self.record is None or self.record.key_id != record.key_id:
                self.algorithm = None  # another key: the algorithm is chosen again
            self.record = record
            self.proceed()

    def _signed(self, result) -> None:
        self.signature, self.spec, self.message_length = result
        self.saved = None
        self.proceed()

    def step_shown(self, step: str) -> None:
        if step == "algorithm":
            names = fitting_algorithms(self.record.algorithm, self.record.size)
            self.query_one("#algorithm-key", Static).update(Text("Key: ") + key_line(self.record))
            algorithms = self.query_one("#algorithm-list", OptionList)
            algorithms.set_options(algorithm_option(n) for n in names)
            keep = self.algorithm if self.algorithm in names else preferred_algorithm(self.record.algorithm,
                                                                                      self.record.size)
            if keep:
                algorithms.highlighted = names.index(keep)
        elif step == "signature":
            self._show_signature()

    def focus_target(self, step: str):
        return self.query_one(MessageSource).field if step == "message" else None

    def next_label(self, step: str) -> str | None:
        return {"message": "Sign", "signature": "Done"}.get(step, "Next")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_next()

    # --- the signature -------------------------------------------------------------

    def _show_signature(self) -> None:
        import base64

        source = "a digest" if self.spec.digest else "a file" if self.spec.path else "typed text"
        signed = ", signed as its 64-byte external mu" if self.spec.external_mu else ""
        rows = [
            ("Key", key_line(self.record)),
            ("Algorithm", Text(self.algorithm)),
            ("Message", Text(f"{source}, {self.message_length} bytes{signed}")),
            ("Signature", Text(f"{len(self.signature)} bytes")),
        ]
        self.query_one("#signature-summary", Static).update(summary(rows))
        self.query_one("#sig-base64", TextArea).text = base64.b64encode(self.signature).decode()
        self.query_one("#sig-hex", TextArea).text = self.signature.hex()
        self._show_command()

    def cli_command(self) -> CliCommand | None:
        if self.step_id != "signature" or self.spec is None:
            return None
        path, encoding = self.saved or (None, "base64")
        command = sign_command(self.record.name, self.algorithm, self.spec, out=path, out_encoding=encoding,
                               data_dir=cli_data_dir(self.kms))
        if self.allow_retired:
            return CliCommand([*command.argv, "--allow-retired"], command.notes)
        return command

    def _show_command(self) -> None:
        self.query_one("#sign-command", CommandView).show(self.cli_command(), self.app.paths)

    def _save(self) -> None:
        path = self.query_one("#save-path", Input).value.strip()
        encoding = self.query_one("#save-encoding", Select).value
        if not path:
            self.say("Type the path of the new file.", error=True)
            return
        self.say("Saving…")
        self.call(write_new_file, self.app.paths.real(path), encode_signature(self.signature, encoding), group="save",
                  then=lambda written: self._saved(written, encoding), failed=self._save_failed)

    def _saved(self, written: str, encoding: str) -> None:
        self.saved = (written, encoding)
        self.say(f"Saved to {self.app.paths.path(written)} ({encoding}).")
        self._show_command()

    def _save_failed(self, error: BaseException) -> bool:
        if isinstance(error, KmsError):
            self.say(inline_text(error), error=True)
            return True
        return False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            event.stop()
            self._save()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "save-path":
            event.stop()
            event.prevent_default()  # Enter here saves; it does not finish the wizard
            self._save()
