"""hea_zoo: conditional generative models for the inverse design of refractory
high-entropy alloys (cAE, cVAE, WcGAN), a forward surrogate, the evaluation protocol of
Tung, Debnath & Reinhart, and exports to SavedModel and ONNX.

The public names below load on first use (PEP 562), so ``import hea_zoo`` and the
``hea-zoo`` command start without TensorFlow, pandas or pymatgen.

Example:
    >>> import hea_zoo
    >>> hea_zoo.load_dataset().compositions.shape
    (529, 22)
"""

import importlib as _importlib
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hea_zoo._version import __version__  # noqa: E402

_LAZY = {
    "ELEMENTS": "hea_zoo.constants",
    "PROPERTY_NAMES": "hea_zoo.constants",
    "PROPERTY_UNITS": "hea_zoo.constants",
    "DROP_THRESHOLD": "hea_zoo.data.composition",
    "parse_formula": "hea_zoo.data.composition",
    "parse_formulas": "hea_zoo.data.composition",
    "to_formula": "hea_zoo.data.composition",
    "to_formulas": "hea_zoo.data.composition",
    "valid_rows": "hea_zoo.data.composition",
    "validate_compositions": "hea_zoo.data.composition",
    "Dataset": "hea_zoo.data.datasets",
    "load_dataset": "hea_zoo.data.datasets",
    "element_table": "hea_zoo.data.elements",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hea_zoo' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
