"""Opening wizards and dialogs from anywhere: key bindings, screens and the command palette."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from textual.app import App, SystemCommand
from textual.screen import Screen

from .dialogs.delete_key import DeleteKeyDialog
from .screens.key_detail import KeyDetailScreen
from .service.types import KeyRecord
from .wizards.create import CreateKeyWizard
from .wizards.import_key import ImportKeyWizard
from .wizards.sign import SignWizard
from .wizards.verify import VerifyWizard


def open_create(app: App[Any], engine_id: str | None = None) -> None:
    app.push_screen(CreateKeyWizard(engine_id=engine_id), callback=lambda r: _open_key(app, r))


def open_import(app: App[Any], engine_id: str | None = None) -> None:
    app.push_screen(ImportKeyWizard(engine_id=engine_id), callback=lambda r: _open_key(app, r))


def open_sign(app: App[Any], record: KeyRecord | None = None) -> None:
    app.push_screen(SignWizard(record))


def open_verify(app: App[Any], record: KeyRecord | None = None) -> None:
    app.push_screen(VerifyWizard(record))


def open_delete(app: App[Any], record: KeyRecord, done: Callable[[Any], None] | None = None) -> None:
    app.push_screen(DeleteKeyDialog(record), callback=done)


def _open_key(app: App[Any], record: KeyRecord | None) -> None:
    """After a wizard made a key, show it."""
    if record is not None:
        app.push_screen(KeyDetailScreen(record.engine_id, record.key_id))


def commands(app: App[Any], screen: Screen) -> Iterable[SystemCommand]:
    """Command palette entries: the wizards, and every binding of the current screen."""
    yield SystemCommand("Create key", "Generate a key in an engine (wizard)", lambda: open_create(app))
    yield SystemCommand("Import key", "Import a PEM, DER, OpenSSH or JWK key (wizard)", lambda: open_import(app))
    yield SystemCommand("Sign", "Sign a message or digest with a key (wizard)", lambda: open_sign(app))
    yield SystemCommand("Verify", "Verify a signature (wizard)", lambda: open_verify(app))
    seen = {"Create key", "Import key", "Sign", "Verify"}
    for binding in screen.active_bindings.values():
        b = binding.binding
        if not b.description or b.description in seen or b.action.startswith("app."):
            continue
        seen.add(b.description)
        yield SystemCommand(
            f"{b.description} ({screen.__class__.__name__.removesuffix('Screen')})",
            b.tooltip or f"key: {b.key_display or b.key}",
            lambda action=b.action, node=binding.node: app.call_later(node.run_action, action),
        )
