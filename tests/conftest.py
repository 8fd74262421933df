"""Test-wide settings: no files in the working directory, quiet TensorFlow."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hypothesis import settings  # noqa: E402

# Hypothesis would otherwise keep its example database in the working directory.
settings.register_profile("hea_zoo", database=None, deadline=None)
settings.load_profile("hea_zoo")
