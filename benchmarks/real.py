"""The default surrogate on measured data: every MPEA property, group and leave-one-system-out splits.

    python benchmarks/run.py --only real [--real-splits 20] [--real-properties hardness,yield_strength]
        [--real-loso-elements Al,Ti,...] [--real-kinds group,loso] [--real-models hea_zoo,rf,rf_descriptors,gp]

Per property of the bundled MPEA table (`PROPERTIES`: the selection `load_dataset("mpea", ...)`
is given; repeats merged by median, rows without the property left out), two kinds of split:

- ``group``: `real_splits` seeded group splits (seeds ``seed .. seed + real_splits - 1``, a
  fifth of the distinct alloys held out; an alloy's rows never straddle train and test);
- ``loso`` (leave one system out): for each element X of `real_loso_elements`, every alloy
  holding X is held out and the models train on the others; only the elements that leave at
  least `MIN_TEST` test and `MIN_TRAIN` training alloys are run (the others are listed).

On the same splits, four models (`MODELS`):

- ``hea_zoo``: `train_default_surrogate` with the default recipe (seed = the split's seed),
  scored with its calibrated 90 % interval (`Surrogate.predict_interval`); its training
  seconds (calibration included) are measured;
- ``rf``: scikit-learn ``RandomForestRegressor(real_trees)`` on the fractions (+ the setting);
- ``rf_descriptors``: the same forest on the fractions + composition features: matminer's
  Magpie ElementProperty + YangSolidSolution when matminer is importable, otherwise
  hea_zoo's own (`descriptor_features`: the exact descriptors of `hea_zoo.data.descriptors`
  and the fraction-weighted mean and deviation of every tabulated element property of
  `hea_zoo.data.elements`);
- ``gp``: ``GaussianProcessRegressor(Matern(nu=2.5) + WhiteKernel, normalize_y=True)`` on the
  standardized fractions (+ setting); its 90 % interval is mean ± 1.645 sd.

Metrics per (property, kind, model), over the splits: mean ± sd of the held-out R² and MAPE
(rows with a nonzero value), and for hea_zoo and the GP the 90 % interval's coverage and mean
width. Each (property, split, model) result is cached (held-out values and predictions) under
``<out>/real_cache/`` with a hash of what it depends on, so the study can be run in pieces
(e.g. one property per run) and a last run with everything selected writes the whole report
from the cache. scikit-learn is a bench-only dependency (``pip install -e .[bench]``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

CACHE = "real_cache"
CODE = ("hea_zoo/models/surrogate", "hea_zoo/models/base.py", "hea_zoo/models/calibration.py",
        "hea_zoo/models/defaults.py", "hea_zoo/models/training.py", "hea_zoo/data", "hea_zoo/constants.py",
        "hea_zoo/artifact.py")  # fmt: skip
"""The hea_zoo code a default-surrogate fit depends on (relative to the repository): its
fingerprint (`benchmarks.run.code_fingerprint`) is stored with every hea_zoo fit, and the
report counts the fits that ran on other code or before fingerprints were kept."""
Z90 = 1.6448536269514722  # the standard normal's 95th percentile: mean ± Z90 sd holds 90 %
FULL_SPLITS = 20  # `Settings.full().real_splits`
MIN_TEST, MIN_TRAIN = 10, 30  # alloys a leave-one-system-out split needs on each side

#: property -> the `load_dataset("mpea", ...)` selection (besides properties and seed).
PROPERTIES: dict[str, dict[str, Any]] = {
    "hardness": {},
    "yield_strength": {"settings": ["test_temperature"], "test_type": "compression"},
    "ultimate_strength": {},
    "elongation": {"test_type": "tension"},
    "youngs_modulus_exp": {},
    "density_exp": {},
}

#: The most common elements of the table, in the order that seeds their leave-one-system-out splits.
LOSO_ELEMENTS: tuple[str, ...] = ("Al", "Ti", "Cr", "Mo", "Nb", "Ta", "V", "W", "Zr", "Hf")

MODELS = ("hea_zoo", "rf", "rf_descriptors", "gp")
INTERVAL_MODELS = ("hea_zoo", "gp")


def _matminer() -> bool:
    return importlib.util.find_spec("matminer") is not None


def model_labels(trees: int) -> dict[str, str]:
    features = "Magpie + YangSolidSolution (matminer)" if _matminer() else "hea_zoo descriptors"
    return {
        "hea_zoo": "hea_zoo surrogate (default recipe)",
        "rf": f"RandomForest({trees}), fractions",
        "rf_descriptors": f"RandomForest({trees}), fractions + {features}",
        "gp": "GP (Matern + White), standardized fractions",
    }


def selection_text(prop: str) -> str:
    kw = PROPERTIES[prop]
    parts = [f"test type {kw['test_type']}" if "test_type" in kw else "both test types"]
    parts.append("every test temperature, temperature as a setting" if kw.get("settings") else "room temperature")
    return ", ".join(parts)


# --------------------------------------------------------------------------- data and splits


def load(prop: str):
    import hea_zoo

    kw = dict(PROPERTIES[prop])
    return hea_zoo.load_dataset("mpea", properties=[prop], seed=0, verbose=False, **kw)


def splits(data, kind: str, settings) -> tuple[list[dict], list[dict]]:
    """``(run, skipped)``: the splits of one kind, each ``{"name", "seed", "train", "test"}``
    (row indices); skipped: the leave-one-system-out elements left out and why."""
    out, skipped = [], []
    if kind == "group":
        for i in range(int(settings.real_splits)):
            seed = int(settings.seed) + i
            d = data.resplit(test_fraction=0.2, seed=seed)
            out.append({"name": f"seed{seed:03d}", "seed": seed, "train": d.train_index, "test": d.test_index})
        return out, skipped
    comps = np.asarray(data.compositions)
    for element in settings.real_loso_elements:
        if element not in data.elements:
            skipped.append({"element": element, "test_alloys": 0, "train_alloys": data.n_alloys, "reason": "absent"})
            continue
        holds = comps[:, data.elements.index(element)] > 0
        test, train = np.flatnonzero(holds), np.flatnonzero(~holds)
        n_test, n_train = data.alloys_in(test) if test.size else 0, data.alloys_in(train) if train.size else 0
        if n_test < MIN_TEST or n_train < MIN_TRAIN:
            skipped.append({"element": element, "test_alloys": n_test, "train_alloys": n_train,
                            "reason": f"needs >= {MIN_TEST} test and >= {MIN_TRAIN} training alloys"})  # fmt: skip
            continue
        out.append({"name": f"without_{element}", "seed": loso_seed(element, settings.seed), "train": train, "test": test})
    return out, skipped


def loso_seed(element: str, seed: int = 0) -> int:
    """The models' seed when `element`'s alloys are held out: ``seed`` + its place in
    `LOSO_ELEMENTS` (then in `KNOWN_ELEMENTS`), the same whatever list is selected (so a
    cached fit is found again when the study runs in pieces)."""
    from hea_zoo.data.elements import KNOWN_ELEMENTS

    order = LOSO_ELEMENTS + tuple(e for e in KNOWN_ELEMENTS if e not in LOSO_ELEMENTS)
    return int(seed) + (order.index(element) if element in order else len(order))


def with_split(data, split: dict):
    import dataclasses

    return dataclasses.replace(data, train_index=np.asarray(split["train"], np.int64),
                               test_index=np.asarray(split["test"], np.int64), _subsets={})  # fmt: skip


# --------------------------------------------------------------------------- features


def descriptor_features(compositions, elements) -> tuple[np.ndarray, list[str]]:
    """Composition features from hea_zoo's own tables (or matminer's Magpie + Yang when installed).

    hea_zoo: the exact descriptors (`hea_zoo.data.descriptors.compute_descriptors`: density,
    vec, delta, dhmix, omega (as log10), tm) and, per tabulated element property
    (`hea_zoo.data.elements.PROPERTY_COLUMNS`), the fraction-weighted mean and deviation
    ``sqrt(sum c_i (v_i - mean)^2)``. NaN where an element lacks a value (left to the caller).
    """
    x = np.asarray(compositions, np.float64)
    if _matminer():  # pragma: no cover - matminer is not a dependency
        return _matminer_features(x, elements)
    from hea_zoo.data.descriptors import compute_descriptors
    from hea_zoo.data.elements import PROPERTY_COLUMNS, element_property

    cols, names = [], []
    with np.errstate(all="ignore"):
        for name, values in compute_descriptors(x, elements).items():
            v = np.asarray(values, np.float64)
            if name == "omega":
                v = np.log10(np.where(np.isinf(v), 1e6, np.maximum(v, 1e-6)))
            cols.append(v)
            names.append(name)
        for prop in PROPERTY_COLUMNS:
            v = element_property(prop, list(elements))
            present = x > 0
            known = np.where(np.isnan(v), 0.0, v)
            lacks = (present & np.isnan(v)[None, :]).any(axis=1)
            mean = x @ known
            dev = np.sqrt((x * (known[None, :] - mean[:, None]) ** 2).sum(axis=1))
            cols += [np.where(lacks, np.nan, mean), np.where(lacks, np.nan, dev)]
            names += [f"mean_{prop}", f"dev_{prop}"]
    return np.stack(cols, axis=1), names


def _matminer_features(x, elements):  # pragma: no cover - matminer is not a dependency
    from matminer.featurizers.composition import ElementProperty, YangSolidSolution
    from pymatgen.core import Composition

    magpie, yang = ElementProperty.from_preset("magpie"), YangSolidSolution()
    rows = []
    for row in x:
        comp = Composition({e: float(f) for e, f in zip(elements, row) if f > 0})
        rows.append(list(magpie.featurize(comp)) + list(yang.featurize(comp)))
    return np.asarray(rows, np.float64), list(magpie.feature_labels()) + list(yang.feature_labels())


def _impute(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN (an element without a tabulated value) -> the training column's median (0 if none)."""
    med = np.nanmedian(np.where(np.isfinite(train), train, np.nan), axis=0) if train.size else np.zeros(train.shape[1])
    med = np.where(np.isfinite(med), med, 0.0)
    fix = lambda a: np.where(np.isfinite(a), a, med[None, :])  # noqa: E731
    return fix(train), fix(test)


