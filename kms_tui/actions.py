"""Opening wizards and dialogs from anywhere: key bindings, screens and the command palette.

The palette reaches every action. ``commands`` gives the ones that need no
data: the wizards, engine registration, the doctor, the audit chain check, a
ceremony, and the bindings of the screen it was opened from, titled with that
screen's human name. ``TargetCommands`` (a palette provider) adds the actions
that name their target: each registered engine's (sync, test, default, secret,
re-key, unregister, its keys) and the selected key's (open, export, sign, CSR,
verify, delete). The engines are read from the service in a thread worker when
the palette opens, so typing never waits for the database.

An action that belongs to a screen runs on that screen: the palette shows it
(with the engine highlighted) and runs the screen's own action, so a flow is
the same from a key, a binding or the palette.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.app import App, SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import DataTable
from textual.worker import WorkerFailed

from .dialogs.delete_key import DeleteKeyDialog
from .dialogs.form import Field, FormDialog
from .files import write_new_file
from .screens.key_detail import KeyDetailScreen
from .screens.keys import KeysScreen
from .service import backup_policy
from .service.types import KeyRecord
from .text import safe_text
from .wizards.backup import BackupWizard
from .wizards.create import CreateKeyWizard
from .wizards.csr import CsrWizard
from .wizards.import_key import ImportKeyWizard
from .wizards.restore import RestoreWizard
from .wizards.rotate import RotateWizard
from .wizards.sign import SignWizard
from .wizards.verify import VerifyWizard

if TYPE_CHECKING:
    from .app import KmsApp
    from .service import EngineView, Kms

log = logging.getLogger("kms_tui.actions")

SCREEN_WAIT = 10.0  # seconds a screen shown for a palette action may take to load what the action needs
EXPORT_FORMATS = {"pem": "pem", "der": "der", "jwk": "jwk", "ssh": "pub"}  # format -> file extension


def open_create(app: App[Any], engine_id: str | None = None) -> None:
    app.push_screen(CreateKeyWizard(engine_id=engine_id), callback=lambda r: _open_key(app, r))


def open_import(app: App[Any], engine_id: str | None = None) -> None:
    app.push_screen(ImportKeyWizard(engine_id=engine_id), callback=lambda r: _open_key(app, r))


def open_sign(app: App[Any], record: KeyRecord | None = None) -> None:
    app.push_screen(SignWizard(record))


def open_verify(app: App[Any], record: KeyRecord | None = None) -> None:
    app.push_screen(VerifyWizard(record))


def open_csr(app: App[Any], record: KeyRecord | None = None) -> None:
    app.push_screen(CsrWizard(record))


def open_rotate(app: App[Any], record: KeyRecord | None = None) -> None:
    app.push_screen(RotateWizard(record))


def open_backup(app: App[Any], record: KeyRecord | None = None) -> None:
    app.push_screen(BackupWizard(record))


def open_restore(app: App[Any]) -> None:
    app.push_screen(RestoreWizard())


def open_delete(app: App[Any], record: KeyRecord, done: Callable[[Any], None] | None = None) -> None:
    app.push_screen(DeleteKeyDialog(record), callback=done)


def _open_key(app: App[Any], record: KeyRecord | None) -> None:
    """After a wizard made a key, show it."""
    if record is not None:
        app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))


# --- exporting a public key --------------------------------------------------------


def _file_name(name: str, fmt: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "key"
    return f"{stem[:60]}.pub.{EXPORT_FORMATS[fmt]}"


def write_public_key(kms: Kms, ref: str, fmt: str, path: str) -> str:
    """The key's public half written to a new file (never over an existing one); returns the path."""
    return write_new_file(path, kms.keys.export_public(ref, fmt))


