"""The layering rules of the design, proved on the code itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SDKS = ("boto3", "botocore", "azure", "hvac", "pkcs11")


def imported_roots(package: str) -> dict[str, set[str]]:
    """Top-level modules each file of a package imports (at any depth of the file)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(("package", "forbidden"), [
    ("engines", {"textual", "kms_tui", "store"}),
    ("store", {"textual", "kms_tui", "engines"}),
    ("kms_tui/service", {"textual"}),
    ("kms_tui/cli", {"textual"}),
])
def test_package_never_imports(package, forbidden):
    bad = {f: sorted(names & forbidden) for f, names in imported_roots(package).items() if names & forbidden}
    assert bad == {}


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
