"""Pick a file: browse a directory tree, or type a path.

The dialog starts in the folder of the path already typed (or the working
directory), found in a thread worker so a slow mount never freezes the UI.
Highlighting an entry in the tree puts its path in the field; Enter or a click
on a file picks it; Enter on a typed folder path browses there. Paths are
shown (and typed ones read back) through the app's ``PathDisplay``. The dialog
returns the chosen path as shown, or None.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Footer, Input, Label, Static
from textual.worker import Worker, WorkerState

from ..path_display import PathDisplay
from ..text import safe_text


def nearest_folder(text: str) -> Path:
    """The folder a typed path points into: itself, or its closest existing parent."""
    path = Path(text).expanduser() if text.strip() else Path.cwd()
    if not path.is_absolute():
        path = Path.cwd() / path
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


def classify(text: str) -> tuple[Path, str]:
    """(path, "dir" | "file" | "missing") for a typed path."""
    path = Path(text).expanduser()
    return path, "dir" if path.is_dir() else "file" if path.is_file() else "missing"


class FilePickerDialog(ModalScreen["str | None"]):
    """A DirectoryTree and a path field; returns the picked file's path."""

    DEFAULT_CSS = """
    FilePickerDialog { align: center middle; }
    FilePickerDialog > #picker {
        width: 90%; max-width: 110; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    FilePickerDialog #picker-title { margin-bottom: 1; }
    FilePickerDialog #picker-tree, FilePickerDialog #picker-loading { height: 1fr; }
    FilePickerDialog #picker-error { color: $error; height: auto; }
    FilePickerDialog #picker-buttons { height: auto; align-horizontal: right; }
    FilePickerDialog #picker-buttons Button { margin-left: 1; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel", tooltip="Close without picking"),
        Binding("backspace", "parent", "Parent folder", id="picker.parent",
                tooltip="Browse the folder above (when the tree has focus)"),
    ]

    def __init__(self, title: str, start: str = ""):
        super().__init__()
        self.picker_title = title
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(Text(self.picker_title, style="bold"), id="picker-title")
            yield Input(value=self.start, placeholder="a file path, or a folder to browse", id="picker-path")
            yield Static(Text("Loading…", style="dim"), id="picker-loading")
            yield Label("", id="picker-error")
            with Horizontal(id="picker-buttons"):
                yield Button("Parent folder", id="picker-parent")
                yield Button("Cancel", id="picker-cancel")
                yield Button("Open", id="picker-open", variant="primary")
        yield Footer()

    def on_resize(self) -> None:
        # In a 24-row terminal bordered buttons would take the room the tree needs.
        for button in self.query("#picker-buttons Button").results(Button):
            button.compact = self.size.height < 32

    @property
    def paths(self) -> PathDisplay:
        return self.app.paths

    def on_mount(self) -> None:
        self.run_worker(partial(nearest_folder, self.paths.real(self.start)), thread=True, exit_on_error=False,
                        group="picker-start", name="start")

    @property
    def tree(self) -> DirectoryTree | None:
        return self.query(DirectoryTree).first() if self.query(DirectoryTree) else None

    def _browse(self, folder: Path) -> None:
        if self.tree is None:
            tree = DirectoryTree(folder, id="picker-tree")
            self.query_one("#picker-loading").remove()
            self.query_one("#picker").mount(tree, before=self.query_one("#picker-error"))
            tree.focus()
        else:
            self.tree.path = folder
        self.query_one("#picker-path", Input).value = self.paths.path(folder)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self._error(f"Cannot read that folder: {type(event.worker.error).__name__}.")
        if event.state != WorkerState.SUCCESS:
            return
        if event.worker.name == "start":
            self._browse(event.worker.result)
        elif event.worker.name == "classify":
            path, kind = event.worker.result
            if kind == "dir":
                self._browse(path)
            elif kind == "file":
                self.dismiss(self.paths.path(path))
            else:
                self._error(f"{safe_text(self.paths.path(path), 80)} does not exist.")

    def _error(self, text: str) -> None:
        self.query_one("#picker-error", Label).update(Text(text))

    def _open(self, text: str) -> None:
        self._error("")
        self.run_worker(partial(classify, self.paths.real(text)), thread=True, exit_on_error=False, exclusive=True,
                        group="picker-open", name="classify")

    def on_tree_node_highlighted(self, event: DirectoryTree.NodeHighlighted) -> None:
        event.stop()
        entry = event.node.data
        if entry is not None:
            self.query_one("#picker-path", Input).value = self.paths.path(entry.path)

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(self.paths.path(event.path))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._open(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "picker-open":
            self._open(self.query_one("#picker-path", Input).value)
        elif event.button.id == "picker-parent":
            self.action_parent()
        else:
            self.action_cancel()

    def action_parent(self) -> None:
        if self.tree is not None:
            folder = Path(self.tree.path)
            self._browse(folder.parent)

    def action_cancel(self) -> None:
        self.dismiss(None)
