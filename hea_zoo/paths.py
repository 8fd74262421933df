"""Where hea_zoo finds the trained models it ships.

One documented rule, used by `Designer.from_exported`, the command line and the page's
build: the bundled exports are

1. the folder named by the environment variable ``HEA_ZOO_EXPORTED``, if set;
2. else ``hea_zoo/exported/`` inside the installed package (a wheel or ``pip install .``
   copies the repository's ``exported/`` there: see ``setup.py``);
3. else ``exported/`` beside the ``hea_zoo`` package folder (a source checkout or an
   editable install, ``pip install -e .``).

A relative folder a caller passes explicitly (``models_dir="my_models"``) is taken as it
is, relative to the current folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENVIRONMENT_VARIABLE", "bundled_models_dir"]

ENVIRONMENT_VARIABLE = "HEA_ZOO_EXPORTED"
_PACKAGE = Path(__file__).resolve().parent


def bundled_models_dir() -> Path:
    """The folder of the bundled exported models (see the module's rule)."""
    env = os.environ.get(ENVIRONMENT_VARIABLE)
    if env:
        return Path(env)
    installed = _PACKAGE / "exported"
    if (installed / "MANIFEST.json").is_file():
        return installed
    return _PACKAGE.parent / "exported"
