"""The layering rules of the design, proved on the code itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SDKS = ("boto3", "botocore", "azure", "hvac", "pkcs11")


def test_import_contracts_hold():
    """The layer rules live in pyproject.toml as import-linter contracts; they hold on this tree."""
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout and "5 kept" in result.stdout


def test_engine_sdks_are_imported_only_inside_functions():
    for path in (ROOT / "engines").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] in SDKS for n in names), f"{path.name} imports an SDK at module level"


def test_cli_run_loads_no_textual_and_no_sdk(tmp_path):
    code = (
        "import sys; from kms_tui.cli import main; rc = main(['--data-dir', sys.argv[1], 'keys', 'list', '--json']);"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual',) + {SDKS!r}); print(rc, bad)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0 []"
