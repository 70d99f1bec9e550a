"""Make the project root importable (``engines``, ``tests``) without installing it,
and let pytest rewrite the asserts of the shared contract suite (``engines.testing``)."""

import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

pytest.register_assert_rewrite("engines.testing")
