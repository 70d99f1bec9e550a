"""The store stays independent: no UI, service or engine imports, and no keyring at import time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_store_imports_nothing_from_the_other_layers():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import store, store.db, store.audit, store.credentials; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'textual', 'kms_tui', 'engines', 'keyring'}); "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True
    )
    # keyring is imported lazily on first use: start-up should not pay for it.
    assert result.stdout.strip() == ""


def test_no_store_module_mentions_the_other_layers():
    for path in (ROOT / "store").glob("*.py"):
        text = path.read_text()
        for layer in ("textual", "kms_tui", "engines"):
            assert f"import {layer}" not in text and f"from {layer}" not in text, (path.name, layer)
