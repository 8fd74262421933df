"""hea_zoo: conditional generative models for the inverse design of refractory
high-entropy alloys (cAE, cVAE, WcGAN), a forward surrogate, the evaluation protocol of
Tung, Debnath & Reinhart, and exports to SavedModel and ONNX.

Example:
    >>> import hea_zoo
    >>> hea_zoo.load_dataset().compositions.shape
    (529, 22)
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hea_zoo._version import __version__  # noqa: E402
from hea_zoo.data.composition import (  # noqa: E402
    DROP_THRESHOLD,
    parse_formula,
    parse_formulas,
    to_formula,
    to_formulas,
    valid_rows,
    validate_compositions,
)
from hea_zoo.data.datasets import Dataset, load_dataset  # noqa: E402
from hea_zoo.data.elements import ELEMENTS, element_table  # noqa: E402
from hea_zoo.data.oracle import PROPERTY_NAMES, PROPERTY_UNITS  # noqa: E402

__all__ = [
    "__version__",
    "ELEMENTS",
    "PROPERTY_NAMES",
    "PROPERTY_UNITS",
    "DROP_THRESHOLD",
    "Dataset",
    "load_dataset",
    "element_table",
    "parse_formula",
    "parse_formulas",
    "to_formula",
    "to_formulas",
    "valid_rows",
    "validate_compositions",
]