def open_export(app: KmsApp, record: KeyRecord) -> None:
    """Ask where (and in which format) to write the key's public key, then write it off the UI thread."""
    formats = ", ".join(EXPORT_FORMATS)

    def check(values: dict[str, str]) -> str | None:
        return None if values["format"].strip().lower() in EXPORT_FORMATS else f"The format is one of {formats}."

    def chosen(values: dict[str, str] | None) -> None:
        if values:
            fmt = values["format"].strip().lower()
            path = app.paths.real(values["path"].strip())
            _in_thread(app, partial(write_public_key, app.kms, record.name, fmt, path),
                       lambda written: app.notify(f"Public key written to {escape(safe_text(app.paths.path(written)))}.",
                                                         timeout=5))

    app.push_screen(FormDialog(f"Export the public key of {safe_text(record.name, 50)}", [
        Field("format", f"Format ({formats})", value="pem"),
        Field("path", "Write it to (a new file)", value=_file_name(record.name, "pem")),
    ], check), chosen)


def _in_thread(app: KmsApp, fn: Callable[[], Any], then: Callable[[Any], object]) -> None:
    """Run ``fn`` in a thread worker; ``then`` gets its result on the UI thread, an error goes to the error modal."""
    async def run() -> None:
        worker = app.run_worker(fn, thread=True, exit_on_error=False, group="palette-action")
        try:
            result = await worker.wait()
        except WorkerFailed as failed:
            app.show_error(failed.error)
            return
        then(result)

    app.run_worker(run(), group="palette-action", exit_on_error=False)


# --- running a screen's own action from the palette ----------------------------------------


async def _until(predicate: Callable[[], bool], timeout: float = SCREEN_WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def _show_base(app: App[Any], mode: str, ready: Callable[[Screen], bool]) -> Screen | None:
    """The screen of ``mode`` (its own, not one opened over it), shown and ``ready``; None if it did not get there."""
    await app.switch_mode(mode)
    base = app.screen_stack[0]
    while app.screen is not base:
        await app.pop_screen()
    if await _until(lambda: base.is_mounted and ready(base)):
        return base
    return None


async def _act_on(app: App[Any], mode: str, action: str, ready: Callable[[Screen], bool]) -> None:
    screen = await _show_base(app, mode, ready)
    if screen is None:
        app.notify("That screen is still busy; try the action there.", severity="warning")
        return
    await screen.run_action(action)


def act_on(app: App[Any], mode: str, action: str, ready: Callable[[Screen], bool] = lambda _: True) -> None:
    """Show the screen of ``mode`` and run ``action`` there, once ``ready`` holds."""
    app.run_worker(_act_on(app, mode, action, ready), group="palette-action", exit_on_error=False)


def _engine_listed(engine_id: str) -> Callable[[Screen], bool]:
    return lambda screen: engine_id in getattr(screen, "views", {})


async def _on_engine(app: App[Any], engine_id: str, action: str) -> None:
    screen = await _show_base(app, "engines", _engine_listed(engine_id))
    if screen is None:
        app.notify(f"Engine {escape(safe_text(engine_id, 40))} is not registered.", severity="warning")
        return
    table = screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(engine_id))
    await screen.run_action(action)


def on_engine(app: App[Any], engine_id: str, action: str) -> None:
    """On the engines screen, highlight ``engine_id``, then run the screen's ``action`` on it."""
    app.run_worker(_on_engine(app, engine_id, action), group="palette-action", exit_on_error=False)


# --- the palette's entries -----------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One palette entry: its title (plain text, shown literally), its help and what it does."""

    title: str
    help: str
    run: Callable[[], object]

    def system(self) -> SystemCommand:
        return SystemCommand(escape(self.title), self.help, self.run)


def _doctor_idle(screen: Screen) -> bool:
    return not getattr(screen, "running", True)  # its first run, started as it opens, has ended


def open_quantum_report(app: App[Any]) -> None:
    from .screens.quantum_report import QuantumReportScreen

    app.push_screen(QuantumReportScreen())


