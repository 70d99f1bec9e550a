"""kms-tui: a terminal workstation for key management (Textual UI and headless CLI)."""

__version__ = "0.1.0"
