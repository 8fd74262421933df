"""The surrogate with measurement settings as inputs, sparse targets (masked loss) and
physical bounds; its ONNX export with a `settings` input; the design engines feeding it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from hea_zoo.data.datasets import load_dataset
from hea_zoo.errors import UsageError
from hea_zoo.models import Surrogate, calibration, train_default_surrogate

ENGINE = Path(__file__).resolve().parents[2] / "examples" / "web" / "engine.js"


def _table(n=80, seed=0):
    """Alloys over Nb, Ta, Ti, Zr whose strength falls with the test temperature; a third of
    the hardness values missing (a sparse table)."""
    rng = np.random.default_rng(seed)
    x = rng.dirichlet(np.ones(4), size=n)
    temperature = rng.choice([25.0, 600.0, 1200.0], size=n)
    strength = 400 + 900 * x[:, 0] + 300 * x[:, 1] - 0.45 * temperature
    hardness = 200 + 300 * x[:, 2]
    hardness[rng.random(n) < 0.35] = np.nan
    formulas = [f"Nb{a:.3f}Ta{b:.3f}Ti{c:.3f}Zr{d:.3f}" for a, b, c, d in x]
    return pd.DataFrame({"composition": formulas, "ys": strength, "hv": hardness, "T": temperature})


@pytest.fixture(scope="module")
def data():
    return load_dataset(_table(), properties=["ys", "hv"], settings=["T"], property_units=["MPa", "HV"],
                        verbose=False)  # fmt: skip


@pytest.fixture(scope="module")
def model(data):
    return train_default_surrogate(data, epochs=60, verbose=0, calibration_folds=0, calibration_fraction=0.3)


def test_a_setting_moves_the_prediction(model, data):
    x = data.test.compositions[:5]
    cold = model.predict_with_uncertainty(x, settings={"T": 25.0})[0][:, 0]
    hot = model.predict_with_uncertainty(x, settings={"T": 1200.0})[0][:, 0]
    assert np.all(cold - hot > 150)  # the truth: 540 MPa lower at 1200 °C
    assert model.settings == ("T",) and model.n_inputs == 5
    with pytest.raises(UsageError, match=r"takes measurement settings as inputs \(T\)") as err:
        model.predict_with_uncertainty(x)
    assert err.value.field == "settings"


def test_the_masked_loss_ignores_missing_values_and_trains_on_sparse_rows(model, data):
    x = model.join_inputs(data.train.compositions, data.train.settings)
    y = data.train.properties
    assert np.isnan(y).any() and np.isfinite(model.target_mean.numpy()).all()
    weights = [w.numpy() for w in model.trainable_weights]
    assert all(np.isfinite(w).all() for w in weights)  # a NaN that leaked would spread to every weight
    full = model.compute_losses(x, y, None, training=False)
    # The rows with a missing value, with that value replaced by anything: the same loss.
    filled = np.where(np.isnan(y), 1e9, y)
    mask = np.isfinite(y)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = model.compute_losses(x, y, None, training=True)["loss"]
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(np.isfinite(g.numpy()).all() for g in grads)
    preds = keras.ops.convert_to_numpy(model._standard_members(x))
    safe = np.where(mask, filled, 1.0)
    standard = ((np.log(safe) if model.log_targets else safe) - model.target_mean.numpy()) / model.target_std.numpy()
    expected = np.sum(np.where(mask[None], (preds - standard[None]) ** 2, 0.0)) / (mask.sum() * model.n_members)
    np.testing.assert_allclose(float(full["loss"]), expected, rtol=1e-5)
    # Every row with any value teaches: the hardness scores are on the rows that have it.
    scores = model.score(data.test.compositions, data.test.properties, settings=data.test.settings)
    assert scores["hv"]["n"] == int(np.isfinite(data.test.properties[:, 1]).sum()) < len(data.test)
    assert scores["ys"]["r2"] > 0.5 and np.isfinite(scores["hv"]["interval_coverage"])
    assert model.property_counts == {
        "ys": data.alloys_in(data.train_index), "hv": int(np.isfinite(data.train.properties[:, 1]).sum())
    }


def test_bounds_are_never_negative():
    assert calibration.nonnegative_properties(
        ["yield_strength", "dhmix", "x", "y"], ["MPa", "kJ/mol", "", "GPa"], [[1, -3, 2, -1], [2, -1, 5, 2]]
    ) == (True, False, True, True)
    table = _table(seed=1)
    table["ys"] = table["ys"] - 500  # some strengths below 0 would be read as a signed quantity...
    table["ys"] = table["ys"].clip(lower=0)  # ...but a strength is never negative: clipped data, zeros included
    ds = load_dataset(table, properties=["ys", "hv"], settings=["T"], property_units=["MPa", "HV"], verbose=False)
    s = train_default_surrogate(ds, epochs=20, verbose=0, calibration_folds=0, calibration_fraction=0.3)
    assert not s.log_targets and s.nonnegative == (True, True)
    x = np.random.default_rng(3).dirichlet(np.ones(4) * 0.3, size=300)
    mean, lower, upper = s.predict_interval(x, settings={"T": 1200.0})
    assert (mean >= 0).all() and (lower >= 0).all() and (upper >= 0).all()
    assert (lower[:, 0] == 0).any()  # the clip is exercised: hot, weak alloys
    # Without the bounds the same model would go below zero.
    members = keras.ops.convert_to_numpy(s.member_outputs(s.join_inputs(x, {"T": 1200.0})))
    assert (members.mean(axis=0)[:, 0] - (upper[:, 0] - members.mean(axis=0)[:, 0]) < 0).any()


def test_onnx_settings_input_round_trip_equals_keras(model, data, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    from hea_zoo.serving import export

    export.export_model(model, tmp_path, "surrogate")
    meta = export.read_onnx_metadata(tmp_path / "surrogate.onnx")
    assert meta["inputs"] == ["composition", "settings"] and meta["setting_names"] == ["T"]
    assert meta["nonnegative"] == [True, True]
    session = onnxruntime.InferenceSession(str(tmp_path / "surrogate.onnx"))
    assert [i.name for i in session.get_inputs()] == ["composition", "settings"]
    x = data.test.compositions.astype(np.float32)
    t = np.linspace(-100, 1300, len(x), dtype=np.float32)[:, None]
    got = session.run(["properties", "properties_lower", "properties_upper"], {"composition": x, "settings": t})
    want = model.predict_interval(x, settings=t)
    # float32 in both: an interval end near 0 is the difference of two values in the
    # hundreds, so the tolerance is set by the values' scale, not by the end itself
    scale = float(np.max(np.abs(want[0])))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale)


def test_engine_js_feeds_the_requests_settings_to_a_surrogate_with_a_settings_input(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = tmp_path / "probe.mjs"
    script.write_text(f"""
