"""The ``kms-tui`` command line equivalent to what a wizard is about to do (pure functions).

Every wizard ends with the command an operator could put in a script or a
ceremony runbook. The functions here build it from plain values; they take no
secret (a passphrase is never a parameter: the command says ``--passphrase-stdin``
instead), so a secret cannot end up in the text.

Arguments are quoted for a POSIX shell with ``shlex.quote``. An argument holding
control or bidi-format characters (a hostile key name) is written in bash's
ANSI-C form ``$'…'`` with those characters escaped: pasting the command runs it
with the exact name, and showing it cannot move the cursor or reorder the line.
``CliCommand.shown`` is the text drawn: paths in it as the app's ``PathDisplay``
shows them (``~/…``), each still one shell word.
"""

from __future__ import annotations

import shlex
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..path_display import HOME, PathDisplay

PROGRAM = "kms-tui"

# Placeholders for input the wizard got by pasting, when stdin is already taken.
KEY_FILE = "KEY_FILE"
SIGNATURE_FILE = "SIGNATURE_FILE"
PUBLIC_KEY_NAME = "PUBLIC_KEY_NAME"


@dataclass(frozen=True)
class CliCommand:
    """A command as an argv list, plus notes for the parts a wizard got by pasting."""

    argv: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(quote(a) for a in self.argv)

    def shown(self, paths: PathDisplay) -> str:
        """The command as drawn: paths written as ``paths`` shows them, still one shell word each."""
        return " ".join(shown_word(a, paths) for a in self.argv)


def _unsafe(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category == "Cc" or (category == "Cf" and ch != "\u200d")


def quote(arg: str) -> str:
    """One argument, quoted for a shell; control and bidi characters escaped ($'…')."""
    if not any(_unsafe(ch) for ch in arg):
        return shlex.quote(arg)
    out = []
    for ch in arg:
        if ch in ("\\", "'"):
            out.append("\\" + ch)
        elif not _unsafe(ch):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "$'" + "".join(out) + "'"


def shown_word(arg: str, paths: PathDisplay) -> str:
    """One argument quoted, a path under an alias written with it: ``~`` stays outside the
    quotes, where a shell expands it back (``~/'my keys'/a.pem``)."""
    parts = paths.split(arg)
    if parts is None:
        return quote(arg)
    root, rest = parts
    head = root if root == HOME else quote(root)
    return f"{head}/{quote(rest)}" if rest else head


def _base(data_dir: str | None, *words: str) -> list[str]:
    argv = [PROGRAM]
    if data_dir:
        argv += ["--data-dir", data_dir]
    return argv + list(words)


def _repeat(option: str, values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        out += [option, value]
    return out


def create_command(
    algorithm: str, size: int, name: str, engine_id: str, *,
    aliases: Sequence[str] = (), tags: Sequence[str] = (), data_dir: str | None = None, backup: str | None = None,
) -> CliCommand:
    argv = _base(data_dir, "keys", "create", "--algorithm", algorithm, "--size", str(size), "--name", name,
                 "--engine", engine_id)
    return CliCommand(argv + _repeat("--alias", aliases) + _repeat("--tag", tags)
                      + (["--backup", backup] if backup else []))


def import_command(
    path: str | None, name: str, engine_id: str, *, encrypted: bool = False,
    aliases: Sequence[str] = (), tags: Sequence[str] = (), data_dir: str | None = None,
    backup: str | None = None, backup_out: str | None = None,
) -> CliCommand:
    """``path`` None: the key was pasted, so the command reads it from stdin. ``backup``: the
    M-of-N of an escrow made before the import, written to ``backup_out``."""
    notes = []
    source = path
    if path is None and encrypted:
        # The CLI cannot read both the key and its passphrase from stdin.
        source = KEY_FILE
        notes.append(f"Save the pasted key as {KEY_FILE} first: the passphrase is read from stdin.")
    elif path is None:
        source = "-"
        notes.append("The pasted key is read from standard input.")
    argv = _base(data_dir, "keys", "import", source, "--name", name, "--engine", engine_id)
    argv += _repeat("--alias", aliases) + _repeat("--tag", tags)
    if backup and backup_out:
        argv += ["--backup", backup, "--backup-out", backup_out]
        notes.append("Run it in a terminal: each custodian is shown their share there.")
    if encrypted:
        argv.append("--passphrase-stdin")
    return CliCommand(argv, notes)


@dataclass(frozen=True)
class MessageSpec:
    """Where a message or digest came from in a wizard.

    ``path`` is set for a file; otherwise the text or digest was typed or
    pasted and the CLI reads it from stdin. ``encoding`` is how it is written:
    raw bytes, hex or base64 (digests). ``external_mu``: the file was hashed here
    to its ML-DSA external mu, which was signed or verified.
    """

    digest: bool = False
    path: str | None = None
    encoding: str = "raw"
    external_mu: bool = False


def _message_args(algorithm: str, message: MessageSpec) -> list[str]:
    argv = ["--algorithm", algorithm]
    if message.digest:
        argv += ["--message-type", "digest"]
    elif message.external_mu:
        argv += ["--message-type", "external-mu"]
    argv += ["--in", message.path or "-"]
    if message.encoding != "raw":
        argv += ["--input-encoding", message.encoding]
    return argv


def _stdin_note(message: MessageSpec) -> list[str]:
    if message.path:
        return []
    what = "digest" if message.digest else "message"
    return [f"The typed {what} is read from standard input."]


def sign_command(
    ref: str, algorithm: str, message: MessageSpec, *,
    out: str | None = None, out_encoding: str = "base64", data_dir: str | None = None,
) -> CliCommand:
    argv = _base(data_dir, "keys", "sign", ref) + _message_args(algorithm, message)
    if out:
        argv += ["--out", out]
    if out or out_encoding != "base64":
        argv += ["--encoding", out_encoding]
    return CliCommand(argv, _stdin_note(message))


def verify_command(
    ref: str | None, algorithm: str, message: MessageSpec, *,
    signature_path: str | None = None, signature_encoding: str = "base64", data_dir: str | None = None,
) -> CliCommand:
    """``ref`` None: the wizard verified with a pasted public key, which the CLI cannot take."""
    notes = _stdin_note(message)
    if ref is None:
        ref = PUBLIC_KEY_NAME
        notes.append("The CLI verifies with recorded keys: record the public key first with "
                     f"`{PROGRAM} keys import FILE --name {PUBLIC_KEY_NAME}`.")
    signature = signature_path
    if signature is None and message.path is None:
        signature = SIGNATURE_FILE
        notes.append(f"Save the pasted signature as {SIGNATURE_FILE}: stdin carries the message.")
    elif signature is None:
        signature = "-"
        notes.append("The pasted signature is read from standard input.")
    argv = _base(data_dir, "keys", "verify", ref) + _message_args(algorithm, message)
    argv += ["--signature", signature, "--encoding", signature_encoding]
    return CliCommand(argv, notes)
