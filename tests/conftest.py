"""Test-wide settings and fixtures: no files in the working directory, quiet TensorFlow,
one compute thread per test process."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Each test process computes on one thread: TensorFlow's and OpenMP's pools would otherwise
# start a thread per core in every process and the processes would contend for the cores
# (on 2 cores the suite ran ~15 % longer).
# Set before TensorFlow starts; subprocesses (the CLI, Dask workers) inherit it. A value
# already in the environment wins.
for _variable in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

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