import * as engine from {json.dumps(ENGINE.as_uri())};
const metadata = {{elements: ["Nb", "Ta", "Ti", "Zr"], condition_names: ["ys"], condition_units: ["MPa"], latent_dim: 2,
  condition_range: [[100], [2000]]}};
const seen = [];
const generateFn = async (z, condition, rows) => {{
  const out = new Float32Array(rows * 4);
  for (let r = 0; r < rows; r++) {{
    const a = 1 / (1 + Math.exp(-z[r * 2])), b = 1 / (1 + Math.exp(-z[r * 2 + 1]));
    const v = [a, 1 - a, b, 1 - b]; const s = v.reduce((p, q) => p + q, 0);
    for (let e = 0; e < 4; e++) out[r * 4 + e] = v[e] / s;
  }}
  return out;
}};
const judgeFn = async (fractions, rows, settings) => {{
  seen.push(settings ? Array.from(settings.slice(0, 2)) : null);
  const mean = new Float32Array(rows).fill(1000), lower = new Float32Array(rows).fill(900), upper = new Float32Array(rows).fill(1100);
  return {{ mean, lower, upper }};
}};
const result = {{}};
const base = {{ generateFn, judgeFn, metadata, target: [1000], n: 2, seed: 1, candidates: 200 }};
await engine.design({{ ...base, surrogateMetadata: {{ setting_names: ["T"] }}, settings: {{ T: 1000 }} }});
result.withSettings = seen.slice();
seen.length = 0;
await engine.design(base);
result.without = seen.slice();
try {{ await engine.design({{ ...base, surrogateMetadata: {{ setting_names: ["T"] }} }}); }} catch (e) {{ result.missing = [e.field, e.message]; }}
try {{ await engine.design({{ ...base, settings: {{ T: 3 }} }}); }} catch (e) {{ result.unknown = [e.field, e.message]; }}
console.log(JSON.stringify(result));
""")
    done = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["withSettings"] and all(s == [1000, 1000] for s in result["withSettings"])
    assert result["without"] and all(s is None for s in result["without"])  # unchanged: two arguments
    assert result["missing"][0] == "settings" and "give a value for" in result["missing"][1]
    assert result["unknown"][0] == "settings" and "takes no measurement settings" in result["unknown"][1]


def test_the_python_design_engine_fixes_the_settings(model, data, tmp_path):
    pytest.importorskip("onnxruntime")
    from hea_zoo.errors import TargetError
    from hea_zoo.models import train_default_generator
    from hea_zoo.serving import export
    from hea_zoo.serving.design import Designer

    generator = train_default_generator("cae", data, epochs=2, verbose=0)
    assert generator.condition_names == ("ys", "hv", "T") and generator.setting_names == ("T",)
    export.export_model(generator, tmp_path, "cae")
    export.export_model(model, tmp_path, "surrogate")
    assert export.read_onnx_metadata(tmp_path / "cae.onnx")["setting_names"] == ["T"]
    designer = Designer.from_exported("cae", tmp_path)
    assert designer.condition_names == ["ys", "hv"] and designer.setting_names == ["T"]
    target = {"ys": 800.0, "hv": 300.0}
    cold = designer.design(target, n=3, candidates=300, seed=0, settings={"T": 25.0}).table
    result = designer.design(target, n=3, candidates=300, seed=0, settings={"T": 1200.0})
    hot = result.table
    # The designs are judged at the fixed temperature: strength is lower when hot.
    assert cold["ys_surrogate"].mean() - hot["ys_surrogate"].mean() > 100
    from hea_zoo.serving.design import format_table

    header = format_table(result, designer).splitlines()[0]
    assert header.startswith("target: ys = 800 MPa, hv = 300 HV at T = 1200"), header  # the table says at what
    # export --all's generator metrics: the line of properties at the training median of T.
    from hea_zoo.workflows import generator_metrics

    metrics = generator_metrics(generator, data, model, n_per_condition=5, seed=0)
    median = float(np.median(data.train.settings[:, 0]))
    assert f"at T {median:g}" in metrics["protocol"] and "(the training median)" in metrics["protocol"]
    assert np.isfinite(metrics["mape_surrogate_percent"]["ys"]) and metrics["mape_oracle_percent"] is None
    with pytest.raises(UsageError, match="give a value for") as err:
        designer.design(target, n=3, candidates=300, seed=0)
    assert err.value.field == "settings"
    with pytest.raises(TargetError, match="T is a measurement setting"):
        designer.design({**target, "T": 25.0}, n=3, candidates=300, seed=0, settings={"T": 25.0})


def test_a_targets_table_fixes_each_rows_settings(model, data, tmp_path):
    """design_many: a setting column gives each target its own fixed value, and each
    target's rows equal the single design with its seed and that setting."""
    pytest.importorskip("onnxruntime")
    from hea_zoo.models import train_default_generator
    from hea_zoo.serving import export
    from hea_zoo.serving.design import Designer, target_seed

    generator = train_default_generator("cae", data, epochs=2, verbose=0)
    export.export_model(generator, tmp_path, "cae")
    export.export_model(model, tmp_path, "surrogate")
    designer = Designer.from_exported("cae", tmp_path)
    table = pd.DataFrame({"id": ["cold", "hot"], "ys": [800.0, 800.0], "hv": [300.0, 300.0], "T": [25.0, 1200.0]})
    out = tmp_path / "many.csv"
    designer.design_many(table, out, seed=3, workers=0, n=3, candidates=300)
    rows = pd.read_csv(out)
    for target_id, t in (("cold", 25.0), ("hot", 1200.0)):
        single = designer.design({"ys": 800.0, "hv": 300.0}, n=3, candidates=300, seed=target_seed(3, target_id),
                                 settings={"T": t}).table  # fmt: skip
        mine = rows[rows["target_id"] == target_id]
        np.testing.assert_allclose(mine["ys_surrogate"].to_numpy(), single["ys_surrogate"].to_numpy(), rtol=1e-5)
        assert list(mine["formula"]) == list(single["formula"])
    assert rows[rows.target_id == "cold"]["ys_surrogate"].mean() - rows[rows.target_id == "hot"]["ys_surrogate"].mean() > 100
