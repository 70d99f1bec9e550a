"""The custodians of a ``kms-tui ceremony run``: backup shares shown and typed on the controlling terminal.

A ``backup-key`` step shows each custodian their share as ``keys backup`` does (alone at the
terminal, paged, written down, two words re-typed, the screen cleared after), then asks for their
initials to acknowledge receipt. A ``restore-key`` step asks each custodian it names to type their
share, not echoed, until it is right. Nothing of a share goes to stdout or stderr.
"""

from __future__ import annotations

from collections.abc import Callable

from ..ceremony.backup_steps import SHOWN, TYPED
from ..ceremony.script import Witness
from .backup_cmds import CLEAR, Terminal, show_share
from .io import safe_text


class TerminalCustody:
    """``backup_steps.Custody`` on a terminal (the controlling one, in ``ceremony run``)."""

    how_out = SHOWN
    how_in = TYPED

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal

    def hand_out(self, file: str, person: Witness, number: int, count: int, share: str,
                 acknowledge: Callable[[str], bool]) -> None:
        terminal, name = self.terminal, safe_text(person.name)
        terminal.write(CLEAR)
        terminal.ask(f"{name}, custodian {number} of {count} of {safe_text(file)}: only you should see the screen "
                     f"now. Press Enter to see share {number}:")
        try:
            show_share(terminal, number, share)
        finally:
            terminal.write(CLEAR)
        while not acknowledge(terminal.ask(f"{name}, your initials to acknowledge receipt of share {number}:")):
            terminal.write(f"Those are not {name}'s initials.\n")

    def take(self, file: str, person: Witness, number: int, check: Callable[[str], str | None]) -> str:
        terminal, name = self.terminal, safe_text(person.name)
        while True:
            typed = terminal.ask(f"{name}, type share {number} of {safe_text(file)} (not shown as typed):",
                                 hidden=True)
            problem = check(typed)
            if problem is None:
                terminal.write(f"{name}'s share is right.\n")
                return typed
            terminal.write(f"{safe_text(problem)} Type it again.\n")
