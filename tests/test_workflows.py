"""hea_zoo.workflows: one meaning of `quick`, checks before any training, the layers it chains."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hea_zoo import workflows
from hea_zoo.errors import UsageError


def test_quick_has_one_meaning_and_explicit_settings_win():
    assert workflows.run_settings(None, None, 2000, quick=False) == (None, None, 2000)
    quick = workflows.QUICK
    assert workflows.run_settings(None, None, 2000, quick=True) == (
        quick.epochs, quick.surrogate_epochs, quick.n_per_condition
    )
    assert workflows.run_settings(7, 3, 20, quick=True) == (7, 3, 20)  # given values win, fewer designs kept


def test_export_all_refuses_bad_requests_before_any_training(tmp_path):
    with pytest.raises(UsageError) as caught:
        workflows.export_all(tmp_path, models=["gan"])
    assert caught.value.field == "models" and "Valid names" in caught.value.message
    with pytest.raises(UsageError, match="^version: must be a positive integer"):
        workflows.export_all(tmp_path, version=0)
    (tmp_path / "cvae" / "2").mkdir(parents=True)
    with pytest.raises(UsageError) as caught:
        workflows.export_all(tmp_path, models=["cvae"], version=2)
    assert caught.value.field == "overwrite" and "already exists" in caught.value.message
    assert "--" not in caught.value.message  # library words, not flags
    with pytest.raises(UsageError) as caught:
        workflows.export_all(tmp_path, models=["cvae"], version=1, overwrite=True)
    assert caught.value.field == "version" and "older than the exported version 2" in caught.value.message
    assert not (tmp_path / "MANIFEST.json").exists()


def test_serving_does_not_import_evaluation():
    code = (
        "import sys, hea_zoo.serving.export, hea_zoo.serving.design; "
        "print(sorted(m for m in sys.modules if m.startswith('hea_zoo.evaluation')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
