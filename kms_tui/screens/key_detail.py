"""One key: its fields, public key, strength, bindings, aliases, tags, metadata and audit rows."""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ..dialogs.delete_key import DeleteKeyDialog
from ..dialogs.form import ChoiceDialog, Field, FormDialog, JsonDialog
from ..service.deletion import DESTRUCTIVE_ACTIONS
from ..service.errors import KeyNotFound
from ..service.types import BINDINGS_KEY, KeyRecord
from ..text import safe_text
from ..widgets.cells import literal, strength
from ..widgets.strength_panel import StrengthPanel
from ..wizards.csr import CsrWizard
from ..wizards.rotate import RotateWizard
from ..wizards.sign import SignWizard
from ..wizards.verify import VerifyWizard
from ..workers import ServiceCalls


class KeyDetailScreen(ServiceCalls, Screen):
    """Everything about one key, with the actions that change it."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),
        Binding("f2", "key_list", "Keys", id="detail.keys", show=False, tooltip="Back to the key list"),
        Binding("s", "sign", "Sign", id="detail.sign"),
        Binding("v", "verify", "Verify", id="detail.verify"),
        Binding("C", "csr", "Make a CSR", id="detail.csr", show=False, tooltip="Make a certificate signing request with this key"),
        Binding("R", "rotate", "Rotate", id="detail.rotate", show=False,
                tooltip="Rotate this key: a successor takes its aliases, this key is retired"),
        Binding("d", "delete", "Delete", id="detail.delete"),
        Binding("c", "copy", "Copy PEM", id="detail.copy"),
        Binding("a", "alias", "Aliases", id="detail.alias"),
        Binding("t", "tag", "Tags", id="detail.tag"),
        Binding("m", "metadata", "Metadata", id="detail.metadata"),
        # Bind and unbind are named in the bound resources panel's title; the footer keeps its room.
        Binding("b", "bind", "Bind", id="detail.bind", show=False),
        Binding("u", "unbind", "Unbind", id="detail.unbind", show=False),
        Binding("n", "rename", "Rename", id="detail.rename", show=False),
        Binding("x", "engine_action", "Engine actions", id="detail.engine_action", show=False),
    ]

    def __init__(self, engine_id: str, key_id: str):
        super().__init__()
        self.engine_id, self.key_id = engine_id, key_id
        self.record: KeyRecord | None = None
        self._latest_not_after: str | None = None  # of the key's latest certificate, for the strength panel

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="detail"):
            yield Static("Loading…", id="detail-fields")
            rotation = Static("", id="detail-rotation")
            rotation.display = False  # shown for a key that was rotated or is a successor
            yield rotation
            yield StrengthPanel("RSA", 2048, id="strength")
            bindings = DataTable(id="detail-bindings", cursor_type="row", show_cursor=True)
            bindings.border_title = "Bound resources (b bind · u unbind)"
            yield bindings
            certificates = DataTable(id="detail-certs", cursor_type="row", show_cursor=True)
            certificates.border_title = "Certificates"
            certificates.display = False
            yield certificates
            yield Static("", id="detail-metadata")
            yield Static("", id="detail-pem")
            audit = DataTable(id="detail-audit", cursor_type="none")
            audit.border_title = "Recent audit rows"
            yield audit
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#strength").display = False
        self.query_one("#detail-bindings", DataTable).add_columns("Type", "Resource id")
        self.query_one("#detail-certs", DataTable).add_columns("Subject", "Not after", "Left", "Chain", "Serial",
                                                               "Issuer")
        self.query_one("#detail-audit", DataTable).add_columns("#", "Time (UTC)", "Action", "Details")
        self.when_ready(self.refresh_key, show=lambda note: self.query_one("#detail-fields", Static).update(Text(note)))

    def on_screen_resume(self) -> None:
        self.refresh_key()

    def refresh_key(self) -> None:
        if not self.kms_ready:
            return  # the first load runs once the service is open
        self.call(self._fetch, then=self._show, group="detail")
        self.call(self.kms.rotation.links_at, self.engine_id, self.key_id, then=self._show_rotation,
                  group="detail-rotation")
        self.call(self.kms.certs.of_key, self.engine_id, self.key_id, then=self._show_certificates,
                  group="detail-certs")

    def _ref(self) -> str:
        return self.record.name if self.record else self.key_id

    def _fetch(self):
        matches = [r for r in self.kms.keys.by_key_id(self.key_id) if r.engine_id == self.engine_id]
        if not matches:
            raise KeyNotFound(f"Key {self.key_id[:16]}… is no longer recorded on {self.engine_id}.")
        security_level = self.kms.engines.get(self.engine_id).record.security_level  # where the key lives
        # This record's rows only: the same key id on another engine (a copy) has its own history.
        return matches[0], self.kms.audit.rows(limit=10, key_id=self.key_id, engine_id=self.engine_id), security_level

    def _show(self, result) -> None:
        record, audit_rows, security_level = result
        self.record = record
        self.sub_title = safe_text(record.name, 60)  # the header shows it as is: escape controls
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        rows = [
            ("Name", literal(record.name)),
            ("Key id", Text(record.key_id)),
            ("Engine", literal(record.engine_id)),
            ("Algorithm", Text(f"{record.algorithm} {record.size}")),
            ("Strength", strength(record.strength)),
            ("Private key", Text("yes" if record.has_private_key else "no — public key only (verify only)")),
            ("Created", Text(record.creation_ts)),
            ("Aliases", literal(", ".join(record.aliases) or "—")),
            ("Tags", literal(", ".join(record.tags) or "—")),
        ]
        if record.pkcs11_uri:
            rows.append(("PKCS#11 URI", literal(record.pkcs11_uri)))
        if record.state:
            rows.append(("Engine state", literal(record.state, style="bold yellow")))
        if record.status != "ok":
            rows.append(("Status", Text("missing from its engine at the last sync", style="bold red")))
        if any(k.startswith("kms-tui.io/backup/") for k in record.metadata):
            rows.append(("Backup", literal(self.kms.backup.state(record))))
        for name, value in rows:
            grid.add_row(name, value)
        self.query_one("#detail-fields", Static).update(grid)
        panel = self.query_one("#strength", StrengthPanel)
        panel.show(record.algorithm, record.size, security_level, self._latest_not_after)
        panel.display = True
        bindings = self.query_one("#detail-bindings", DataTable)
        bindings.clear()
        for b in record.bindings:
            bindings.add_row(literal(b.get("resource_type")), literal(b.get("resource_id")))
        extra = {k: v for k, v in record.metadata.items() if k != BINDINGS_KEY}
        meta = self.query_one("#detail-metadata", Static)
        meta.border_title = "Metadata (m edit)"
        lines = json.dumps(extra, indent=2, ensure_ascii=False).splitlines() if extra else ["{}"]
        meta.update(Text("\n").join(literal(line) for line in lines))
        pem = self.query_one("#detail-pem", Static)
        pem.border_title = "Public key (c copy)"
        pem.update(Text(record.public_key.rstrip()))
        audit = self.query_one("#detail-audit", DataTable)
        audit.clear()
        for row in audit_rows:
            details = json.dumps(row.details, ensure_ascii=False, sort_keys=True)
            audit.add_row(str(row.seq), row.ts[:19].replace("T", " "), row.action, literal(details, 48))

    def _show_certificates(self, views) -> None:
        """Subject, not-after with days left, chain status, serial and issuer of each certificate."""
        table = self.query_one("#detail-certs", DataTable)
        table.clear()
        table.display = bool(views)
        self._latest_not_after = max((v.not_after for v in views if v.intact), default=None)
        if self.record is not None:  # else the key's own load shows it
            self.query_one("#strength", StrengthPanel).show_certificate(self._latest_not_after)
        for view in views:
            left = Text(f"{view.days_left} d", style="bold red" if view.days_left < 30 else
                        "yellow" if view.days_left < 90 else "")
            chain = Text(view.chain if view.intact else f"ALTERED: {view.problem}",
                         style="" if view.intact else "bold red")
            table.add_row(literal(view.subject, 30), view.not_after[:10], left, chain, literal(view.serial, 12),
                          literal(view.issuer, 28))

    def _show_rotation(self, links) -> None:
        """"Rotated to X on DATE" / "Successor of Y": the key's place in a rotation, when it has one."""
        shown = self.query_one("#detail-rotation", Static)
        shown.display = bool(links.lines)
        shown.update(Text("\n").join(literal(line, style="bold yellow" if line.startswith("Rotated") else "")
                                     for line in links.lines))

    # --- actions -------------------------------------------------------------

    def action_key_list(self) -> None:
        """F2: the key list, also when this detail was opened over it (F2 alone would stay here)."""
        if self.app.current_mode != "keys":
            self.app.switch_mode("keys")
            return
        while len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def _changed(self, record) -> None:
        self.refresh_key()

    def action_sign(self) -> None:
        self.app.push_screen(SignWizard(self.record))

    def action_verify(self) -> None:
        self.app.push_screen(VerifyWizard(self.record))

    def action_csr(self) -> None:
        self.app.push_screen(CsrWizard(self.record))

    def action_rotate(self) -> None:
        self.app.push_screen(RotateWizard(self.record))

    def action_copy(self) -> None:
        if self.record:
            self.app.copy_to_clipboard(self.record.public_key)
            self.notify("Public key copied to the clipboard (OSC 52).", timeout=3)

    def action_bind(self) -> None:
        def done(values):
            if values:
                self.call(self.kms.keys.bind, self._ref(), values["type"], values["id"], then=self._changed)

        self.app.push_screen(FormDialog("Bind a resource", [
            Field("type", "Resource type", placeholder="certificate, ca, device…"),
            Field("id", "Resource id", placeholder="serial number, CA id…"),
        ]), done)

    def action_unbind(self) -> None:
        if not self.record or not self.record.bindings:
            self.notify("This key is not bound to anything.", severity="warning")
            return
        items = [(json.dumps(b), f"{b.get('resource_type')} {b.get('resource_id')}") for b in self.record.bindings]

        def done(value):
            if value:
                b = json.loads(value)
                self.call(self.kms.keys.unbind, self._ref(), b["resource_type"], b["resource_id"], then=self._changed)

        self.app.push_screen(ChoiceDialog("Unbind which resource?", items), done)

    def _edit_list(self, what: str, current: list[str], add, remove) -> None:
        article = "an" if what[:1] in "aeiou" else "a"
        items = [("+", f"Add {article} {what}…")] + [(v, f"Remove {what} {v}") for v in current]

        def chosen(value):
            if value == "+":
                self.app.push_screen(FormDialog(f"Add {article} {what}", [Field("value", what.capitalize())]),
                                     lambda v: v and self.call(add, self._ref(), v["value"], then=self._changed))
            elif value is not None:
                self.call(remove, self._ref(), value, then=self._changed)

        self.app.push_screen(ChoiceDialog(f"{what.capitalize()}es" if what.endswith("s") else f"{what.capitalize()}s",
                                          items), chosen)

    def action_alias(self) -> None:
        if self.record:
            self._edit_list("alias", self.record.aliases, self.kms.keys.add_alias, self.kms.keys.remove_alias)

    def action_tag(self) -> None:
        if self.record:
            self._edit_list("tag", self.record.tags, self.kms.keys.add_tag, self.kms.keys.remove_tag)

    def action_metadata(self) -> None:
        if not self.record:
            return
        extra = {k: v for k, v in self.record.metadata.items() if k != BINDINGS_KEY}
        self.app.push_screen(JsonDialog("Metadata (bindings are edited with b/u)", extra),
                             lambda v: v is not None and self.call(self.kms.keys.set_metadata, self._ref(), v,
                                                                   then=self._changed))

    def action_rename(self) -> None:
        if not self.record:
            return
        self.app.push_screen(
            FormDialog("Rename key", [Field("name", "New name", value=self.record.name)]),
            lambda v: v and self.call(self.kms.keys.rename, self._ref(), v["name"], then=self._renamed),
        )

    def _renamed(self, record) -> None:
        self.record = record
        self.refresh_key()

    def action_engine_action(self) -> None:
        if not self.record:
            return

        def listed(actions: dict[str, str]) -> None:
            if not actions:
                self.notify("This key's engine has no extra actions.")
                return
            self.app.push_screen(ChoiceDialog("Engine action", [(k, f"{k}: {v}") for k, v in actions.items()]),
                                 self._run_engine_action)

        self.call(self.kms.keys.actions, self._ref(), then=listed)

    def _run_engine_action(self, action: str | None) -> None:
        if not action:
            return
        ref = self._ref()
        if action not in DESTRUCTIVE_ACTIONS:
            self.call(self.kms.keys.run_action, ref, action, then=self._after_action)
            return
        name = self.record.name  # destroying key material: the key's name typed first

        def check(values: dict[str, str]) -> str | None:
            return None if values.get("name") == name else "That is not the key's name."

        self.app.push_screen(
            FormDialog(f"{action.capitalize()} key {safe_text(name, 50)}: this destroys the key material and "
                       "cannot be undone", [Field("name", "Type the key name to confirm", placeholder=name)], check),
            lambda values: values and self.call(self.kms.keys.run_action, ref, action, then=self._after_action))

    def _after_action(self, record) -> None:
        if record is None:
            self.app.pop_screen()
        else:
            self.refresh_key()

    def action_delete(self) -> None:
        if not self.record:
            return
        self.app.push_screen(DeleteKeyDialog(self.record),
                             callback=lambda deleted: deleted is not None and self._deleted(deleted))

    def _deleted(self, record) -> None:
        if record.state:  # recoverable deletion: the key is still there, in that state
            self.refresh_key()
        else:
            self.app.pop_screen()