# --------------------------------------------------------------------------- models


def fit_predict(model: str, data, split: dict, settings) -> dict:
    """One model on one split: held-out values, predictions (and interval ends), seconds."""
    train, test = data.train, data.test
    y_train, y_test = train.properties[:, 0].astype(np.float64), test.properties[:, 0].astype(np.float64)
    xs = lambda d: np.hstack([d.compositions, d.settings]).astype(np.float64)  # noqa: E731
    out: dict[str, Any] = {"y": y_test.tolist()}
    start = time.perf_counter()
    if model == "hea_zoo":
        import keras

        from hea_zoo.models import train_default_surrogate

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sur = train_default_surrogate(data, seed=split["seed"], verbose=0, epochs=settings.real_epochs,
                                          calibration_folds=settings.real_calibration_folds)  # fmt: skip
        out["train_seconds"] = time.perf_counter() - start
        s = test.settings if data.n_settings else None
        if sur.is_calibrated:
            mean, lower, upper = sur.predict_interval(test.compositions, settings=s)
            out.update(lower=lower[:, 0].tolist(), upper=upper[:, 0].tolist())
        else:
            mean, _ = sur.predict_with_uncertainty(test.compositions, settings=s)
        out["pred"] = np.asarray(mean, np.float64)[:, 0].tolist()
        del sur
        keras.backend.clear_session()
    elif model in ("rf", "rf_descriptors"):
        from sklearn.ensemble import RandomForestRegressor

        a, b = xs(train), xs(test)
        if model == "rf_descriptors":
            fa, _ = descriptor_features(train.compositions, data.elements)
            fb, _ = descriptor_features(test.compositions, data.elements)
            fa, fb = _impute(fa, fb)
            a, b = np.hstack([a, fa]), np.hstack([b, fb])
        rf = RandomForestRegressor(n_estimators=int(settings.real_trees), random_state=split["seed"], n_jobs=1)
        rf.fit(a, y_train)
        out["pred"] = rf.predict(b).tolist()
    elif model == "gp":
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(xs(train))
        kernel = ConstantKernel(1.0) * Matern(length_scale=3.0, nu=2.5) + WhiteKernel(0.1)
        gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True, random_state=split["seed"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gp.fit(scaler.transform(xs(train)), y_train)
        mean, sd = gp.predict(scaler.transform(xs(test)), return_std=True)
        out.update(pred=mean.tolist(), lower=(mean - Z90 * sd).tolist(), upper=(mean + Z90 * sd).tolist())
    else:
        raise ValueError(f"unknown model {model!r}; valid: {', '.join(MODELS)}")
    out["seconds"] = time.perf_counter() - start
    return out


def metrics(r: dict) -> dict:
    y, p = np.asarray(r["y"], np.float64), np.asarray(r["pred"], np.float64)
    ss = float(np.sum((y - y.mean()) ** 2))
    nz = np.abs(y) > 1e-12
    m = {"r2": 1.0 - float(np.sum((y - p) ** 2)) / ss if ss > 0 else float("nan"),
         "mape": float(np.mean(np.abs(p[nz] - y[nz]) / np.abs(y[nz])) * 100) if nz.any() else float("nan"),
         "n": int(y.size)}  # fmt: skip
    if "lower" in r:
        lo, hi = np.asarray(r["lower"], np.float64), np.asarray(r["upper"], np.float64)
        m["coverage"] = float(np.mean((y >= lo) & (y <= hi)))
        m["width"] = float(np.mean(hi - lo))
    return m


# --------------------------------------------------------------------------- cache


def _config(prop: str, model: str, split: dict, settings, split_data=None) -> str:
    """The cache key of one fit; `split_data`: the table with this split (for hea_zoo: the
    recipe and descriptors the default surrogate uses on it)."""
    c = {"property": prop, "selection": PROPERTIES[prop], "model": model, "seed": split["seed"],
         "test": [int(i) for i in split["test"]], "rows": len(split["train"]) + len(split["test"])}  # fmt: skip
    if model == "hea_zoo":
        c["epochs"] = settings.real_epochs
        if settings.real_calibration_folds is not None:  # (the default leaves the cached keys as they were)
            c["calibration_folds"] = settings.real_calibration_folds
        if split_data is not None:  # what the default recipe is on this split's table
            from hea_zoo.models import SURROGATE_DEFAULTS
            from hea_zoo.models.defaults import surrogate_recipe
            from hea_zoo.models.surrogate import resolve_descriptors

            from hea_zoo.models import calibration

            c["descriptors"] = list(resolve_descriptors("auto", tuple(split_data.elements)))
            # intervals that widen with distance (keys of fits before them lack this)
            c["intervals"] = [calibration.INTERVAL_METHOD, calibration.DISTANCE_PRIOR_SD,
                              list(calibration.DISTANCE_POWER_RANGE), calibration.DISTANCE_FOLDS,
                              calibration.DISTANCE_FOLD_EPOCHS]  # fmt: skip
            small = surrogate_recipe(split_data)["small_table"]
            recipe = {k: v for k, v in SURROGATE_DEFAULTS["small_table"].items() if k not in ("max_alloys", "physical_priors")}
            c["small_table_recipe"] = recipe if small else False
            if small and SURROGATE_DEFAULTS["small_table"].get("physical_priors"):
                from hea_zoo.models.surrogate.priors import auto_priors

                priors = auto_priors(split_data.property_names, split_data.property_units, split_data.elements)
                if any(priors):  # (keys of fits without a prior are as they were before priors)
                    c["priors"] = list(priors)
    elif model.startswith("rf"):
        c["trees"] = int(settings.real_trees)
        c["matminer"] = model == "rf_descriptors" and _matminer()
    return hashlib.sha256(json.dumps(c, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cache_path(out: Path, prop: str, kind: str, split: str, model: str) -> Path:
    return Path(out) / CACHE / prop / kind / split / f"{model}.json"


def cached_or_run(out: Path, prop: str, kind: str, data, split: dict, model: str, settings) -> tuple[dict, bool]:
    """The cached result when its configuration matches, else a new fit (stored)."""
    from hea_zoo.files import write_text

    split_data = with_split(data, split)
    path, key = _cache_path(out, prop, kind, split["name"], model), _config(prop, model, split, settings, split_data)
    if path.exists():
        try:
            record = json.loads(path.read_text())
            if record.get("config") == key:
                return record, True
        except (OSError, ValueError):
            pass
    record = dict(fit_predict(model, split_data, split, settings), config=key)
    if model == "hea_zoo":
        from benchmarks.run import code_fingerprint

        record["code"] = code_fingerprint(CODE)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(record) + "\n")
    return record, False


# --------------------------------------------------------------------------- the study


def _summary(values) -> dict:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], np.float64)
    if not v.size:
        return {"mean": None, "sd": None, "n": 0}
    return {"mean": round(float(v.mean()), 4), "sd": round(float(v.std()), 4), "n": int(v.size)}


