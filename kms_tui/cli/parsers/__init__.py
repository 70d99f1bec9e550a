"""The argparse tree of ``kms-tui``, one module per noun; ``kms_tui.cli.parser`` puts it together."""
