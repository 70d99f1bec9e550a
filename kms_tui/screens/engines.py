"""The engines screen: every crypto engine, whether it answers, and what it can do.

The list comes from SQLite at once; each engine's reachability is checked
afterwards in its own background worker (``kms.engines.test(interactive=False)``,
which never prompts for a secret), so one slow or dead engine never holds up
the screen or the others. The detail pane shows the highlighted engine's
supported key types and non-secret settings; secrets are never shown.
"""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ..changes import DatabaseChanged
from ..dialogs.form import ChoiceDialog
from ..service import EngineCheck, EngineRemoval, EngineView
from ..service.errors import KmsError, Refused, render
from ..widgets.cells import literal, security_level
from ..widgets.engine_detail import EngineDetail, reach_cell
from ..widgets.tables import cursor_row_key
from ..workers import ServiceCalls


class EnginesScreen(ServiceCalls, Screen):
    """Engines: register, test, set default, sync, unregister; Enter lists an engine's keys."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    DEFAULT_CSS = """
    EnginesScreen #engine-list { height: auto; max-height: 40%; }
    """
    BINDINGS = [
        Binding("enter", "open_keys", "Keys", id="engines.keys", tooltip="List the keys of this engine"),
        Binding("a", "register", "Register", id="engines.register", tooltip="Register a new engine"),
        Binding("t", "test", "Test", id="engines.test", tooltip="Test the connection to this engine"),
        Binding("D", "set_default", "Default", id="engines.default", tooltip="Make this the default engine"),
        Binding("y", "sync", "Sync", id="engines.sync", tooltip="Adopt keys the engine holds, flag missing ones"),
        Binding("x", "unregister", "Unregister", id="engines.unregister", tooltip="Forget this engine"),
        Binding("p", "secret", "Set secret", id="engines.secret", show=False,
                tooltip="Replace the engine's secret (PIN, passphrase, token)"),
        Binding("K", "rekey", "Re-key", id="engines.rekey", show=False,
                tooltip="Re-encrypt a software engine's key files under a new passphrase"),
        Binding("r", "refresh", "Refresh", id="engines.refresh", show=False,
                tooltip="Reload the list and check every engine again"),
    ]

    def __init__(self):
        super().__init__()
        self.views: dict[str, EngineView] = {}
        self.checks: dict[str, EngineCheck | None] = {}  # None: a check is running

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="engine-list", cursor_type="row", zebra_stripes=True)
        yield EngineDetail(self.app.paths, id="engine-detail")
        yield Static("", id="engines-status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, title, width in (("default", " ", 1), ("id", "Engine", None), ("type", "Type", None),
                                  ("sl", "SL", 3), ("keys", "Keys", None), ("reach", "Status", 13)):
            table.add_column(title, key=key, width=width)
        table.focus()
        self.when_ready(self.reload, show=lambda note: self.query_one("#engines-status", Static).update(Text(note)))

    def on_screen_resume(self) -> None:
        if self.is_mounted:  # key counts change on other screens
            self.reload()

    def on_database_changed(self, event: DatabaseChanged) -> None:
        self.reload()  # the cursor stays on the same engine; reachability is checked for new ones only

    # --- loading and reachability ---------------------------------------------

    def reload(self, recheck: bool = False) -> None:
        if not self.kms_ready:
            return  # the first load runs once the service is open
        if recheck:
            self.checks.clear()
        self.call(lambda: self.kms.engines.list(secret_locations=True), then=self._show, group="engines")

    def _show(self, views: list[EngineView]) -> None:
        table = self.query_one(DataTable)
        selected = self.selected_id()
        self.views = {v.record.id: v for v in views}
        table.clear()
        for v in views:
            r = v.record
            table.add_row(Text("★", style="bold yellow") if r.is_default else "", literal(r.id, 24),
                          literal(v.display, 22), security_level(r.security_level), str(v.key_count),
                          reach_cell(self.checks.get(r.id)), key=r.id)
        if selected in self.views:
            table.move_cursor(row=table.get_row_index(selected))
        default = next((i for i, v in self.views.items() if v.record.is_default), "none")
        shared = sum(v.lamassu for v in views)
        self.query_one("#engines-status", Static).update(Text(
            f"{len(views)} engine{'s' if len(views) != 1 else ''} · default {default} · "
            + (f"{shared} shared with Lamassu · " if shared else "")
            + "enter lists its keys · p sets its secret"))
        self._detail()
        for engine_id in self.views:
            if engine_id not in self.checks:
                self._check(engine_id, interactive=False)

    def _check(self, engine_id: str, interactive: bool) -> None:
        self.checks[engine_id] = None
        self._set_reach(engine_id)
        self.call(partial(self.kms.engines.test, interactive=interactive), engine_id, group=f"check:{engine_id}",
                  then=self._checked, failed=lambda e, i=engine_id: self._check_failed(i, e))

    def _checked(self, check: EngineCheck) -> None:
        self.checks[check.engine_id] = check
        self._set_reach(check.engine_id)

    def _check_failed(self, engine_id: str, error: BaseException) -> bool:
        """kms.engines.test reports engine failures itself; this is e.g. the database, or an engine just removed."""
        title, message = render(error)
        self._checked(EngineCheck(engine_id, False, title, message))
        return isinstance(error, KmsError)  # shown inline; a bug still reaches the error modal

    def _set_reach(self, engine_id: str) -> None:
        table = self.query_one(DataTable)
        if engine_id in self.views:
            table.update_cell(engine_id, "reach", reach_cell(self.checks.get(engine_id)))
        if engine_id == self.selected_id():
            self._detail()

    # --- the detail pane --------------------------------------------------------

    def selected_id(self) -> str | None:
        return cursor_row_key(self.query_one(DataTable))

    def selected(self) -> EngineView | None:
        engine_id = self.selected_id()
        return self.views.get(engine_id) if engine_id else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    def _detail(self) -> None:
        view = self.selected()
        self.query_one(EngineDetail).show(view, self.checks.get(view.record.id) if view else None)

    # --- actions ------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_keys()

    def action_open_keys(self) -> None:
        view = self.selected()
        if view is not None:
            from .keys import KeysScreen

            self.app.push_screen(KeysScreen(engine_id=view.record.id))

    def action_refresh(self) -> None:
        self.reload(recheck=True)

    def action_register(self) -> None:
        from ..dialogs.register_engine import RegisterEngineDialog

        self.app.push_screen(RegisterEngineDialog(), self._registered)

    def _registered(self, view: EngineView | None) -> None:
        if view is None:
            return
        where = {"memory": " (secret held in memory for this session only)",
                 "keyring": " (secret in the keyring)"}.get(view.secret_location or "", "")
        self.notify(f"Engine {view.record.id} registered{where}.", timeout=4)
        self.reload()

    def action_test(self) -> None:
        view = self.selected()
        if view is not None:
            self._check(view.record.id, interactive=True)  # asked for: a missing secret may be prompted

    def action_set_default(self) -> None:
        view = self.selected()
        if view is not None and not view.record.is_default:
            self.call(self.kms.engines.set_default, view.record.id, then=lambda _: self.reload(), group="default")

    def action_sync(self) -> None:
        view = self.selected()
        if view is not None:
            from ..dialogs.sync_progress import SyncDialog

            self.app.push_screen(SyncDialog(view.record.id), lambda _: self.reload())

    def action_secret(self) -> None:
        view = self.selected()
        if view is None:
            return
        if not view.secret_label:
            self.notify(f"{view.display} engines take no secret.", severity="warning")
            return
        from ..dialogs.secret import SecretDialog

        engine_id = view.record.id

        def typed(secret: str | None) -> None:
            if secret:
                self.call(self.kms.engines.secrets.set, engine_id, secret, group="secret",
                          then=lambda where: self._secret_set(engine_id, where))

        self.app.push_screen(SecretDialog(
            engine_id, view.secret_label, f"The new {view.secret_label} replaces the stored one.", True,
            note="It is checked against the engine first (to change a passphrase of existing keys, re-key: K)."),
            typed)

    def action_rekey(self) -> None:
        view = self.selected()
        if view is None:
            return
        if view.record.type != "GOLANG" or view.record.config.get("encrypt") != "true":
            self.notify("Only a software engine that encrypts its keys at rest can be re-keyed.", severity="warning")
            return
        from ..dialogs.secret import SecretDialog

        engine_id = view.record.id

        def typed(secret: str | None) -> None:
            if secret:
                self.notify(f"Re-keying {engine_id}…", timeout=2)
                self.call(self.kms.engines.secrets.rekey, engine_id, secret, group="rekey",
                          then=lambda result: self._rekeyed(engine_id, result))

        self.app.push_screen(SecretDialog(
            engine_id, "new at-rest passphrase",
            "Every key file is re-encrypted under the new passphrase; an interruption is finished by the next use.",
            True, note="It is kept in the OS keyring."), typed)

    def _rekeyed(self, engine_id: str, result: dict) -> None:
        self.notify(f"{engine_id}: {result['reencrypted']} key file(s) re-encrypted under the new passphrase.",
                    timeout=5)
        self.reload()

    def _secret_set(self, engine_id: str, where: str) -> None:
        self.notify(f"Secret of {engine_id} stored in the {where}.", timeout=3)
        self.reload()
        self._check(engine_id, interactive=False)

    def action_unregister(self) -> None:
        """With keys: the engine id typed (nothing to press by mistake); without: a choice that starts on Keep."""
        view = self.selected()
        if view is None:
            return
        engine_id, count = view.record.id, view.key_count
        if count:
            records = f"{count} key record{'s' if count != 1 else ''}"
            self._confirm_force(engine_id, f"{records} would be orphaned.")
            return

        def chosen(choice: str | None) -> None:
            if choice == "unregister":
                self.call(self.kms.engines.unregister, engine_id, group="unregister",
                          then=lambda r: self._unregistered(engine_id, r), failed=lambda e: self._refused(engine_id, e))

        self.app.push_screen(ChoiceDialog(f"Unregister engine {engine_id}? No key records reference it.", [
            ("keep", "Keep it"), ("unregister", f"Unregister {engine_id}"),
        ]), chosen)

    def _refused(self, engine_id: str, error: BaseException) -> bool:
        """Refused: keys reference it after all (another workstation made them); the same typed confirmation."""
        if not isinstance(error, Refused):
            return False
        self._confirm_force(engine_id, error.message)
        return True

    def _confirm_force(self, engine_id: str, why: str) -> None:
        from ..dialogs.confirm_typed import TypedConfirmDialog

        def typed(confirmed: bool | None) -> None:
            if confirmed:
                self.call(partial(self.kms.engines.unregister, force=True), engine_id, group="unregister",
                          then=lambda r: self._unregistered(engine_id, r))

        self.app.push_screen(TypedConfirmDialog(
            f"Unregister engine {engine_id}",
            f"{why} Unregistering forgets the engine and its key records here: the keys stay in the backend, "
            "and this workstation can no longer use them.",
            engine_id, f"Type the engine id to confirm: {engine_id}", "Unregister", placeholder="engine id",
            mismatch="That is not the engine id."), typed)

    def _unregistered(self, engine_id: str, removal: EngineRemoval) -> None:
        kept = f" {removal.secret[:1].upper()}{removal.secret[1:]}." if removal.secret else ""
        self.notify(f"Engine {engine_id} unregistered; {removal.dropped} key record(s) forgotten here.{kept}",
                    timeout=6)
        self.checks.pop(engine_id, None)
        self.reload()