def run(settings, context) -> dict:
    """`python benchmarks/run.py --only real`."""
    unknown = [p for p in settings.real_properties if p not in PROPERTIES]
    if unknown:
        raise ValueError(f"real_properties: unknown {unknown}; valid: {', '.join(PROPERTIES)}")
    bad = [m for m in settings.real_models if m not in MODELS]
    if bad:
        raise ValueError(f"real_models: unknown {bad}; valid: {', '.join(MODELS)}")
    bad = [k for k in settings.real_kinds if k not in ("group", "loso")]
    if bad:
        raise ValueError(f"real_kinds: unknown {bad}; valid: group, loso")
    out = Path(context.out)
    record: dict[str, Any] = {"labels": model_labels(int(settings.real_trees)), "matminer": _matminer(),
                              "min_test_alloys": MIN_TEST, "min_train_alloys": MIN_TRAIN, "properties": []}  # fmt: skip
    fitted = reused = 0
    hea_zoo_fits: list[dict] = []
    for prop in settings.real_properties:
        data = load(prop)
        entry: dict[str, Any] = {"property": prop, "unit": data.property_units[0], "selection": selection_text(prop),
                                 "alloys": data.n_alloys, "rows": len(data), "settings": list(data.setting_names),
                                 "kinds": {}}  # fmt: skip
        for kind in settings.real_kinds:
            run_splits, skipped = splits(data, kind, settings)
            per_model: dict[str, list] = {m: [] for m in settings.real_models}
            seconds: list[float] = []
            split_seconds: list[float] = []
            for split in run_splits:
                split_seconds.append(0.0)
                for model in settings.real_models:
                    r, hit = cached_or_run(out, prop, kind, data, split, model, settings)
                    reused += hit
                    fitted += not hit
                    m = metrics(r)
                    split_seconds[-1] += float(r["seconds"])
                    per_model[model].append(m)
                    if model == "hea_zoo":
                        seconds.append(float(r["train_seconds"]))
                        hea_zoo_fits.append(r)
                    print(f"  [real] {prop} {kind} {split['name']} {model}: R2 {m['r2']:.3f}, MAPE {m['mape']:.1f} %"
                          + (f", 90 % interval {100 * m['coverage']:.0f} %" if "coverage" in m else "")
                          + (" (cached)" if hit else f" ({r['seconds']:.1f} s)"), flush=True)  # fmt: skip
            models = {}
            for model, ms in per_model.items():
                models[model] = {"r2": _summary([m["r2"] for m in ms]), "mape": _summary([m["mape"] for m in ms])}
                if model in INTERVAL_MODELS:
                    models[model]["coverage"] = _summary([m.get("coverage") for m in ms])
                    models[model]["width"] = _summary([m.get("width") for m in ms])
            entry["kinds"][kind] = {
                "splits": [s["name"] for s in run_splits],
                "test_alloys": [data.alloys_in(s["test"]) for s in run_splits],
                "skipped": skipped,
                "models": models,
                "per_split": {m: [round(x["r2"], 4) for x in ms] for m, ms in per_model.items()},
                "hea_zoo_train_seconds_median": round(float(np.median(seconds)), 1) if seconds else None,
                "hea_zoo_train_seconds": [round(s, 1) for s in seconds],
                # every selected model's fit and prediction on one split (as measured when it ran)
                "split_seconds_median": round(float(np.median(split_seconds)), 1) if split_seconds else None,
            }
        record["properties"].append(entry)
    record["fits"] = {"run": int(fitted), "from_cache": int(reused)}
    if hea_zoo_fits:
        from benchmarks.run import code_counts, code_fingerprint

        record["fits"]["hea_zoo_code"] = code_counts(hea_zoo_fits, code_fingerprint(CODE))
    record["targets"] = targets(record)
    return record


