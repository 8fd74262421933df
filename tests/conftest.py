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


# The longest files (about 5-40 s each: they train and export models, or drive Node.js and
# Chromium), longest first. pytest-xdist hands whole files to the workers in collection order
# (`--no-loadscope-reorder` in setup.cfg), so these start early and the many short files fill
# in at the end, when one worker would otherwise wait for the other's last long file.
LONGEST_FIRST = (
    "tests/test_benchmarks.py",
    "tests/serving/test_onnx_node.py",
    "tests/models/test_keras_contract.py",
    "tests/models/test_flow.py",
    "tests/models/test_calibration.py",
    "tests/serving/test_web.py",
    "tests/test_files.py",
    "tests/cli/test_cli.py",
    "tests/models/test_training_budget.py",
    "tests/models/test_surrogate_settings.py",
    "tests/serving/test_export.py",
    "tests/serving/test_design.py",
    "tests/evaluation/test_plots.py",
    "tests/models/test_wcgan.py",
    "tests/models/test_surrogate.py",
    "tests/models/test_cae.py",
    "tests/campaign/test_propose.py",
    "tests/test_files_hardening.py",
    "tests/models/test_kernel.py",
    "tests/serving/test_design_cluster.py",
    "tests/models/test_registry.py",
    "tests/models/test_cvae.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    root = config.rootpath

    def file_rank(item):
        path = item.path.relative_to(root).as_posix()
        return rank.get(path, len(rank))

    items.sort(key=file_rank)  # stable: the other files, and the tests in a file, keep their order
