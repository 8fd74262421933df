"""Fixtures shared by the model tests: the bundled dataset, and the module's trained model.

The shared checks are in tests/support/model_checks.py (also meant for the export round trips).
"""

import pytest

# (hea_zoo and the checks are imported in the fixtures: pytest's main process loads this
# file too, and never runs a test, so it need not start TensorFlow)


@pytest.fixture(scope="session")
def dataset():
    from hea_zoo.data.datasets import load_dataset

    return load_dataset()


@pytest.fixture(scope="module")
def trained(request, dataset):
    """`(model, history)`: the module's `MODEL` default generator trained for its `EPOCHS`
    at its `BATCH_SIZE` (32 if unset), seed 0."""
    from tests.support.model_checks import fit_default

    module = request.module
    return fit_default(module.MODEL, dataset, module.EPOCHS, getattr(module, "BATCH_SIZE", 32))