def _code_line(counts: dict | None) -> list[str]:
    """The sentence on the code the hea_zoo fits ran on (`benchmarks.run.code_sentence`)."""
    from benchmarks.run import code_sentence

    return code_sentence(counts, f"Of the {sum(counts.values())} hea_zoo fits" if counts else "", "benchmarks.real.CODE")


def _best_baseline(models: dict) -> tuple[str | None, float | None]:
    best = [(v["r2"]["mean"], m) for m, v in models.items() if m != "hea_zoo" and v["r2"]["mean"] is not None]
    if not best:
        return None, None
    r2, m = max(best)
    return m, r2


def targets(record: dict) -> list[dict]:
    """The issue's targets, each met or not from the numbers (None: not measured in this run)."""
    rows = []

    def add(target, measured, met):
        rows.append({"target": target, "measured": measured, "met": met})

    for e in record["properties"]:
        p = e["property"]
        for kind, margin in (("group", 0.0), ("loso", 0.05)):
            k = e["kinds"].get(kind)
            if k is None or "hea_zoo" not in k["models"]:
                continue
            ours = k["models"]["hea_zoo"]["r2"]["mean"]
            name, best = _best_baseline(k["models"])
            label = "group splits: hea_zoo mean R² >= best baseline" if kind == "group" else \
                "leave-one-system-out: hea_zoo mean R² within 0.05 of the best baseline"  # fmt: skip
            if ours is None or best is None:
                add(f"{p}, {label}", "not measured", None)
            else:
                add(f"{p}, {label}", f"{ours:.3f} vs {best:.3f} ({name})", ours >= best - margin)
            cov = k["models"]["hea_zoo"].get("coverage", {}).get("mean")
            lo, hi = (0.85, 0.95) if kind == "group" else (0.80, 1.0)
            text = "90 % interval covers 85-95 % on group splits" if kind == "group" else \
                "90 % interval covers >= 80 % on leave-one-system-out"  # fmt: skip
            add(f"{p}, {text}", "not measured" if cov is None else f"{100 * cov:.1f} %",
                None if cov is None else lo <= cov <= hi)
        g = e["kinds"].get("group")
        if g and "hea_zoo" in g["models"]:
            if p == "yield_strength":
                r2 = g["models"]["hea_zoo"]["r2"]["mean"]
                add("yield_strength with test temperature, group splits: hea_zoo mean R² >= 0.75",
                    "not measured" if r2 is None else f"{r2:.3f}", None if r2 is None else r2 >= 0.75)
            sec = g["hea_zoo_train_seconds_median"]
            add(f"{p}, hea_zoo training < 30 s (median, group splits)", "not measured" if sec is None else f"{sec:.1f} s",
                None if sec is None else sec < 30)  # fmt: skip
    return rows