def global_commands(app: App[Any]) -> Iterator[Command]:
    """What needs no target: the wizards and the actions of screens that act on everything."""
    yield Command("Create key", "Generate a key in an engine (wizard)", lambda: open_create(app))
    yield Command("Import key", "Import a PEM, DER, OpenSSH or JWK key (wizard)", lambda: open_import(app))
    yield Command("Sign", "Sign a message or digest with a key (wizard)", lambda: open_sign(app))
    yield Command("Verify", "Verify a signature (wizard)", lambda: open_verify(app))
    yield Command("Make a CSR", "A certificate signing request signed by a key's engine (wizard)",
                  lambda: open_csr(app))
    yield Command("Rotate a key", "A successor key, every alias moved to it, the key retired (wizard)",
                  lambda: open_rotate(app))
    yield Command("Back up keys (M-of-N custodians)", "Keys made with a backup policy, wrapped to a new file, "
                  "a share for each custodian (wizard)", lambda: open_backup(app))
    yield Command("Restore keys from a backup", "A backup file's keys into an engine, from M custodians' shares "
                  "(wizard)", lambda: open_restore(app))
    yield Command("Register an engine", "Add an HSM, cloud KMS, Vault or software engine (form)",
                  lambda: act_on(app, "engines", "register"))
    yield Command("Doctor: run every check", "Permissions, database, audit chain, keyring, engines, consistency",
                  lambda: act_on(app, "doctor", "run", _doctor_idle))
    yield Command("Doctor: repair what can be repaired",
                  "Fix permissions, flag missing keys, adopt unrecorded ones (deletes nothing)",
                  lambda: act_on(app, "doctor", "repair", _doctor_idle))
    yield Command("Audit log: check the hash chain", "Verify every audit row's hash against the one before",
                  lambda: act_on(app, "audit", "check"))
    yield Command("Ceremony: load a script", "Run a witnessed key ceremony, step by step",
                  lambda: act_on(app, "ceremony", "app.focus('ceremony-path')"))
    yield Command("Quantum migration report", "Every key's quantum exposure, replace-by date and ML-DSA successor",
                  lambda: open_quantum_report(app))


def screen_title(screen: Screen) -> str:
    """The screen's name as the footer and help say it (a key detail names its key)."""
    if isinstance(screen, KeyDetailScreen):
        return f"key {safe_text(screen.record.name, 40)}" if screen.record else "key detail"
    from .app import SCREENS

    name = f"{type(screen).__module__}:{type(screen).__name__}"
    entry = next((e for e in SCREENS if e.screen == name), None)
    if entry is not None:
        return entry.title
    return safe_text(screen.title or "this screen", 40)


def binding_commands(app: App[Any], screen: Screen, skip: set[str]) -> Iterator[Command]:
    """Every binding of ``screen`` itself with a description (not a widget's, not the app's), but ``skip``."""
    from .app import SCREENS

    mode_keys = {entry.key for entry in SCREENS}  # F-keys to a screen: "Go to …" says it
    where = screen_title(screen)
    seen: set[str] = set()
    # The screen's own bindings, also those a focused widget's binding of the same key hides (Enter on a table).
    for _, b in screen._bindings:
        if (not b.description or b.description in seen or "." in b.action or b.action in skip
                or b.key in mode_keys or screen.check_action(b.action.partition("(")[0], ()) is False):
            continue
        seen.add(b.description)
        key = escape(app.get_key_display(b))
        yield Command(f"{b.description} ({where})", f"{escape(b.tooltip or b.description)} · key {key}",
                      partial(app.call_later, screen.run_action, b.action))


def selected_key(screen: Screen) -> KeyRecord | None:
    """The key the screen is about: a key detail's, or the keys table's highlighted row."""
    if isinstance(screen, KeyDetailScreen):
        return screen.record
    if isinstance(screen, KeysScreen) and screen.is_mounted:
        return screen.selected_record()
    return None


KEY_ACTIONS = {"sign", "verify", "csr", "rotate", "delete"}  # a binding of these is listed as a key command, with the key named


def commands(app: App[Any], screen: Screen) -> Iterable[SystemCommand]:
    """Command palette entries that need no data fetched: the global ones and the screen's bindings."""
    skip = KEY_ACTIONS if selected_key(screen) is not None else set()
    for command in (*global_commands(app), *binding_commands(app, screen, skip)):
        yield command.system()


