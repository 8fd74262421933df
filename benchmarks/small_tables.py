"""Small measured tables: the default surrogate against a random forest, on group splits.

    python benchmarks/small_tables.py [--properties youngs_modulus_exp,elongation] [--splits 5]
    python benchmarks/small_tables.py --properties yield_strength --settings test_temperature --test-type compression

For each MPEA property (room temperature, both test types, repeats merged by median), the
table is split by composition group (`load_dataset(..., seed=s)`, a fifth held out) for
seeds 0 .. splits-1; on each split the default surrogate (`train_default_surrogate`) and a
scikit-learn ``RandomForestRegressor(n_estimators=500)`` on the atomic fractions are trained
on the training alloys and scored (R²) on the held-out ones. scikit-learn is a bench-only
dependency (`pip install -e .[bench]`). Prints one Markdown row per property.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def r2(y, p):
    y, p = np.asarray(y, float), np.asarray(p, float)
    return 1.0 - float(np.sum((y - p) ** 2)) / float(np.sum((y - y.mean()) ** 2))


def run(properties, splits, epochs=None, settings=(), test_type=None):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--properties", default="youngs_modulus_exp,elongation")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--settings", default="", help="comma-separated settings (test_temperature): inputs of both models")
    parser.add_argument("--test-type", default=None, choices=("compression", "tension"))
    parser.add_argument("--small", action="append", default=[], metavar="KEY=VALUE",
                        help="override a value of the small-table recipe (SURROGATE_DEFAULTS['small_table'])")
    args = parser.parse_args()
    if args.small:
        import ast

        from hea_zoo.models.defaults import SURROGATE_DEFAULTS

        for item in args.small:
            key, _, value = item.partition("=")
            SURROGATE_DEFAULTS["small_table"][key] = ast.literal_eval(value)
        print("small-table recipe:", SURROGATE_DEFAULTS["small_table"])
    run([p.strip() for p in args.properties.split(",") if p.strip()], args.splits, args.epochs,
        [s.strip() for s in args.settings.split(",") if s.strip()], args.test_type)


if __name__ == "__main__":
    main()