# --------------------------------------------------------------------------- report


def _fmt(v, digits=2, scale=1.0, suffix=""):
    return "n/a" if v is None else f"{scale * v:.{digits}f}{suffix}"


def _cell(m: dict, interval: bool) -> str:
    r2, mape = m["r2"], m["mape"]
    text = f"R² {_fmt(r2['mean'])} ± {_fmt(r2['sd'])}; MAPE {_fmt(mape['mean'], 1)} ± {_fmt(mape['sd'], 1)} %"
    if interval:
        c, w = m["coverage"], m["width"]
        digits = 3 if (w["mean"] or 0) < 10 else 0
        text += f"; 90 %: {_fmt(c['mean'], 1, 100)} ± {_fmt(c['sd'], 1, 100)} % (width {_fmt(w['mean'], digits)})"
    return text


def markdown(record: dict) -> str:
    s = record["settings"]
    labels = record["labels"]
    models = list(s["real_models"])
    lines = [
        "# Measured data: the default surrogate against baselines on every MPEA property",
        "",
        f"Command: `{record['command']}` ({record['date']}, {record['seconds']:.0f} s wall, load average "
        f"{record['machine']['load_average']} on {record['machine']['cores']} cores; {record['fits']['run']} fits run, "
        f"{record['fits']['from_cache']} read from `real_cache/`).",
        "",
        *_code_line(record["fits"].get("hea_zoo_code")),
        f"Settings: {', '.join(f'{k}={v}' for k, v in s.items())}."
        + (" **A tiny run: the numbers mean nothing.**" if record.get("tiny") else ""),
        "",
        f"Group splits run per property: {s['real_splits']}" + (" (the full study runs 20; this is a reduced run)"
                                                                  if s["real_splits"] < FULL_SPLITS else "") + ". "
        "Group splits: a fifth of the distinct alloys held out, seeds "
        f"{s['seed']}..{s['seed'] + s['real_splits'] - 1} (repeats of an alloy never straddle train and test). "
        "Leave one system out: every alloy holding the element is held out; only elements leaving "
        f">= {record['min_test_alloys']} test and >= {record['min_train_alloys']} training alloys are run. "
        "Each cell: mean ± sd over the splits of the held-out R² and MAPE, and for hea_zoo and the GP the share of "
        "held-out rows inside the 90 % interval (hea_zoo: its calibrated interval; GP: mean ± 1.645 sd) and its "
        "mean width (property units).",
        "",
        "Models: " + "; ".join(f"`{m}` = {labels[m]}" for m in models) + ". Inputs: the fractions, plus the test "
        "temperature where the property has it as a setting.",
        "",
        "| property | selection | alloys | rows | unit |",
        "|---|---|---|---|---|",
    ]
    for e in record["properties"]:
        lines.append(f"| {e['property']} | {e['selection']} | {e['alloys']} | {e['rows']} | {e['unit']} |")
    if "density_exp" not in [e["property"] for e in record["properties"]]:
        lines += ["", "Density (`density_exp`, measured) was not selected in this run."]
    lines.append("")
    for kind, title in (("group", "Group splits"), ("loso", "Leave one system out")):
        entries = [e for e in record["properties"] if kind in e["kinds"]]
        if not entries:
            continue
        lines += [f"## {title}", "",
                  "| property | splits run | " + " | ".join(labels[m] for m in models)
                  + " | hea_zoo training s (median) | one split, all models, s (median) |",
                  "|---" * (len(models) + 4) + "|"]  # fmt: skip
        for e in entries:
            k = e["kinds"][kind]
            n = len(k["splits"])
            held = ", ".join(x.replace("without_", "") for x in k["splits"])
            what = str(n) if kind == "group" or not n else f"{n}: {held}"
            cells = [_cell(k["models"][m], m in INTERVAL_MODELS) for m in models]
            sec = k["hea_zoo_train_seconds_median"]
            lines.append(f"| {e['property']} | {what} | " + " | ".join(cells)
                         + f" | {_fmt(sec, 1)} | {_fmt(k.get('split_seconds_median'), 1)} |")
        if kind == "loso":
            lines.append("")
            for e in entries:
                sk = e["kinds"][kind]["skipped"]
                if sk:
                    lines.append(f"- {e['property']}: not held out: " + ", ".join(
                        f"{x['element']} ({x['test_alloys']} test / {x['train_alloys']} train alloys)" for x in sk) + ".")
        lines.append("")
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for t in record["targets"]:
        met = "not measured" if t["met"] is None else ("met" if t["met"] else "not met")
        lines.append(f"| {t['target']} | {t['measured']} | {met} |")
    lines.append("")
    return "\n".join(lines) + "\n"
