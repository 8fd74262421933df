"""Packaging: the metadata is in setup.cfg; this file ships the bundled models.

A wheel (and a non-editable ``pip install .``) carries the repository's ``exported/``
as ``hea_zoo/exported/``, so `hea_zoo.paths.bundled_models_dir` finds the trained models
from any folder. An editable install reads ``exported/`` in the checkout instead.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

_ROOT = Path(__file__).resolve().parent


class BuildWithModels(build_py):
    """`build_py` that also copies ``exported/`` into the built package."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        source = _ROOT / "exported"
        if not (source / "MANIFEST.json").is_file():
            return
        target = Path(self.build_lib) / "hea_zoo" / "exported"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".*"))


setup(cmdclass={"build_py": BuildWithModels})
