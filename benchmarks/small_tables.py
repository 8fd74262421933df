"""Small measured tables: the default surrogate against a random forest, on group splits.

    python benchmarks/run.py --only small_tables [--small_splits 5] [--small_properties youngs_modulus_exp,elongation]

`compare(properties, splits, settings=("test_temperature",), test_type="compression")` runs
the same comparison with settings as inputs of both models.

For each MPEA property (room temperature, both test types, repeats merged by median), the
table is split by composition group (`load_dataset(..., seed=s)`, a fifth held out) for
seeds 0 .. splits-1; on each split the default surrogate (`train_default_surrogate`) and a
scikit-learn ``RandomForestRegressor(n_estimators=500)`` on the atomic fractions are trained
on the training alloys and scored (R²) on the held-out ones. scikit-learn is a bench-only
dependency (`pip install -e .[bench]`).
"""

from __future__ import annotations

import time
import warnings

import numpy as np


def r2(y, p):
    y, p = np.asarray(y, float), np.asarray(p, float)
    return 1.0 - float(np.sum((y - p) ** 2)) / float(np.sum((y - y.mean()) ** 2))


def compare(properties, splits, epochs=None, settings=(), test_type=None):
    import hea_zoo
    from hea_zoo.models import train_default_surrogate
    from sklearn.ensemble import RandomForestRegressor

    rows = []
    for prop in properties:
        ours, forest, seconds = [], [], []
        n_alloys = None
        for seed in range(splits):
            ds = hea_zoo.load_dataset("mpea", properties=[prop], seed=seed, verbose=False, settings=list(settings) or None,
                                      test_type=test_type)  # fmt: skip
            n_alloys = ds.n_alloys
            train, test = ds.train, ds.test
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = train_default_surrogate(ds, seed=seed, verbose=0, epochs=epochs)
            seconds.append(time.perf_counter() - start)
            mean, _ = model.predict_with_uncertainty(test.compositions, settings=test.settings if settings else None)
            ours.append(r2(test.properties[:, 0], mean[:, 0]))
            rf = RandomForestRegressor(n_estimators=500, random_state=seed, n_jobs=1)
            rf.fit(np.hstack([train.compositions, train.settings]), train.properties[:, 0])  # the settings as inputs too
            forest.append(r2(test.properties[:, 0], rf.predict(np.hstack([test.compositions, test.settings]))))
            print(f"  {prop} split {seed}: surrogate R2 {ours[-1]:.3f} ({seconds[-1]:.1f} s), forest R2 {forest[-1]:.3f}",
                  flush=True)  # fmt: skip
        rows.append((prop, n_alloys, np.mean(ours), np.std(ours), np.mean(forest), np.std(forest), np.mean(seconds)))
    print("| property | alloys | splits | hea_zoo surrogate R² | RandomForest(500), fractions R² | surrogate training s |")
    print("|---|---|---|---|---|---|")
    for prop, n, mo, so, mf, sf, sec in rows:
        print(f"| {prop} | {n} | {splits} | {mo:.2f} ± {so:.2f} | {mf:.2f} ± {sf:.2f} | {sec:.1f} |")
    return rows


def run(settings, context) -> dict:
    """`python benchmarks/run.py --only small_tables`."""
    rows = compare(list(settings.small_properties), int(settings.small_splits), settings.small_epochs)
    keys = ("property", "alloys", "surrogate_r2_mean", "surrogate_r2_sd", "forest_r2_mean", "forest_r2_sd", "seconds")
    return {"rows": [dict(zip(keys, [r[0], int(r[1]), *(round(float(v), 4) for v in r[2:])])) for r in rows]}


def markdown(record: dict) -> str:
    lines = [
        "# Small tables: the default surrogate against a random forest",
        "",
        f"Command: `{record['command']}` ({record['date']}, {record['seconds']:.0f} s). MPEA, room temperature, "
        f"group splits seeded 0..{record['settings']['small_splits'] - 1}, mean R² ± sd on the held-out alloys.",
        "",
        "| property | alloys | hea_zoo surrogate R² | RandomForest(500), fractions R² | surrogate training s |",
        "|---|---|---|---|---|",
    ]
    for r in record["rows"]:
        lines.append(f"| {r['property']} | {r['alloys']} | {r['surrogate_r2_mean']:.2f} ± {r['surrogate_r2_sd']:.2f} | "
                     f"{r['forest_r2_mean']:.2f} ± {r['forest_r2_sd']:.2f} | {r['seconds']:.1f} |")  # fmt: skip
    return "\n".join(lines) + "\n"
