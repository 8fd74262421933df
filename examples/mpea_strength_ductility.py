"""Strong and ductile alloys from measured data: yield strength and elongation in tension.

The MPEA table (Borg et al., Scientific Data 7, 430 (2020); bundled, Apache-2.0) holds
measured properties from the literature. This example:

1. loads yield strength and elongation from *tension* tests at room temperature (in
   compression, "elongation" is usually the strain at which the test was stopped, a
   censored number, not ductility), with repeated alloys merged by their median and a
   split by composition. Alloys with interstitial additions (C, B, N, O) are left out:
   the source records some as molar ratios ("C1 Co1 Cr1 Fe1 Mn1 Ni1", 16.7 at.% carbon, in a
   paper on small carbon additions), far outside anything else in the table;
2. trains the surrogate (with calibrated 90 % intervals) and a conditional VAE on it;
3. designs alloys for a target (1,000 MPa yield strength with 20 % elongation), judged by
   the surrogate as printed (additions below 2 at.% dropped, rounded to 0.1 at.%, at most
   6 elements), the closest one per alloy system;
4. prints each design with its interval and the nearest measured alloy.

    python examples/mpea_strength_ductility.py

Takes about 5 minutes on 2 cores. HEA_ZOO_EXAMPLE_QUICK=1 runs a smoke version (a few
epochs; numbers not meaningful).
"""

from __future__ import annotations

import os

import numpy as np

from hea_zoo.artifact import formula_strings, printed_fractions, printed_thousandths
from hea_zoo.data.datasets import load_dataset
from hea_zoo.models import train_default_generator, train_default_surrogate

QUICK = os.environ.get("HEA_ZOO_EXAMPLE_QUICK") == "1"
TARGET = {"yield_strength": 1000.0, "elongation": 20.0}
N_DESIGNS = 8
N_CANDIDATES = 4000
INTERSTITIALS = ("B", "C", "N", "O")
MIN_FRACTION = 0.02
MAX_ELEMENTS = 6


def main() -> None:
    data = load_dataset(
        "mpea", properties=["yield_strength", "elongation"], test_type="tension", dropna=True, seed=0
    )
    for note in data.notes:  # what loading did: rows dropped, repeated alloys merged
        print(f"load_dataset: {note}")
    columns = [data.elements.index(e) for e in INTERSTITIALS if e in data.elements]
    metallic = np.flatnonzero(data.compositions[:, columns].sum(axis=1) == 0)
    print(f"left out {len(data) - len(metallic)} alloys with interstitial additions ({', '.join(INTERSTITIALS)})")
    data = data.subset(metallic, "mpea tension").resplit(test_fraction=0.2, seed=0)
    print(
        f"MPEA tension tests at room temperature: {len(data)} alloys over {len(data.elements)} "
        f"elements; {data.alloys_in(data.train_index)} train / {data.alloys_in(data.test_index)} "
        "test, no composition in both."
    )
    for j, (name, unit) in enumerate(zip(data.property_names, data.property_units)):
        v = data.properties[:, j]
        print(f"  {name} [{unit}]: {v.min():.4g} to {v.max():.4g} (median {np.median(v):.4g})")

    surrogate = train_default_surrogate(data, epochs=20 if QUICK else None, seed=0)
    scores = surrogate.score(data.test.compositions, data.test.properties)
    how = (
        f"intervals calibrated on {surrogate.calibration_size} others"
        if surrogate.calibration_folds == 0
        else f"intervals from {surrogate.calibration_folds}-fold cross-conformal scores of its "
        f"{surrogate.calibration_size} training alloys"
    )
    print(f"\nsurrogate, held out ({len(data.test_index)} alloys it never saw; {how}):")
    for name, s in scores.items():
        print(
            f"  {name}: R2 {s['r2']:.2f}, MAPE {s['mape']:.0f} %, 90 % interval holds "
            f"{100 * s['interval_coverage']:.0f} % (mean width {s['interval_width']:.4g})"
        )

    unseen = [e for j, e in enumerate(data.elements)
              if data.train.compositions[:, j].max() == 0 < data.compositions[:, j].max()]  # fmt: skip
    if unseen:
        print(f"  (in no training alloy, so beyond what the surrogate can judge: {', '.join(unseen)})")

    generator = train_default_generator("cvae", data, epochs=60 if QUICK else None, seed=0)
    target = np.array([[TARGET[n] for n in data.property_names]], dtype=np.float32)
    candidates = generator.generate(target, n_per_condition=N_CANDIDATES, seed=0)[0]
    # Judge what a metallurgist would make: the printed composition.
    printed = printed_fractions(candidates, threshold=MIN_FRACTION)
    printed = printed[np.all(np.isfinite(printed), axis=1) & ((printed > 0).sum(axis=1) <= MAX_ELEMENTS)]
    printed = np.unique(printed, axis=0)
    mean, lower, upper = surrogate.predict_interval(printed)
    error = np.max(np.abs(mean - target) / target, axis=1)
    order = np.argsort(error, kind="stable")
    chosen, systems = [], set()
    for i in order:  # the closest first, one per alloy system, for variety
        system = tuple(np.flatnonzero(printed[i] > 0))
        if system not in systems:
            chosen.append(i)
            systems.add(system)
        if len(chosen) == N_DESIGNS:
            break
    chosen = np.array(chosen)
    formulas = formula_strings(printed_thousandths(printed[chosen])[0], data.elements)
    distance = np.abs(printed[chosen][:, None, :] - data.compositions[None, :, :]).sum(axis=-1) / 2
    nearest = distance.argmin(axis=1)

    ys, el = data.property_names
    print(
        f"\n{len(chosen)} designs for {ys} {TARGET[ys]:.0f} MPa and {el} {TARGET[el]:.0f} % "
        f"(of {len(printed)} distinct printed candidates; surrogate mean [90 % interval]):"
    )
    for k, i in enumerate(chosen):
        n = nearest[k]
        print(
            f"{k + 1:2d}. {formulas[k]:<40s} {ys} {mean[i, 0]:6.0f} [{lower[i, 0]:.0f}, {upper[i, 0]:.0f}] MPa, "
            f"{el} {mean[i, 1]:5.1f} [{lower[i, 1]:.1f}, {upper[i, 1]:.1f}] %"
        )
        print(
            f"    nearest measured alloy: {data.formulas[n]} ({100 * distance[k, n]:.0f} at.% away): "
            f"{ys} {data.properties[n, 0]:.0f} MPa, {el} {data.properties[n, 1]:.1f} %"
        )
    print(
        "\nThe intervals are wide because the data are few and scattered: read them as what "
        "the measurements support, and test the designs closest to measured alloys first."
    )


if __name__ == "__main__":
    main()
