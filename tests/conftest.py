"""Test-wide settings and fixtures: no files in the working directory, quiet TensorFlow."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Hypothesis would otherwise keep its example database in the working directory.
settings.register_profile("hea_zoo", database=None, deadline=None)
settings.load_profile("hea_zoo")


@pytest.fixture
def umask022():
    """The usual umask 022 for the test, the previous one restored after."""
    old = os.umask(0o022)
    yield
    os.umask(old)