def key_commands(app: App[Any], screen: Screen, record: KeyRecord) -> Iterator[Command]:
    name = safe_text(record.name, 40)
    if not isinstance(screen, KeyDetailScreen):
        yield Command(f"Open key {name}", "Its fields, strength, bindings, aliases, tags and audit rows",
                      lambda: app.push_screen(KeyDetailScreen(record.engine_id, record.key_id)))
    yield Command(f"Export public key of {name}", "Write it to a new file as PEM, DER, JWK or OpenSSH",
                  lambda: open_export(cast("KmsApp", app), record))
    if record.has_private_key:
        yield Command(f"Sign with {name}", "Sign a message or digest (wizard)", lambda: open_sign(app, record))
        yield Command(f"Make a CSR with {name}", "A certificate signing request signed by its engine (wizard)",
                      lambda: open_csr(app, record))
        yield Command(f"Rotate key {name}", "A successor key, every alias moved to it, this one retired (wizard)",
                      lambda: open_rotate(app, record))
        if backup_policy.POLICY_KEY in record.metadata:
            yield Command(f"Back up key {name}", "Wrapped to a new file, a share for each custodian (wizard)",
                          lambda: open_backup(app, record))
    yield Command(f"Verify with {name}", "Verify a signature (wizard)", lambda: open_verify(app, record))
    yield Command(f"Delete key {name}", "Delete it, with its name typed to confirm", lambda: _delete(app, screen, record))


def _delete(app: App[Any], screen: Screen, record: KeyRecord) -> None:
    if isinstance(screen, KeyDetailScreen | KeysScreen):
        screen.action_delete()  # the screen's own flow: it follows up (reload, or back to the list)
    else:
        open_delete(app, record)


def engine_commands(app: App[Any], view: EngineView) -> Iterator[Command]:
    engine_id = view.record.id
    name = safe_text(engine_id, 40)

    def run(action: str) -> Callable[[], None]:
        return lambda: on_engine(app, engine_id, action)

    yield Command(f"Keys of engine {name}", "List the keys this engine holds", run("open_keys"))
    yield Command(f"Sync engine {name}", "Adopt keys the engine holds, flag missing ones", run("sync"))
    yield Command(f"Test engine {name}", "Test the connection to this engine", run("test"))
    if not view.record.is_default:
        yield Command(f"Set default engine {name}", "New keys go to this engine unless told otherwise",
                      run("set_default"))
    if view.secret_label:
        yield Command(f"Set secret of engine {name}", f"Replace its {escape(view.secret_label)}", run("secret"))
    if view.record.type == "GOLANG" and view.record.config.get("encrypt") == "true":
        yield Command(f"Rekey engine {name}", "Re-encrypt its key files under a new passphrase", run("rekey"))
    yield Command(f"Unregister engine {name}", "Forget this engine (its keys stay in the backend)",
                  run("unregister"))


class TargetCommands(Provider):
    """Palette entries that name their target: every engine's actions and the selected key's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._commands: list[Command] = []

    async def startup(self) -> None:
        record = selected_key(self.screen)
        if record is not None:
            self._commands.extend(key_commands(self.app, self.screen, record))
        for view in await self._engines():
            self._commands.extend(engine_commands(self.app, view))

    async def _engines(self) -> list[EngineView]:
        """The registered engines, read in a thread worker (none while the service is still opening)."""
        app: Any = self.app
        if not app.kms_ready:
            return []
        worker = app.run_worker(app.kms.engines.list, thread=True, exit_on_error=False, group="palette",
                                name="engines for the palette")
        try:
            return list(await worker.wait())
        except WorkerFailed as failed:
            log.warning("the palette could not list the engines: %s", type(failed.error).__name__)
            return []

    async def discover(self) -> Hits:
        for command in self._commands:
            yield DiscoveryHit(Content(command.title), command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands:
            title = escape(command.title)
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command.run, text=command.title, help=command.help)


def target_commands() -> type[Provider]:
    return TargetCommands
