"""Ceremony scripts for the tests: the shipped example, and a software-engine variant of it."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ceremony-root-intermediate.yaml"
PKCS11_ENGINE = """engine:
  type: PKCS11
  id: ceremony-hsm
  module: /usr/lib/softhsm/libsofthsm2.so
  token: ceremony
"""
SOFTWARE_ENGINE = """engine:
  type: GOLANG
  id: golang-default
"""


def example_text() -> str:
    return EXAMPLE.read_text()


def software_text(*replace: tuple[str, str]) -> str:
    """The example on the default software engine, with each (old, new) text replaced once."""
    text = example_text().replace(PKCS11_ENGINE, SOFTWARE_ENGINE)
    assert SOFTWARE_ENGINE in text
    for old, new in replace:
        assert text.count(old) >= 1, old
        text = text.replace(old, new, 1)
    return text


def line_of(text: str, fragment: str) -> int:
    """1-based line where ``fragment`` (which may span lines) first starts."""
    return text[: text.index(fragment)].count("\n") + 1


@pytest.fixture
def write_script(tmp_path):
    def write(text: str, name: str = "ceremony.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write
