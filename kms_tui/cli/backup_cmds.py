"""``kms-tui keys backup`` and ``keys restore``: keys wrapped under M-of-N shares held by custodians.

The shares are shown and typed on the controlling terminal only (``/dev/tty``), never on
stdout or stderr, which may be redirected to a file or a log: each custodian sees their
share once, paged, confirms it was written down and re-types two words of it; the screen is
cleared between custodians.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from typing import IO

from ..files import open_new_file, read_file
from ..service.errors import InvalidInput, KmsError, Refused
from .io import emit_json, safe_text

CLEAR = "\x1b[2J\x1b[3J\x1b[H"  # the screen and its scroll-back
PAGE_WORDS = 20
PER_LINE = 4
MAX_BACKUP_BYTES = 16 * 1024 * 1024 + 1  # the service refuses what is larger, with its own sentence


class Terminal:
    """What a custodian sees and types: the controlling terminal, or any pair of text streams."""

    def __init__(self, reader: IO[str], writer: IO[str]) -> None:
        self.reader = reader
        self.writer = writer

    def write(self, text: str) -> None:
        self.writer.write(text)
        self.writer.flush()

    def ask(self, prompt: str, *, hidden: bool = False) -> str:
        """One line typed after ``prompt``; with ``hidden``, not echoed."""
        with self._no_echo() if hidden else contextlib.nullcontext():
            self.write(prompt)  # after echo is off: nothing typed at the prompt is ever shown
            line = self.reader.readline()
        if hidden:
            self.write("\n")
        if not line:
            raise InvalidInput("The terminal closed before the answer was typed; nothing was changed.")
        return line.rstrip("\r\n")

    @contextlib.contextmanager
    def _no_echo(self) -> Iterator[None]:
        import termios

        try:
            fd = self.reader.fileno()
            old = termios.tcgetattr(fd)
        except (OSError, ValueError, termios.error):
            yield
            return
        new = list(old)
        new[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, new)
        try:
            yield
        finally:
            termios.tcsetattr(fd, termios.TCSANOW, old)


@contextlib.contextmanager
def controlling_terminal() -> Iterator[Terminal]:
    """The controlling terminal, opened for this command; a clear error where there is none."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise Refused("Shares are shown and typed on the controlling terminal only, and this command has none.",
                      hint="Run it from a terminal (shares never go to stdout or stderr).") from None
    reader = os.fdopen(fd, "r", encoding="utf-8", closefd=False)
    writer = os.fdopen(os.dup(fd), "w", encoding="utf-8")
    try:
        yield Terminal(reader, writer)
    finally:
        writer.close()
        reader.close()
        os.close(fd)


# --- the hand-out -----------------------------------------------------------------------------


def hand_out(shares, terminal: Terminal) -> None:
    """Show custodian k of N their share once, have it written down and two words re-typed."""
    count = len(shares.shares)
    for number, share in enumerate(shares.shares, 1):
        terminal.write(CLEAR)
        terminal.ask(f"Custodian {number} of {count}: only you should see the screen now. "
                     f"Press Enter to see share {number}:")
        show_share(terminal, number, share)
        del share
        terminal.write(CLEAR)
    terminal.write(f"All {count} shares were handed out; any {shares.threshold} of them restore the keys.\n")


def show_share(terminal: Terminal, number: int, share: str) -> None:
    """Share ``number`` shown once, paged; its custodian confirms it is written down and re-types two words.

    However it ends (an interrupt, the terminal closed), the screen and its scroll-back are cleared.
    """
    words = share.split()
    try:
        _show_paged(terminal, number, words)
        _confirm_written(terminal, number)
        _check_words(terminal, number, words)
    finally:
        del words
        with contextlib.suppress(OSError, ValueError):  # a terminal already gone shows nothing
            terminal.write(CLEAR)


