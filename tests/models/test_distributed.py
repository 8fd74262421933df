"""Training under tf.distribute.MirroredStrategy over 2 logical CPU devices.

Logical devices must be configured before TensorFlow initializes its devices,
so the training runs in a fresh Python process.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras
    from hea_zoo.data.datasets import load_dataset
    from hea_zoo.models.defaults import build_default_generator

    ds = load_dataset()
    x, c = ds.train.compositions, ds.train.properties
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    report = {"replicas": strategy.num_replicas_in_sync}
    for name, epochs in [("cae", 15), ("cvae", 15), ("wcgan", 15)]:
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = build_default_generator(name, ds, seed=0)
        history = model.fit(x, c, epochs=epochs, batch_size=64, verbose=0)
        designs = model.generate(c, 1, seed=0)[:, 0]
        entry = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        entry["valid"] = bool(np.all(designs >= 0) and np.allclose(designs.sum(-1), 1, atol=1e-5))
        entry["designs"] = designs[:200].tolist()
        if name == "wcgan":
            entry["clip_ok"] = bool(
                max(float(np.abs(w.numpy()).max()) for w in model.critic.trainable_weights)
                <= model.clip_value + 1e-7
            )
        report[name] = entry
    print("REPORT " + json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = Path(__file__).resolve().parents[2]
    script = tmp_path_factory.mktemp("distributed") / "train_mirrored.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=script.parent,
        env={**__import__("os").environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    lines = [l for l in result.stdout.splitlines() if l.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    return json.loads(lines[-1][len("REPORT ") :])


def test_two_replicas(report):
    assert report["replicas"] == 2


@pytest.mark.parametrize("name", ["cae", "cvae"])
def test_autoencoders_learn_under_mirrored_strategy(report, name, dataset):
    import helpers
    from hea_zoo.models.defaults import DEFAULT_HYPERPARAMETERS

    loss = report[name]["reconstruction_loss" if name == "cvae" else "loss"]
    kind = DEFAULT_HYPERPARAMETERS[name]["model"].get("reconstruction", "mse")
    floor = helpers.mean_entropy(dataset.train.compositions) if kind == "crossentropy" else 0.0
    assert loss[-1] - floor < 0.6 * (loss[0] - floor), (loss, floor)
    assert report[name]["valid"]


def test_wcgan_learns_under_mirrored_strategy(report, dataset):
    import helpers
    import numpy as np

    entry = report["wcgan"]
    assert entry["valid"] and entry["clip_ok"]
    assert min(entry["critic_loss"]) < 0.0
    uniform = np.full((200, len(dataset.elements)), 1.0 / len(dataset.elements))
    real = dataset.train.compositions
    assert helpers.composition_mmd(np.array(entry["designs"]), real) < 0.5 * helpers.composition_mmd(
        uniform, real
    )
