"""A wheel carries the bundled models, and the package finds them from any folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support import ROOT


def _build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.py", "setup.cfg", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "hea_zoo", source / "hea_zoo", ignore=ignore)
    shutil.copytree(ROOT / "exported", source / "exported", ignore=ignore)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("hea_zoo-*.whl")
    return wheel


def test_a_wheel_ships_the_bundled_models_and_designs_from_any_folder(tmp_path):
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    committed = {
        "hea_zoo/exported/" + p.relative_to(ROOT / "exported").as_posix()
        for p in (ROOT / "exported").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert committed <= names, sorted(committed - names)[:5]
    elsewhere = tmp_path / "somewhere_else"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "HEA_ZOO_EXPORTED"}
    env["PYTHONPATH"] = str(tmp_path / "site")  # the installed layout, not the checkout
    code = (
        "import hea_zoo, hea_zoo.paths as p; from hea_zoo.serving.design import Designer;"
        "d = Designer.from_exported(); r = d.design([60.0, 35.0], n=3, seed=0, candidates=2000);"
        "print(hea_zoo.__file__); print(p.bundled_models_dir()); print(r.n_designs)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    module, models, n = done.stdout.split()
    assert Path(module).is_relative_to(tmp_path / "site")
    assert Path(models) == tmp_path / "site" / "hea_zoo" / "exported"
    assert n == "3"
    cli = subprocess.run([sys.executable, "-m", "hea_zoo.cli", "design", "-G", "60", "-K", "35", "-n", "2",
                          "--candidates", "2000", "--seed", "0"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert "2 designs span" in cli.stdout


def test_the_environment_variable_names_another_models_folder(tmp_path, monkeypatch):
    from hea_zoo import paths

    monkeypatch.setenv(paths.ENVIRONMENT_VARIABLE, str(tmp_path))
    assert paths.bundled_models_dir() == tmp_path
    monkeypatch.delenv(paths.ENVIRONMENT_VARIABLE)
    assert paths.bundled_models_dir() == ROOT / "exported"  # the checkout (editable install)


def test_the_longest_first_list_names_test_files_that_exist():
    """tests/conftest.py hands the long files out first; a renamed file would silently drop
    back into collection order."""
    from tests.conftest import LONGEST_FIRST

    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    missing = [path for path in LONGEST_FIRST if not (ROOT / path).is_file()]
    assert not missing, missing
