"""Fixtures shared by the model tests: the bundled dataset, and the module's trained model.

The shared checks live in tests/helpers.py (also meant for the export round trips); this
makes `import helpers` work from tests/models/.
"""

import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import helpers  # noqa: E402
from hea_zoo.data.datasets import load_dataset  # noqa: E402


@pytest.fixture(scope="session")
def dataset():
    return load_dataset()


@pytest.fixture(scope="module")
def trained(request, dataset):
    """`(model, history)`: the module's `MODEL` default generator trained for its `EPOCHS`
    at its `BATCH_SIZE` (32 if unset), seed 0."""
    module = request.module
    return helpers.fit_default(
        module.MODEL, dataset, module.EPOCHS, getattr(module, "BATCH_SIZE", 32)
    )
