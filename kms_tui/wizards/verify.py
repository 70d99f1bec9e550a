"""The verify wizard: key (or a pasted public key) → algorithm → message → signature → result.

Verification is offline, with the recorded public key (or the pasted one), so
it works while an engine is unreachable. The message is checked against the
algorithm before going on (a digest must have the hash's length; an ML-DSA
file may be hashed here to its external mu, with the recorded public key); the
signature is pasted as base64 or hex, or read from a file (base64, hex or raw
bytes, recognised). The result is a large VALID or INVALID.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Input, Label, OptionList, RadioButton, RadioSet, Static, TextArea

from ..service import algorithms as A
from ..service.types import KeyRecord
from .commands import CliCommand, MessageSpec, verify_command
from .inputs import MAX_SIGNATURE_BYTES, decode_signature_file, decode_text, load_signed, read_regular
from .parts import (
    CommandView,
    MessageSource,
    PathField,
    algorithm_option,
    cli_data_dir,
    fitting_algorithms,
    key_kind,
    key_line,
    look_up_signing_key,
    preferred_algorithm,
    summary,
)
from .recognise import Recognised, recognise
from .steps import Step, WizardScreen
from .verdict import Verdict


def read_message(kms, ref: str | None, algorithm: str, kind: str, text: str, path: str, digest: str):
    """Read the message (a file of kind "external-mu": hash it here for the recorded key ``ref``) and
    check it fits the algorithm -> (data, MessageSpec). Runs in a worker."""
    data, message_type, encoding, _length = load_signed(kms, ref, kind, text, path, digest)
    A.check_message(A.signing_algorithm(algorithm), data, A.MessageType.parse(message_type))
    return data, MessageSpec(digest=message_type == "DIGEST", path=path if kind in ("file", "external-mu") else None,
                             encoding=encoding, external_mu=message_type == "EXTERNAL_MU")


def read_signature(kind: str, text: str, path: str) -> tuple[bytes, str]:
    """(signature bytes, how it was written). Runs in a worker (it may read a file)."""
    if kind == "file":
        return decode_signature_file(read_regular(path, MAX_SIGNATURE_BYTES, "signature"))
    return decode_text(text, "signature")


def verify_signature(kms, ref: str | None, public_key: bytes | None, algorithm: str, message: tuple[bytes, MessageSpec],
                     kind: str, text: str, path: str) -> tuple[bool, int, str]:
    """Decode the signature and verify offline -> (valid, length, encoding). Runs in a worker."""
    signature, encoding = read_signature(kind, text, path)
    data, spec = message
    message_type = "DIGEST" if spec.digest else "EXTERNAL_MU" if spec.external_mu else "RAW"
    if public_key is not None:
        valid = kms.signing.verify_with_public_key(public_key, algorithm, data, signature, message_type)
    else:
        valid = kms.signing.verify(ref, algorithm, data, signature, message_type)
    return valid, len(signature), encoding


class VerifyWizard(WizardScreen[None]):
    """Check a signature against a recorded key or a pasted public key."""

    WIZARD_TITLE = "Verify"
    STEPS = (Step("key", "Key"), Step("algorithm", "Algorithm"), Step("message", "Message"),
             Step("signature", "Signature"), Step("result", "Result"))

    DEFAULT_CSS = """
    VerifyWizard #key-kind, VerifyWizard #sig-kind { layout: horizontal; height: auto; width: auto; }
    VerifyWizard RadioSet > RadioButton { width: auto; margin-right: 2; }
    VerifyWizard #key-switch, VerifyWizard #sig-switch { height: 1fr; }
    VerifyWizard #key-pem, VerifyWizard #sig-text { height: 1fr; min-height: 4; }
    VerifyWizard #algorithm-list { height: auto; max-height: 12; }
    VerifyWizard #result-summary { margin-top: 1; }
    """

    def __init__(self, record: KeyRecord | None = None):
        super().__init__()
        self.record = record
        self.public_key: bytes | None = None  # a pasted public key, when no record is used
        self.key_kind: tuple[str, int] | None = None  # (algorithm, size) of the key used
        self.algorithm: str | None = None
        self.message: tuple[bytes, MessageSpec] | None = None
        self.signature_encoding = "base64"
        self.signature_length = 0
        self.valid: bool | None = None

    def compose_steps(self) -> ComposeResult:
        with Vertical(id="key"):
            with RadioSet(id="key-kind"):
                yield RadioButton("A recorded key", value=True, id="key-recorded-choice")
                yield RadioButton("A pasted public key", id="key-pem-choice")
            with ContentSwitcher(initial="key-recorded", id="key-switch"):
                with Vertical(id="key-recorded"):
                    yield Label("Its name, an alias, its key id or a pkcs11: URI.")
                    yield Input(value=self.record.name if self.record else "", placeholder="name, alias or key id",
                                id="key-ref")
                yield TextArea(id="key-pem", placeholder="Paste a public key: PEM, OpenSSH or JWK")
        with Vertical(id="algorithm"):
            yield Static("", id="algorithm-key")
            yield OptionList(id="algorithm-list")
        with Vertical(id="message"):
            yield MessageSource(id="msg")
        with Vertical(id="signature"):
            with RadioSet(id="sig-kind"):
                yield RadioButton("Pasted (base64 or hex)", value=True, id="sig-text-choice")
                yield RadioButton("File", id="sig-file-choice")
            with ContentSwitcher(initial="sig-text", id="sig-switch"):
                yield TextArea(id="sig-text", placeholder="Paste the signature, base64 or hex")
                with Vertical(id="sig-file"):
                    yield Label("A signature file: base64 or hex text, or the raw bytes.", classes="hint")
                    yield PathField("path of the signature file", "Signature file", id="sig-path")
        with VerticalScroll(id="result"):
            yield Verdict("", id="verdict")
            yield Static("", id="result-summary")
            yield CommandView(id="verify-command")

    def _pressed(self, radio_id: str) -> int:
        return self.query_one(f"#{radio_id}", RadioSet).pressed_index

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        if event.radio_set.id == "key-kind":
            self.query_one("#key-switch", ContentSwitcher).current = ("key-recorded", "key-pem")[event.index]
        elif event.radio_set.id == "sig-kind":
            self.query_one("#sig-switch", ContentSwitcher).current = ("sig-text", "sig-file")[event.index]
        self.call_after_refresh(self.focus_step)  # type where the choice leads

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_next()

    # --- steps -------------------------------------------------------------------

    def check_step(self, step: str) -> str | None | object:
        if step == "key":
            return self._check_key()
        if step == "algorithm":
            option = self.query_one("#algorithm-list", OptionList).highlighted_option
            if option is None:
                return "No signing algorithm fits this key."
            self.algorithm = option.id
            # An external mu is made with the recorded public key: offered for a recorded key.
            self.query_one(MessageSource).set_algorithm(self.algorithm, external_mu=self.record is not None)
            return None
        if step == "message":
            ref = self.record.name if self.record else None
            return self.wait_for("Reading the message…", read_message, self.kms, ref, self.algorithm,
                                 *self.query_one(MessageSource).values(self.app.paths), then=self._message_read)
        if step == "signature":
            kind = "file" if self._pressed("sig-kind") == 1 else "text"
            ref = self.record.name if self.record else None
            return self.wait_for("Verifying…", verify_signature, self.kms, ref, self.public_key, self.algorithm,
                                 self.message, kind, self.query_one("#sig-text", TextArea).text,
                                 self.app.paths.real(self.query_one("#sig-path", PathField).value), then=self._verified)
        return None

    def _check_key(self) -> str | None | object:
        if self._pressed("key-kind") == 1:
            pem = self.query_one("#key-pem", TextArea).text
            if not pem.strip():
                return "Paste the public key, or choose a recorded key."
            return self.wait_for("Reading the public key…", self.kms.keys.inspect, pem.encode("utf-8"),
                                 then=lambda parsed: self._pasted(recognise(parsed), pem.encode("utf-8")))
        return look_up_signing_key(self, self._resolved)

    def _use_key(self, kind: tuple[str, int]) -> None:
        if not fitting_algorithms(*kind):
            self.refuse(f"No signing algorithm here fits a {kind[0]} key.")
            return
        if kind != self.key_kind:
            self.algorithm = None
        self.key_kind = kind
        self.proceed()

    def _resolved(self, record: KeyRecord) -> None:
        self.record, self.public_key = record, None
        self._use_key((record.algorithm, record.size))

    def _pasted(self, info: Recognised, data: bytes) -> None:
        if info.has_private_key:
            self.refuse("This is a private key: paste only the public key. Nothing was stored.")
            return
        self.record, self.public_key = None, data
        self._use_key((info.algorithm, info.size))

    def _message_read(self, result: tuple[bytes, MessageSpec]) -> None:
        self.message = result
        self.proceed()

    def _verified(self, result: tuple[bool, int, str]) -> None:
        self.valid, self.signature_length, self.signature_encoding = result
        self.proceed()

    def step_shown(self, step: str) -> None:
        if step == "algorithm":
            names = fitting_algorithms(*self.key_kind)
            self.query_one("#algorithm-key", Static).update(Text("Key: ") + self._key_text())
            algorithms = self.query_one("#algorithm-list", OptionList)
            algorithms.set_options(algorithm_option(n) for n in names)
            keep = self.algorithm if self.algorithm in names else preferred_algorithm(*self.key_kind)
            algorithms.highlighted = names.index(keep)
        elif step == "result":
            self._show_result()

    def _key_text(self) -> Text:
        if self.record is not None:
            return key_line(self.record)
        return Text(f"pasted public key  {key_kind(*self.key_kind)}")

    def focus_target(self, step: str):
        if step == "key":
            return self.query_one("#key-pem" if self._pressed("key-kind") == 1 else "#key-ref")
        if step == "message":
            return self.query_one(MessageSource).field
        if step == "signature":
            return self.query_one("#sig-path-path" if self._pressed("sig-kind") == 1 else "#sig-text")
        return None

    def next_label(self, step: str) -> str | None:
        return {"signature": "Verify", "result": "Done"}.get(step, "Next")

    # --- the result -------------------------------------------------------------------

    def _show_result(self) -> None:
        self.query_one(Verdict).show(self.valid)
        data, spec = self.message
        source = "a digest" if spec.digest else "a file" if spec.path else "typed text"
        length = f"hashed here to its {len(data)}-byte external mu" if spec.external_mu else f"{len(data)} bytes"
        rows = [
            ("Key", self._key_text()),
            ("Algorithm", Text(self.algorithm)),
            ("Message", Text(f"{source}, {length}")),
            ("Signature", Text(f"{self.signature_length} bytes, read as {self.signature_encoding}")),
        ]
        self.query_one("#result-summary", Static).update(summary(rows))
        self.query_one("#verify-command", CommandView).show(self.cli_command(), self.app.paths)

    def cli_command(self) -> CliCommand | None:
        if self.step_id != "result" or self.message is None:
            return None
        path = self.app.paths.real(self.query_one("#sig-path", PathField).value) if self._pressed("sig-kind") == 1 else None
        return verify_command(self.record.name if self.record else None, self.algorithm, self.message[1],
                              signature_path=path, signature_encoding=self.signature_encoding,
                              data_dir=cli_data_dir(self.kms))
