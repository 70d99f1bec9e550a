"""A ceremony never writes into a Git checkout or an installed package unless told to in so many words."""

from __future__ import annotations

from pathlib import Path

from kms_tui.ceremony.rehearsal import protected_tree
from tests.ceremony.conftest import software_text
from tests.cli.runner import InProcessCli

ANSWERS = "yes\nBW\nCW\n" * 8


def checkout(tmp_path: Path) -> Path:
    """A Git working tree holding the software variant of the example (output_dir: ceremony-2026, relative)."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "examples").mkdir()
    (repo / "examples" / "ceremony.yaml").write_text(software_text())
    return repo


def test_protected_trees_are_a_checkout_and_an_installed_package(tmp_path):
    repo = checkout(tmp_path)
    assert protected_tree(repo / "examples" / "ceremony-2026") == f"the Git working tree {repo}"
    assert protected_tree(tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "x") \
        == "an installed Python package"
    assert protected_tree(tmp_path / "outputs") is None


def test_a_run_from_a_checkout_writes_under_the_data_directory_and_says_so(tmp_path):
    repo = checkout(tmp_path)
    cli = InProcessCli(tmp_path / "data")
    answers = tmp_path / "answers.txt"
    answers.write_text(ANSWERS)
    proc = cli("ceremony", "run", str(repo / "examples" / "ceremony.yaml"), "--answers", str(answers))
    out = proc.stdout.decode()
    assert f"inside the Git working tree {repo}" in out and "outputs go to" in out
    assert sorted(p.name for p in repo.rglob("*")) == [".git", "ceremony.yaml", "examples"]  # nothing written there
    [run_dir] = (tmp_path / "data" / "ceremonies").iterdir()
    assert (run_dir / "transcript.json").is_file() and (run_dir / "root.pem").is_file()


def test_an_output_dir_given_on_the_command_line_is_used_as_given(tmp_path):
    repo = checkout(tmp_path)
    cli = InProcessCli(tmp_path / "data")
    answers = tmp_path / "answers.txt"
    answers.write_text(ANSWERS)
    chosen = repo / "ceremony-outputs"
    proc = cli("ceremony", "run", str(repo / "examples" / "ceremony.yaml"), "--answers", str(answers),
               "--output-dir", str(chosen))
    assert "Note:" not in proc.stdout.decode()
    assert (chosen / "transcript.json").is_file() and not (tmp_path / "data" / "ceremonies").exists()