def _show_paged(terminal: Terminal, number: int, words: list[str]) -> None:
    for start in range(0, len(words), PAGE_WORDS):
        terminal.write(CLEAR + f"Share {number} ({len(words)} words), words {start + 1}-"
                       f"{min(start + PAGE_WORDS, len(words))}:\n\n")
        page = words[start:start + PAGE_WORDS]
        for row in range(0, len(page), PER_LINE):
            cells = [f"{start + row + i + 1:>2}. {word:<10}" for i, word in enumerate(page[row:row + PER_LINE])]
            terminal.write("  " + "  ".join(cells).rstrip() + "\n")
        if start + PAGE_WORDS < len(words):
            terminal.ask("\nPress Enter for the next words:")


def _confirm_written(terminal: Terminal, number: int) -> None:
    while terminal.ask(f"\nType WRITTEN once share {number} is written down:").strip().upper() != "WRITTEN":
        terminal.write("Only WRITTEN goes on.\n")


def _check_words(terminal: Terminal, number: int, words: list[str]) -> None:
    terminal.write(CLEAR + f"Share {number}: check what you wrote down.\n")
    for position in sorted(secrets.SystemRandom().sample(range(len(words)), 2)):
        while terminal.ask(f"Word #{position + 1} of share {number}:", hidden=True).strip().lower() != words[position]:
            terminal.write(f"That is not word {position + 1}; correct the written share, then type it again.\n")


# --- commands ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _new_backup_file(given: str, kept: str) -> Iterator[tuple[IO[bytes], Callable[[object], None]]]:
    """A new file for a backup, and the hand-out of its shares on the controlling terminal.

    The file is refused if it exists, before anything else is done. When something fails before
    every custodian has a share, the file is removed (useless without them); after, the custodians
    hold shares of this very file: it is kept, and ``kept`` (formatted with ``path``) says so.
    """
    out = open_new_file(given)
    path = os.path.expanduser(given)
    handed: list[bool] = []  # set once every custodian has their share
    try:
        with out, controlling_terminal() as terminal:
            def give(shares) -> None:
                hand_out(shares, terminal)
                handed.append(True)

            yield out, give
    except BaseException:
        if handed:
            sys.stderr.write(kept.format(path=safe_text(path)))
            raise
        with contextlib.suppress(OSError):
            os.unlink(path)  # the file this command made: useless without its shares
        raise


def backup(kms, args) -> int:
    officer_pin = sys.stdin.readline().rstrip("\r\n") if args.so_pin_stdin else None
    kept = ("The backup file {path} is complete and every custodian has a share of it: it is kept. "
            "Recording the backup here failed (below); keep the file.\n")
    with _new_backup_file(args.out, kept) as (out, give):
        result = kms.backup.create(args.refs, custodians=args.custodians, threshold=args.threshold, out=out,
                                   hand_out=give, officer_pin=officer_pin or None)
    _print_backup(result, os.path.expanduser(args.out), args.json)
    return 0


def escrow_import(kms, args, data: bytes, passphrase: bytes | None, metadata):
    """``keys import … --backup M-of-N --backup-out FILE``: the key escrowed under M-of-N, then imported."""
    if not (args.backup and args.backup_out):
        raise InvalidInput("An escrow at import needs both --backup M-of-N and --backup-out FILE.")
    threshold, custodians = kms.backup.parse_policy(args.backup)
    kept = ("The escrow backup {path} is complete and every custodian has a share of it: it is kept, and "
            "kms-tui keys restore takes the key from it. The import after it failed (below).\n")
    with _new_backup_file(args.backup_out, kept) as (out, give):
        record = kms.backup.escrow_import(
            data, args.name, engine_id=args.engine, passphrase=passphrase, aliases=args.alias, tags=args.tag,
            metadata=metadata, custodians=custodians, threshold=threshold, out=out, hand_out=give,
        )
    if not args.json:
        print(f"Escrow       {safe_text(os.path.expanduser(args.backup_out))} ({threshold}-of-{custodians}), "
              "every custodian has a share")
    return record


def _print_backup(result, path: str, as_json: bool) -> None:
    if as_json:
        emit_json({"file": path, "sha256": result.sha256, "threshold": result.threshold,
                   "custodians": result.custodians, "share_set": result.identifier,
                   "keys": [{"name": r.name, "key_id": r.key_id, "engine_id": r.engine_id} for r in result.keys]})
        return
    print(f"Backup file  {safe_text(path)}")
    print(f"SHA-256      {result.sha256}")
    print(f"Custody      {result.threshold}-of-{result.custodians} (share set {result.identifier})")
    for record in result.keys:
        print(f"Key          {safe_text(record.name)} ({record.key_id[:16]}…, {safe_text(record.engine_id)})")


