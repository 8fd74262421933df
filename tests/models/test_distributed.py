"""Training under tf.distribute.MirroredStrategy over 2 logical CPU devices: every model,
the surrogate included, takes the same steps as one device on the same global batch.

Logical devices must be configured before TensorFlow initializes its devices, so the
trainings run in a fresh Python process. Shuffling is off; the 423 training rows at a
global batch of 64 end every epoch with an uneven batch (39 rows: 20 + 19 per replica),
which the replica scaling must weigh exactly.

The WcGAN is compared over one epoch (7 generator and 35 critic steps): its RMSprop takes
steps of about `learning_rate * sign(gradient)` while its second-moment estimate is
small, so a gradient element near zero that float32 summation order (one device vs. an
all-reduce of two halves) tips across zero moves a weight by a full step; after three
epochs the generator loss differs by about 1e-3 relative although the noise, scaling and
clipping are the same (its first epoch agrees to 1e-4).

Slow (like tests/models/test_multiworker.py): eight trainings in a fresh process, about
20 s of the default run's 3 minutes; run with `python -m pytest -m slow`.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.support import ROOT

pytestmark = pytest.mark.slow

EPOCHS = {"cae": 2, "cvae": 1, "wcgan": 1, "surrogate": 2}  # two where the loss must fall
NAMES = tuple(EPOCHS)

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
    from hea_zoo.models import Surrogate, build_default_generator

    EPOCHS = json.loads(sys.argv[1])
    ds = load_dataset()
    x, y = ds.train.compositions, ds.train.properties

    def new_model(name):
        keras.utils.set_random_seed(0)
        if name == "surrogate":
            model = Surrogate(seed=0)
            model.compile()
            return model
        return build_default_generator(name, ds, seed=0)

    def train(model, epochs):
        model.adapt(x, y)
        history = model.fit(x, y, epochs=epochs, batch_size=64, shuffle=False, verbose=0)
        return {k: [float(v) for v in vals] for k, vals in history.history.items()}

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    report = {"replicas": strategy.num_replicas_in_sync}
    for name, epochs in EPOCHS.items():
        single = new_model(name)
        with strategy.scope():
            mirrored = new_model(name)
        entry = {"single": train(single, epochs), "mirrored": train(mirrored, epochs)}
        entry["steps"] = int(mirrored.optimizer.iterations.numpy())
        if name == "surrogate":
            pred = mirrored(ds.test.compositions).numpy()
            entry["valid"] = bool(np.all(np.isfinite(pred)) and np.all(pred > 0))
        else:
            designs = mirrored.generate(y[:50], 2, seed=0)
            entry["valid"] = bool(np.all(designs >= 0) and np.allclose(designs.sum(-1), 1, atol=1e-5))
        if name == "cae":
            entry["latent_mean"] = [single.latent_mean.numpy().tolist(), mirrored.latent_mean.numpy().tolist()]
        if name == "wcgan":
            entry["clip_ok"] = bool(
                max(float(np.abs(w.numpy()).max()) for w in mirrored.critic.trainable_weights)
                <= mirrored.clip_value + 1e-7
            )
        report[name] = entry
    print("REPORT " + json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    script = tmp_path_factory.mktemp("distributed") / "train_mirrored.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), json.dumps(EPOCHS)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=script.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    lines = [l for l in result.stdout.splitlines() if l.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    return json.loads(lines[-1][len("REPORT ") :])


def test_two_replicas(report):
    assert report["replicas"] == 2


@pytest.mark.parametrize("name", NAMES)
def test_same_losses_as_one_device_on_the_same_global_batch(report, name):
    entry = report[name]
    assert entry["steps"] == EPOCHS[name] * 7  # 423 rows at a global batch of 64
    assert set(entry["single"]) == set(entry["mirrored"])
    for key, single in entry["single"].items():
        mirrored = entry["mirrored"][key]
        assert len(single) == len(mirrored) == EPOCHS[name]
        np.testing.assert_allclose(mirrored, single, rtol=1e-4, atol=1e-6, err_msg=key)
    assert entry["valid"]


def test_learning_under_mirrored_strategy(report):
    for name in ("cae", "surrogate"):
        loss = report[name]["mirrored"]["loss"]
        assert loss[-1] < loss[0], (name, loss)
    assert report["wcgan"]["clip_ok"]
    # The cAE's running latent statistics are all-reduced: the same on both set-ups.
    single, mirrored = report["cae"]["latent_mean"]
    np.testing.assert_allclose(mirrored, single, rtol=1e-4, atol=1e-5)
