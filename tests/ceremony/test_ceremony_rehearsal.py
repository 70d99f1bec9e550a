"""Where a rehearsal writes: under the data directory, never next to the script."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kms_tui.ceremony import load_script, verify
from kms_tui.ceremony.rehearsal import default_output_dir
from tests.ceremony.conftest import software_text
from tests.cli.runner import InProcessCli, home_env


@pytest.fixture
def cli(tmp_path) -> InProcessCli:
    return InProcessCli(tmp_path / "data", env=home_env(tmp_path / "home"))


def _tree(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


def test_rehearsal_writes_under_the_data_directory_and_leaves_the_checkout_alone(cli, tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "examples").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(checkout)], check=True, timeout=30)
    script = checkout / "examples" / "ceremony.yaml"
    script.write_text(software_text())
    before = _tree(checkout)

    out = cli("ceremony", "rehearse", str(script)).stdout.decode()

    assert _tree(checkout) == before  # nothing beside the script, nothing in the repository
    (made,) = (cli.data_dir / "rehearsals").iterdir()
    assert made.name.startswith("example-root-2026-") and made.name.endswith("Z")
    assert f"outputs in {made}" in out and f"Rehearsal transcript: {made / 'rehearsal-transcript.json'}" in out
    report = verify(made / "rehearsal-transcript.json", made)
    assert report.ok and report.mode == "rehearsal", report.problems
    assert (made / "root.pem").is_file()
    assert (made.stat().st_mode & 0o777) == 0o700


def test_an_explicit_output_directory_is_still_honoured(cli, tmp_path):
    script = tmp_path / "ceremony.yaml"
    script.write_text(software_text())
    cli("ceremony", "rehearse", str(script), "--output-dir", str(tmp_path / "here"))
    assert (tmp_path / "here" / "rehearsal-transcript.json").is_file()
    assert not (cli.data_dir / "rehearsals").exists()


def test_the_default_directory_name_is_safe_whatever_the_ceremony_id(tmp_path):
    script = load_script(str(_write(tmp_path, software_text(("id: example-root-2026", "id: ../../a b/c")))))
    when = datetime(2026, 12, 5, 19, 30, tzinfo=UTC)
    path = default_output_dir(tmp_path / "data", script, when)
    assert path == tmp_path / "data" / "rehearsals" / "a-b-c-20261205T193000Z"


def _write(directory: Path, text: str) -> Path:
    path = directory / "ceremony.yaml"
    path.write_text(text)
    return path