def restore(kms, args) -> int:
    backup_file = kms.backup.read(read_file(args.file, MAX_BACKUP_BYTES, "backup file"))
    confirmed = args.confirm_lower_level
    lower = kms.backup.lower_levels(backup_file, args.engine)
    if args.shares_stdin:
        if lower and not confirmed:
            raise Refused(" ".join(lower[:3]), hint="Confirm it with --confirm-lower-level.")
        shares = _shares_from_stdin(kms, backup_file)
    else:
        with controlling_terminal() as terminal:
            _describe(terminal, backup_file)
            if lower and not confirmed:
                confirmed = _confirm_lower(terminal, lower, args.engine)
            shares = _shares_from_terminal(kms, backup_file, terminal)
    result = kms.backup.restore(backup_file, shares, args.engine, name=_names(args.name),
                                confirm_lower_level=confirmed)
    del shares
    _print_restore(result, args.engine, args.json)
    return 0


def _names(given: list[str] | None) -> str | dict[str, str] | None:
    """``--name NEW`` (a one-key backup) or ``--name ORIGINAL=NEW``, repeated."""
    if not given:
        return None
    if len(given) == 1 and "=" not in given[0]:
        return given[0]
    pairs = [value.partition("=") for value in given]
    if any(not sep or not old or not new for old, sep, new in pairs):
        raise InvalidInput("With several --name, each reads ORIGINAL=NEW.")
    return {old: new for old, _, new in pairs}


def _describe(terminal: Terminal, backup_file) -> None:
    terminal.write(f"Backup of {len(backup_file.keys)} key(s) made {safe_text(backup_file.created)}, "
                   f"share set {backup_file.identifier}: {backup_file.threshold} of its "
                   f"{backup_file.custodians} custodians' shares restore it.\n")


def _confirm_lower(terminal: Terminal, lower: list[str], engine_id: str) -> bool:
    for line in lower:
        terminal.write(safe_text(line) + "\n")
    typed = terminal.ask(f"Type LOWER to restore into {safe_text(engine_id)} anyway:")
    if typed.strip() != "LOWER":
        raise Refused("Not confirmed; nothing was restored.")
    return True


def _shares_from_terminal(kms, backup_file, terminal: Terminal) -> list[str]:
    shares: list[str] = []
    while len(shares) < backup_file.threshold:
        typed = terminal.ask(f"Share {len(shares) + 1} of {backup_file.threshold} (not shown as typed):", hidden=True)
        try:
            custodian = kms.backup.check_share(backup_file, typed, shares)
        except KmsError as exc:
            terminal.write(f"{safe_text(exc.message)} Type it again.\n")
            continue
        shares.append(" ".join(typed.split()).lower())
        terminal.write(f"Custodian {custodian}'s share is right.\n")
    return shares


def _shares_from_stdin(kms, backup_file) -> list[str]:
    shares: list[str] = []
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            kms.backup.check_share(backup_file, line, shares)
        except KmsError as exc:
            raise InvalidInput(f"Share on line {number}: {exc.message}") from None
        shares.append(" ".join(line.split()).lower())
        if len(shares) == backup_file.threshold:
            break
    return shares


def _print_restore(result, engine_id: str, as_json: bool) -> None:
    if as_json:
        emit_json({"sha256": result.sha256, "engine_id": engine_id, "keys": [
            {"name": k.record.name, "key_id": k.record.key_id, "aliases": k.record.aliases,
             "aliases_not_carried_over": k.aliases_left} for k in result.keys]})
        return
    for restored in result.keys:
        record = restored.record
        print(f"Restored {safe_text(record.name)} ({record.key_id[:16]}…) into {safe_text(engine_id)}; "
              "its signature verified with the recorded public key.")
        if restored.aliases_left:
            print("  Aliases not carried over (taken here): " + ", ".join(safe_text(a) for a in restored.aliases_left))
