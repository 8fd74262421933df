"""Fixtures shared by the generator tests: the bundled dataset, loaded once.

The shared checks live in tests/helpers.py (also meant for the export round
trips); this makes `import helpers` work from tests/models/.
"""

import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from hea_zoo.data.datasets import load_dataset  # noqa: E402


@pytest.fixture(scope="session")
def dataset():
    return load_dataset()
