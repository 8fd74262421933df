"""Multi-worker training: docs/DISTRIBUTED.md's recipe on two localhost workers.

The test runs the recipe exactly as the document shows it (the Python block after the
`<!-- multiworker-recipe -->` marker) for every model: once as two workers of a
`MultiWorkerMirroredStrategy` (a `TF_CONFIG` with two free localhost ports), once as a
single process, both with shuffling off and the same global batch. The chief's saved model
must load, report trained and generate (or predict); its logged losses must equal the
single process's within 1e-4 relative.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.support import ROOT

pytestmark = pytest.mark.slow

DOC = ROOT / "docs" / "DISTRIBUTED.md"
MARKER = "<!-- multiworker-recipe -->"
# The WcGAN over one epoch: see tests/models/test_distributed.py.
EPOCHS = {"cae": 3, "cvae": 3, "wcgan": 1, "surrogate": 3}


def recipe() -> str:
    text = DOC.read_text()
    block = text[text.index(MARKER) + len(MARKER) :]
    start = block.index("```python\n") + len("```python\n")
    return block[start : block.index("```", start)]


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def environment(tf_config: dict | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return env


def run_single(script: Path, name: str, out: Path) -> dict:
    result = subprocess.run(
        [sys.executable, str(script), name, str(out), str(EPOCHS[name]), "--no-shuffle"],
        capture_output=True, text=True, timeout=600, cwd=script.parent, env=environment(None),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "history.json").read_text())


def run_two_workers(script: Path, name: str, out: Path) -> dict:
    workers = [f"localhost:{port}" for port in free_ports(2)]
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), name, str(out), str(EPOCHS[name]), "--no-shuffle"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=script.parent,
            env=environment({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}),
        )  # fmt: skip
        for i in range(2)
    ]
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=600))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
    return json.loads((out / "history.json").read_text())


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("multiworker") / "train_multiworker.py"
    path.write_text(recipe())
    return path


@pytest.mark.parametrize("name", list(EPOCHS))
def test_two_workers_train_like_one_process(name, script, tmp_path, dataset):
    multi = run_two_workers(script, name, tmp_path / "multi")
    single = run_single(script, name, tmp_path / "single")
    assert set(multi) == set(single)
    for key in single:
        assert len(multi[key]) == len(single[key]) == EPOCHS[name]
        np.testing.assert_allclose(multi[key], single[key], rtol=1e-4, atol=1e-6, err_msg=key)

    model = keras.saving.load_model(tmp_path / "multi" / f"{name}.keras")
    assert model.is_trained
    # 423 rows at a global batch of 64: 7 steps per epoch, counted once for both workers.
    assert int(model.optimizer.iterations.numpy()) == 7 * EPOCHS[name]
    if name == "surrogate":
        scores = model.score(dataset.test.compositions, dataset.test.properties)
        assert all(np.isfinite(s["r2"]) for s in scores.values())
    else:
        designs = model.generate(dataset.test.properties[:10], 3, seed=0)
        assert designs.shape == (10, 3, 22)
        assert np.all(designs >= 0) and np.allclose(designs.sum(-1), 1.0, atol=1e-5)
