"""`Designer`: the exported models (generator, surrogate, log-density) opened with
onnxruntime and run on arrays (generate, judge, log-density, the oracle's columns); a
design validates its `DesignRequest` and hands the work to `hea_zoo.serving.design.run`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hea_zoo.artifact import DROP_THRESHOLD, MetadataError, decode_metadata, noise, relative_errors
from hea_zoo.constants import DEFAULT_DESIGN_MODEL, DEFAULT_MIN_PROBABILITY, oracle_applies
from hea_zoo.errors import InfeasibleError, ModelFileError, TargetError, UsageError
from hea_zoo.serving.constraints import _UNIT, Constraints, _Rules
from hea_zoo.serving.design import text as text
from hea_zoo.serving.design.hashing import RowHasher
from hea_zoo.serving.design.request import DEFAULT_CHUNK_SIZE, DEFAULT_N, DEFAULT_TOLERANCE, DesignRequest
from hea_zoo.serving.design.goals import INTERVAL_Z, Goal, GoalPlan, interval_z, plan_goals
from hea_zoo.serving.design.run import emit, search, search_goals
from hea_zoo.serving.design.table import SYSTEM_MIN_THOUSANDTHS, DesignResult, _Block, _concat_arrays

__all__ = ["Designer", "INTERVAL_Z", "TYPICALITY_MODEL", "DEFAULT_MODEL"]

DEFAULT_MODEL = DEFAULT_DESIGN_MODEL
"""The generator `Designer.from_exported`, `hea-zoo design` and the page use unless told:
the one that meets every design target of benchmarks/results/results.md (the cAE)."""


_JUDGE_BATCH = 1024  # rows per onnxruntime call (keeps the activations in cache)
_GENERATE_BATCH = 4096  # rows per generator call (cache-sized activations)


def _session(path: Path, role: str):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Idle worker threads sleep instead of spinning: the NumPy steps between calls get the
    # cores (spinning costs as much CPU as the work itself on a 2-core machine).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The design pipeline runs pieces on every core (`_ordered_map`): each call on one thread.
    options.intra_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises several types for foreign or truncated files
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelFileError(f"{path} is not a readable ONNX {role} ({first[:160]}).") from None


def _metadata(session, path: Path, required: Sequence[str]) -> dict[str, Any]:
    props = dict(session.get_modelmeta().custom_metadata_map)
    return decode_metadata(props, source=str(path), required=required)


def _names(values) -> list[str]:
    return [v.name for v in values]


def _check_io(session, path: Path, inputs: Sequence[str], outputs: Sequence[str], role: str) -> None:
    have_in, have_out = _names(session.get_inputs()), _names(session.get_outputs())
    missing = [n for n in inputs if n not in have_in] + [n for n in outputs if n not in have_out]
    if missing:
        raise ModelFileError(
            f"{path} is not a hea_zoo {role} export: it lacks {', '.join(repr(m) for m in missing)} "
            f"(inputs {have_in}, outputs {have_out})."
        )



TYPICALITY_MODEL = "flow"
"""The exported generator whose log-density scores designs with ``typicality``."""


def _typicality_model(folder: Path) -> Path:
    """The log-density ONNX file that `TYPICALITY_MODEL`'s metadata names, in `folder`."""
    flow = folder / f"{TYPICALITY_MODEL}.onnx"
    if not flow.is_file():
        raise ModelFileError(
            f"typicality needs the flow's log-density: no {flow.name} in {folder}. Export the flow into "
            "that folder (hea_zoo.serving.export.export_model, or the export command)."
        )
    name = _metadata(_session(flow, "generator"), flow, ("log_prob_model",))["log_prob_model"]
    return folder / str(name)



def nearest_rows(k: np.ndarray, rows: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest of `rows` to each row of `k` by L1 distance, and that distance
    (both non-negative integer compositions, here printed thousandths); ties: the first row.

    ``|a - b|_1 = sum a + sum b - 2 sum min(a, b)``: the overlap ``sum min(a, b)`` is
    summed one element at a time over a block of rows, in 16-bit integers while the totals
    allow (skipping elements no row of either side holds). A million designs against 423
    training alloys: about 3 s of CPU, against 45 s for the difference of every pair.
    """
    k = np.asarray(k)
    rows = np.asarray(rows)
    n, n_elements = k.shape
    best = np.zeros(n, np.int64)
    distance = np.zeros(n, np.int64)
    if not n:
        return best, distance
    largest = max(int(k.sum(axis=1).max(initial=0)), int(rows.sum(axis=1).max(initial=0)))
    kind = np.int16 if largest <= np.iinfo(np.int16).max else np.int64  # the overlap is at most either total
    block_k = k.astype(kind)
    table = rows.astype(kind)
    wide = np.int32 if kind is np.int16 else np.int64  # the distances: at most twice the largest total
    row_sum = rows.sum(axis=1, dtype=wide)
    held = [e for e in range(n_elements) if table[:, e].any()]
    scratch = np.empty((min(chunk, n), rows.shape[0]), kind)
    for a in range(0, n, chunk):
        block = block_k[a : a + chunk]
        m = block.shape[0]
        overlap = np.zeros((m, rows.shape[0]), kind)
        for e in held:
            if block[:, e].any():
                np.minimum(block[:, e : e + 1], table[None, :, e], out=scratch[:m])
                overlap += scratch[:m]
        d = block.sum(axis=1, dtype=wide)[:, None] + row_sum[None, :] - 2 * overlap.astype(wide)
        i = np.argmin(d, axis=1)  # the first of equal distances
        best[a : a + chunk] = i
        distance[a : a + chunk] = d[np.arange(m), i]
    return best, distance


class Designer:
    """An exported generator and surrogate, ready to design alloys.

    Attributes:
        generator_path: the generator's ONNX file.
        surrogate_path: the surrogate's ONNX file (None: designs are not judged).
        metadata: the generator's metadata (elements, condition names and units, latent size).
        surrogate_metadata: the surrogate's metadata (or None).
        log_prob_path: the ONNX file of the log-density that scores the designs (the
            ``log_prob`` column): the generator's own, where its metadata names one
            (``log_prob_model``), else ``typicality_path``.

    Args:
        generator_path: the generator's ONNX file.
        surrogate_path: the surrogate's ONNX file (None: designs are not judged).
        typicality_path: a log-density ONNX file (inputs ``composition``, ``condition``;
            the flow's ``flow_log_prob.onnx``) that scores the designs of a generator
            without a density of its own: how alloy-like each design is under the
            training data, in nats. Its elements and conditions must be the generator's.
    """

    def __init__(
        self,
        generator_path: str | os.PathLike,
        surrogate_path: str | os.PathLike | None = None,
        typicality_path: str | os.PathLike | None = None,
    ):
        self.generator_path = Path(generator_path)
        self.surrogate_path = Path(surrogate_path) if surrogate_path is not None else None
        self._generator = _session(self.generator_path, "generator")
        self.metadata = _metadata(
            self._generator, self.generator_path, ("kind", "elements", "latent_dim", "condition_names")
        )
        if self.metadata["kind"] != "generator":
            raise ModelFileError(
                f"{self.generator_path} is a hea_zoo {self.metadata['kind']} export, not a generator."
            )
        _check_io(self._generator, self.generator_path, ("z", "condition"), ("composition",), "generator")
        for key in ("elements", "condition_names"):
            value = self.metadata[key]
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise MetadataError(f"{self.generator_path}: metadata key {key!r} is not a list of names.")
        if not isinstance(self.metadata["latent_dim"], int) or self.metadata["latent_dim"] < 1:
            raise MetadataError(f"{self.generator_path}: metadata key 'latent_dim' is not a positive integer.")
        settings = self.metadata.get("setting_names") or []
        names = self.metadata["condition_names"]
        if not isinstance(settings, list) or names[len(names) - len(settings) :] != settings:
            raise MetadataError(f"{self.generator_path}: metadata key 'setting_names' is not the last condition names.")
        self.generator_settings: list[str] = list(settings)
        self.surrogate_settings: list[str] = []
        self._setting_values: dict[str, float] = {}
        self._surrogate = None
        self.surrogate_metadata = None
        self._judge_outputs: list[str] = []
        self.calibrated = False
        self.interval_z = INTERVAL_Z  # z of the judge's intervals (the coverage the surrogate records)
        if self.surrogate_path is not None:
            self._open_surrogate()
        self.log_prob_path = None
        self._log_prob = None
        name = self.metadata.get("log_prob_model")
        if name:
            self.log_prob_path = self.generator_path.parent / str(name)
            if not self.log_prob_path.is_file():
                raise ModelFileError(
                    f"{self.generator_path}: metadata key 'log_prob_model' names {name}, which is not in "
                    f"{self.generator_path.parent}."
                )
            self._log_prob = _session(self.log_prob_path, "log-density model")
            _check_io(self._log_prob, self.log_prob_path, ("composition", "condition"), (), "log-density")
        elif typicality_path is not None:
            self._open_typicality(Path(typicality_path))
        self._texts = text.TextTables(self.elements, SYSTEM_MIN_THOUSANDTHS)
        self._hasher = RowHasher(len(self.elements))

    def _open_typicality(self, path: Path) -> None:
        """Opens another model's log-density ONNX file to score this generator's designs."""
        if not path.is_file():
            raise ModelFileError(f"no log-density model at {path}.")
        session = _session(path, "log-density model")
        _check_io(session, path, ("composition", "condition"), (), "log-density")
        meta = _metadata(session, path, ("elements", "condition_names"))
        for key, what in (("elements", "scores compositions over"), ("condition_names", "is conditioned on")):
            if meta[key] != self.metadata[key]:
                raise ModelFileError(
                    f"{path} {what} {meta[key]}, but {self.generator_path} has {self.metadata[key]}."
                )
        self.log_prob_path = path
        self._log_prob = session

    def _open_surrogate(self) -> None:
        path = self.surrogate_path
        session = _session(path, "surrogate")
        meta = _metadata(session, path, ("kind", "elements", "property_names"))
        if meta["kind"] != "surrogate":
            raise ModelFileError(f"{path} is a hea_zoo {meta['kind']} export, not a surrogate.")
        outputs = _names(session.get_outputs())
        _check_io(session, path, ("composition",), ("properties",), "surrogate")
        self.surrogate_settings = list(meta.get("setting_names") or [])
        if self.surrogate_settings and "settings" not in _names(session.get_inputs()):
            raise ModelFileError(f"{path} names settings {self.surrogate_settings} but has no 'settings' input.")
        if meta["elements"] != self.metadata["elements"]:
            raise ModelFileError(
                f"{path} judges compositions over {meta['elements']}, but {self.generator_path} "
                f"generates over {self.metadata['elements']}."
            )
        if meta["property_names"] != self.condition_names:
            raise ModelFileError(
                f"{path} predicts {meta['property_names']}, but {self.generator_path} is conditioned on "
                f"{self.condition_names}."
            )
        # A surrogate exported uncalibrated (metadata calibration_size 0) has NaN interval
        # outputs: its ensemble spread stands in, as for an export without them.
        calibrated = meta.get("calibration_size", 1) != 0
        if calibrated and "properties_lower" in outputs and "properties_upper" in outputs:
            self._judge_outputs = ["properties", "properties_lower", "properties_upper"]
            self.calibrated = True
            try:
                self.interval_z = interval_z(meta.get("coverage"))
            except TargetError as err:
                raise ModelFileError(f"{path}: its metadata records an invalid coverage: {err}") from None
        elif "properties_std" in outputs:
            self._judge_outputs = ["properties", "properties_std"]
        else:
            raise ModelFileError(
                f"{path} has no interval outputs (properties_lower/properties_upper or properties_std)."
            )
        self._surrogate, self.surrogate_metadata = session, meta

    @classmethod
    def from_exported(
        cls, model: str = DEFAULT_MODEL, models_dir: str | os.PathLike | None = None, typicality: bool = False
    ) -> Designer:
        """Opens `<models_dir>/<model>.onnx` (or an .onnx path) and the surrogate beside it.

        `models_dir` None: the bundled models (`hea_zoo.paths.bundled_models_dir`), from
        any folder and any install.

        The surrogate is ``surrogate.onnx`` in the generator's folder; without it designs
        are not judged (`DesignResult.notes` says so). With ``typicality``, the designs
        of a generator without a density of its own are scored by the flow's log-density
        (``log_prob_model`` of ``flow.onnx`` in the generator's folder; the ``log_prob``
        column); the flow's own designs always are.

        Raises:
            FileNotFoundError: no such generator file.
            ModelFileError: a file that is not a readable hea_zoo export (names the file).
            hea_zoo.artifact.MetadataError: metadata missing a key or not parsing (names
                the file and the key).
        """
        if models_dir is None:
            from hea_zoo.paths import bundled_models_dir

            models_dir = bundled_models_dir()
        models_dir = Path(models_dir)
        path = Path(model) if str(model).endswith(".onnx") else models_dir / f"{model}.onnx"
        if not path.is_file():
            raise FileNotFoundError(
                f"no exported model at {path}. Export one with `hea-zoo export` or point "
                "models_dir (or HEA_ZOO_EXPORTED) at a folder of exported models."
            )
        surrogate = path.parent / "surrogate.onnx"
        density = _typicality_model(path.parent) if typicality else None
        return cls(path, surrogate if surrogate.is_file() else None, density)

    # --------------------------------------------------------------------- properties
    @property
    def elements(self) -> list[str]:
        return list(self.metadata["elements"])

    @property
    def condition_names(self) -> list[str]:
        """The properties a design targets (the generator's conditions without its settings)."""
        names = list(self.metadata["condition_names"])
        return names[: len(names) - len(self.generator_settings)]

    def _all_units(self) -> dict[str, str]:
        """Unit of every generator condition (properties, then settings); "" when unrecorded."""
        names = list(self.metadata["condition_names"])
        units = self.metadata.get("condition_units")
        units = list(units) if isinstance(units, list) and len(units) == len(names) else [""] * len(names)
        return dict(zip(names, units))

    @property
    def condition_units(self) -> list[str]:
        units = self._all_units()
        return [units[name] for name in self.condition_names]

    @property
    def setting_names(self) -> list[str]:
        """The measurement settings a design fixes (the generator's and the surrogate's)."""
        return self.generator_settings + [n for n in self.surrogate_settings if n not in self.generator_settings]

    def settings_text(self) -> str:
        """The fixed measurement settings in words (``"test_temperature = 1000 degC"``), or ""."""
        values = getattr(self, "_setting_values", None) or {}
        unit = self._all_units()
        return ", ".join(f"{k} = {v:g} {unit.get(k, '')}".rstrip() for k, v in values.items())

    def use_settings(self, settings: Mapping[str, float] | None) -> None:
        """Fixes the measurement settings of the designs that follow (a request's `settings`).

        Raises:
            UsageError: a setting the models do not take, or one they need that is missing.
        """
        settings = dict(settings or {})
        names = self.setting_names
        unknown = [k for k in settings if k not in names]
        if unknown:
            what = f"takes the settings {names}" if names else "takes no measurement settings"
            raise UsageError(f"the model {what}; unknown {unknown}.", field="settings")
        missing = [k for k in names if k not in settings]
        if missing:
            raise UsageError(
                f"the models were trained with measurement settings {names}: give a value for {missing} "
                f"(e.g. settings={{{missing[0]!r}: 25.0}}).",
                field="settings",
            )
        self._setting_values = {k: float(settings[k]) for k in names}

    def _with_settings(self, conditions: np.ndarray) -> np.ndarray:
        """Property conditions (rows) followed by the generator's fixed settings."""
        conditions = np.asarray(conditions, dtype=np.float32)
        if not self.generator_settings:
            return conditions
        fixed = np.asarray([self._setting_values[k] for k in self.generator_settings], dtype=np.float32)
        if conditions.ndim == 1:
            return np.concatenate([conditions, fixed])
        return np.concatenate([conditions, np.broadcast_to(fixed, (conditions.shape[0], fixed.size))], axis=1)

    @property
    def latent_dim(self) -> int:
        return int(self.metadata["latent_dim"])

    @property
    def has_surrogate(self) -> bool:
        return self._surrogate is not None

    @property
    def uses_oracle(self) -> bool:
        """Whether the physics oracle labelled this generator's training data (by fingerprint)."""
        return oracle_applies(self.metadata)

    @property
    def threshold(self) -> float:
        value = self.metadata.get("composition_threshold", DROP_THRESHOLD)
        return float(value) if isinstance(value, (int, float)) else DROP_THRESHOLD

    def training_range(self) -> np.ndarray | None:
        """(2, P) min/max of the training conditions, where the export records them."""
        value = self.metadata.get("condition_range")
        n_all = len(self.metadata["condition_names"])
        try:
            out = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        if out.shape != (2, n_all) or not np.all(np.isfinite(out)):
            return None
        return out[:, : len(self.condition_names)]

    def scale_floors(self) -> np.ndarray:
        """Per property, 1 % of the training-condition range (1e-9 where unknown)."""
        rng = self.training_range()
        if rng is None:
            return np.full(len(self.condition_names), 1e-9)
        return np.maximum(0.01 * (rng[1] - rng[0]), 1e-9)

    # --------------------------------------------------------------------- models
    def generate(self, target: Sequence[float], n: int, seed: int = 0, start_row: int = 0) -> np.ndarray:
        """``(n, E)`` raw compositions of candidates ``start_row ...`` at `target`."""
        return self._decode(noise(seed, n, self.latent_dim, start_row), np.asarray(target, dtype=np.float32))

    def _decode(self, z: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The generator's compositions for noise rows `z` at one float32 `target`."""
        condition = np.repeat(self._with_settings(target.reshape(1, -1)), min(z.shape[0], _GENERATE_BATCH), axis=0)
        parts = [self._generator.run(["composition"], {"z": z[a : a + _GENERATE_BATCH], "condition": condition[: z.shape[0] - a]})[0]
                 for a in range(0, z.shape[0], _GENERATE_BATCH)]  # fmt: skip
        return np.concatenate(parts) if parts else np.zeros((0, len(self.elements)), np.float32)

    def _decode_rows(self, z: np.ndarray, conditions: np.ndarray) -> np.ndarray:
        """The generator's compositions for noise rows `z`, each at its own float32 condition."""
        conditions = np.ascontiguousarray(self._with_settings(conditions), dtype=np.float32)
        parts = [self._generator.run(["composition"], {"z": z[a : a + _GENERATE_BATCH], "condition": conditions[a : a + _GENERATE_BATCH]})[0]
                 for a in range(0, z.shape[0], _GENERATE_BATCH)]  # fmt: skip
        return np.concatenate(parts) if parts else np.zeros((0, len(self.elements)), np.float32)

    def nearest_training(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The nearest training alloy of each printed row (L1 over thousandths; ties: the
        first in the metadata's order) as its printed vector, and the distance in at.%
        moved (``sum |dk| / 20``); None when the export records no training compositions
        (section 7.5)."""
        if not hasattr(self, "_nearest_rows"):
            rows = self._training_rows()
            self._nearest_rows = None if rows is None else np.asarray(rows, dtype=np.int32)
        rows = self._nearest_rows
        if rows is None:
            return None
        best, distance = nearest_rows(k, rows)
        return rows[best].astype(np.int64), distance.astype(np.float64) / 20.0

    def judge(self, fractions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Surrogate mean and interval ``(mean, lower, upper)``, ``(N, P)`` float32 each."""
        if self._surrogate is None:
            return None
        x = np.ascontiguousarray(fractions, dtype=np.float32)
        feeds = {}
        if self.surrogate_settings:  # the surrogate's settings input: the request's fixed values
            fixed = np.asarray([[self._setting_values[k] for k in self.surrogate_settings]], dtype=np.float32)
            rows = min(x.shape[0], _JUDGE_BATCH)
            feeds = {"settings": np.ascontiguousarray(np.broadcast_to(fixed, (rows, fixed.shape[1])))}
        parts = [self._surrogate.run(self._judge_outputs, {"composition": x[a : a + _JUDGE_BATCH],
                                                           **{k: v[: len(x[a : a + _JUDGE_BATCH])] for k, v in feeds.items()}})
                 for a in range(0, x.shape[0], _JUDGE_BATCH)]  # fmt: skip
        outs = [np.concatenate([p[i] for p in parts]) if parts else np.zeros((0, len(self.condition_names)), np.float32)
                for i in range(len(self._judge_outputs))]  # fmt: skip
        if self.calibrated:
            mean, lower, upper = outs
        else:
            mean, std = outs
            half = np.float32(INTERVAL_Z) * std
            lower, upper = mean - half, mean + half
        return mean, lower, upper

    def log_prob(self, fractions: np.ndarray, target: Sequence[float]) -> np.ndarray | None:
        """Log-density (nats) of printed fractions at `target`, for a generator that has one."""
        if self._log_prob is None:
            return None
        x = np.ascontiguousarray(fractions, dtype=np.float32)
        condition = np.tile(self._with_settings(np.asarray(target, dtype=np.float32)[None, :]), (x.shape[0], 1))
        name = self._log_prob.get_outputs()[0].name
        (out,) = self._log_prob.run([name], {"composition": x, "condition": condition})
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def log_prob_rows(self, fractions: np.ndarray, conditions: np.ndarray) -> np.ndarray:
        """Log-density (nats) of printed fractions, each at its own condition."""
        x = np.ascontiguousarray(fractions, dtype=np.float32)
        name = self._log_prob.get_outputs()[0].name
        conditions = np.ascontiguousarray(self._with_settings(conditions), np.float32)
        (out,) = self._log_prob.run([name], {"composition": x, "condition": conditions})
        return np.asarray(out, dtype=np.float64).reshape(-1)

    # --------------------------------------------------------------------- checks
    def check_target(self, target: Sequence[float] | Mapping[str, float]) -> np.ndarray:
        """The target as float64 in condition order, checked as a `DesignRequest` checks it.

        Raises:
            TargetError: wrong number of values or names, NaN/inf, beyond float32, or
                negative where the training values never are.
        """
        return DesignRequest(target).target_values(self.condition_names, self.training_range())

    def _training_rows(self) -> np.ndarray | None:
        """The training alloys recorded in the export (thousandths), or None (parsed once:
        a design would otherwise spend about as long parsing them as designing from 200
        candidates)."""
        if not hasattr(self, "_training_parsed"):
            self._training_parsed = self._parse_training_rows()
        return self._training_parsed

    def _parse_training_rows(self) -> np.ndarray | None:
        value = self.metadata.get("training_compositions")
        if not isinstance(value, list) or not value:
            return None
        from hea_zoo.artifact import parse_printed

        try:
            return parse_printed(value, self.elements)
        except ValueError as err:
            raise MetadataError(f"{self.generator_path}: metadata key 'training_compositions' does not parse ({err}).") from None

    def _notes_before(self, t: np.ndarray, rules: _Rules, n: int, candidates: int) -> list[str]:
        notes = []
        rng = self.training_range()
        if rng is not None:
            for j, (name, unit) in enumerate(zip(self.condition_names, self.condition_units)):
                if np.isfinite(t[j]) and not rng[0, j] <= t[j] <= rng[1, j]:
                    notes.append(
                        f"target {name} = {t[j]:g} {unit} lies outside the training data "
                        f"({rng[0, j]:.3g}-{rng[1, j]:.3g}); designs are extrapolations.".replace("  ", " ")
                    )
        training = self._training_rows()
        if training is not None and not rules.trivial and not rules.satisfied(training).any():
            notes.append(
                f"no training alloy satisfies the constraints ({rules.describe()}): the designs are "
                "extrapolations beyond the data."
            )
        if self._surrogate is None:
            notes.append(
                f"no surrogate found (no surrogate.onnx beside {self.generator_path}): designs are not judged "
                f"or ranked. Export one into {self.generator_path.parent} under the name surrogate "
                "(hea_zoo.serving.export.export_surrogate, or the export command)."
            )
        elif not self.calibrated:
            notes.append(
                f"intervals are the ensemble mean ± {INTERVAL_Z:.3f} std (nominal 90 %, not calibrated): "
                f"{self.surrogate_path} has no calibrated interval outputs."
            )
        return notes

    # --------------------------------------------------------------------- design
    def design(
        self,
        target: Sequence[float] | Mapping[str, float] | DesignRequest | None = None,
        n: int = DEFAULT_N,
        seed: int | None = None,
        candidates: int | None = None,
        select: str = "diverse",
        tolerance: float = DEFAULT_TOLERANCE,
        constraints: Constraints | Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: bool | Callable[[int, int], Any] | None = None,
        out: str | os.PathLike | None = None,
        table_rows: int | None = None,
        goals: Sequence[Any] = (),
        objectives: Sequence[Any] = (),
        min_probability: float = DEFAULT_MIN_PROBABILITY,
        settings: Mapping[str, float] | None = None,
    ) -> DesignResult:
        """Designs `n` different alloys for `target` or for `goals` (docs/DESIGN_ENGINE.md).

        Args:
            target: one value per condition in the metadata's order and units, or a
                mapping condition name -> value (``{"shear_modulus": 60, ...}``), or a
                whole `DesignRequest` (then the other request arguments are not given).
            n: designs to return.
            seed: noise seed in [0, 2**32 - 1]; None draws one from the OS (reported in
                `DesignResult.seed`, so the run can be repeated).
            candidates: candidates drawn (default `default_candidates(n)`); at least `n`,
                at most `MAX_CANDIDATES`.
            select: ``"diverse"`` (greedy max-sum of cosine distances, discounted by score, among the
                best in-tolerance candidates, no two within L1 0.03) or ``"closest"`` (the best scores).
            tolerance: relative tolerance on every property (> 0).
            constraints: a `Constraints` or a mapping of its fields (None: the defaults,
                `DEFAULT_MIN_FRACTION` and `DEFAULT_MAX_ELEMENTS`).
            chunk_size: candidates per chunk (memory is bounded by it, not by `candidates`).
            progress: True for a progress bar on stderr, or a callable ``(done, total)``.
            out: also write the designs to this file (``.csv``, or ``.parquet`` with pyarrow),
                block by block and atomically.
            table_rows: rows kept for `DesignResult.table` (default: all without `out`,
                at most 10,000 with it).
            goals: goals (section 7): ``"shear_modulus>=60"``, ``"density<=9"``,
                ``"vec=4.4:5"``, ``"fracture_toughness=35"`` or `Goal` objects.
            objectives: at most two ``(NAME, "max"|"min")`` pairs.
            min_probability: the probability of meeting every goal a design needs to be
                in the pool (section 7.4).
            settings: fixed measurement settings (``{"test_temperature": 1000}``) for models
                trained with them (`setting_names`): a condition of the generator and an
                input of the surrogate, never a target.

        Returns:
            A `DesignResult`.

        Raises:
            UsageError: `n`, `candidates`, `seed`, `chunk_size`, `select` or `out` out of
                their domain (`DesignRequest`; ``field`` names it).
            TargetError: a bad target, tolerance or constraints.
            InfeasibleError: no candidate satisfies the constraints.
        """
        if isinstance(target, DesignRequest):
            request = target
        else:
            request = DesignRequest(
                target, n=n, candidates=candidates, select=select, tolerance=tolerance,
                constraints=constraints, seed=seed, chunk_size=chunk_size, out=out, goals=goals,
                objectives=objectives, min_probability=min_probability, settings=settings,
            )  # fmt: skip
        return self.run(request, progress=progress, table_rows=table_rows)

    def run(
        self,
        request: DesignRequest,
        progress: bool | Callable[[int, int], Any] | None = None,
        table_rows: int | None = None,
        stream: Any = None,
    ) -> DesignResult:
        """Runs a validated `DesignRequest` (see `design` for `progress` and `table_rows`).

        `stream`: a binary file that gets the designs as CSV (header first, the bytes a
        ``.csv`` `out` would hold) instead of `request.out` (many targets use it)."""
        started = time.perf_counter()
        self.use_settings(request.settings)
        if request.goal_mode:
            classic = request.classic_target(self.condition_names)
            if classic is not None:  # point goals on every property: the classic request (section 7)
                request = request.replace(target=classic, goals=(), objectives=())
            else:
                return self._run_goals(request, progress, table_rows, started, stream)
        n, candidates, select, tolerance = request.n, request.candidates, request.select, request.tolerance
        seed = int.from_bytes(os.urandom(4), "little") if request.seed is None else request.seed
        t = request.target_values(self.condition_names, self.training_range())
        rules = request.constraints.resolve(self.elements, self.threshold)
        out_path = request.out
        notes = list(rules.notes) + self._notes_before(t, rules, n, candidates)
        keep_rows = (n if out_path is None else min(n, 10_000)) if table_rows is None else int(table_rows)

        run = search(self, t, n, seed, candidates, select, tolerance, rules, request.chunk_size, progress)
        try:
            if run.n_valid == 0:
                raise InfeasibleError(
                    f"no candidate satisfies the constraints ({rules.describe()}) among {candidates:,} candidates "
                    "tried; relax the constraints or draw more candidates."
                )
            notes.extend(run.notes)
            if run.n_designs < n:
                which = "met the constraints" if rules.given else "printed as valid, distinct alloys"
                notes.append(
                    f"only {run.n_distinct:,} distinct candidate{'' if run.n_distinct == 1 else 's'} {which} "
                    f"among {candidates:,} tried: {run.n_designs:,} designs instead of {n:,} (draw more candidates"
                    + ("" if rules.given else ", or aim nearer the training data: the generator collapses far from it")
                    + ")."
                )
            kept, systems, n_written = emit(self, run, t, tolerance, out_path, keep_rows, stream=stream)
        finally:
            run.close()
        return DesignResult(
            notes=notes,
            n_designs=n_written,
            n_candidates=candidates,
            n_valid=run.n_valid,
            n_distinct=run.n_distinct,
            n_in_tolerance=run.n_in_tolerance if self.has_surrogate else None,
            n_systems=len(systems),
            seed=seed,
            select=select,
            tolerance=tolerance,
            target=[float(v) for v in t],
            out=out_path,
            seconds=time.perf_counter() - started,
            _arrays=_concat_arrays(kept),
        )

    def design_many(
        self,
        targets: Any,
        out: str | os.PathLike,
        seed: int | None = None,
        cluster: Any = None,
        workers: int | None = None,
        progress: bool | Callable[[int, int], Any] | None = None,
        block: int | None = None,
        **options: Any,
    ):
        """Designs every target of a table into one table (docs/DESIGN_ENGINE.md, section 8):
        `hea_zoo.serving.design.many.design_many` with these models.

        Example:
            >>> designer.design_many("targets.csv", "designs.csv", seed=0, n=20)  # doctest: +SKIP
        """
        from hea_zoo.serving.design.many import design_many

        return design_many(self, targets, out, seed=seed, cluster=cluster, workers=workers, progress=progress,
                           block=block, **options)  # fmt: skip

    def plan(self, request: DesignRequest, rules: _Rules | None = None) -> GoalPlan:
        """The goals of `request` resolved against this generator (section 7.1-7.2).

        Raises:
            TargetError: an unknown name, a goal beside a target for the same property, an
                impossible descriptor goal or a property goal far outside the data.
        """
        if rules is None:
            rules = request.constraints.resolve(self.elements, self.threshold)
        names = self.condition_names
        if self.training_range() is None:
            raise TargetError("goals need the generator's training range (metadata condition_range).", field="goals")
        if isinstance(request.target, dict):
            unknown = sorted(set(request.target) - set(names))
            if unknown:
                raise TargetError(f"the model is conditioned on {names}; unknown target(s) {unknown}.", field="target")
            target_names = list(request.target)
            values = {name: request.target[name] for name in names if name in request.target}
        else:
            if request.target and len(request.target) != len(names):
                raise TargetError(
                    f"expected {len(names)} target values ({', '.join(names)}). Received {len(request.target)}: "
                    f"{list(request.target)}",
                    field="target",
                )
            values = dict(zip(names, request.target))
            target_names = list(values)
        goals = [Goal.at(name, v) for name, v in values.items()] + list(request.goals)
        if values:
            DesignRequest({**{n: float(np.mean(self.training_range()[:, j])) if self.training_range() is not None
                              else 0.0 for j, n in enumerate(names)}, **values}).target_values(
                names, self.training_range())  # fmt: skip
        allowed = np.asarray(rules.allowed, bool) if hasattr(rules, "allowed") else np.ones(len(self.elements), bool)
        plan = plan_goals(list(request.goals), list(request.objectives), target_names, names, self.training_range(),
                          self.elements, allowed, request.tolerance, request.min_probability)  # fmt: skip
        if values:  # the target's points join as point goals, first
            extra = plan_goals([Goal.at(n, v) for n, v in values.items()], [], [], names, self.training_range(),
                               self.elements, allowed, request.tolerance, request.min_probability)  # fmt: skip
            plan.property_goals = extra.property_goals + plan.property_goals
            plan.goals = extra.goals + plan.goals
            for j, lo, hi in extra.property_goals:
                v = values[names[j]]
                plan.box[0, j] = plan.box[1, j] = v
        del goals
        if not self.has_surrogate:
            for i, goal in enumerate(request.goals):
                if goal.name in names:
                    raise TargetError(f"{goal.name} is judged by the surrogate, and there is none.", field=f"goals[{i}]")
            for i, (name, _d) in enumerate(request.objectives):
                if name in names:
                    raise TargetError(f"{name} is judged by the surrogate, and there is none.", field=f"objectives[{i}]")
        return plan

    def _run_goals(self, request: DesignRequest, progress, table_rows, started, stream=None) -> DesignResult:
        """Section 7: a run for goals."""
        n, candidates, select = request.n, request.candidates, request.select
        rules = request.constraints.resolve(self.elements, self.threshold)
        plan = self.plan(request, rules)
        seed = int.from_bytes(os.urandom(4), "little") if request.seed is None else request.seed
        out_path = request.out
        notes = list(rules.notes) + self._notes_before(np.full(len(self.condition_names), np.nan), rules, n, candidates)
        keep_rows = (n if out_path is None else min(n, 10_000)) if table_rows is None else int(table_rows)
        run = search_goals(self, plan, n, seed, candidates, select, rules, request.chunk_size, progress)
        try:
            if run.n_valid == 0:
                what = rules.describe()
                if plan.descriptor_goals:
                    what += "; " + ", ".join(g.text() for g in plan.goals if g.name not in self.condition_names)
                raise InfeasibleError(
                    f"no candidate satisfies the constraints and exact goals ({what}) among {candidates:,} "
                    "candidates tried; relax them or draw more candidates."
                )
            notes.extend(run.notes)
            if run.n_designs < n:
                notes.append(
                    f"only {run.n_distinct:,} distinct candidate{'' if run.n_distinct == 1 else 's'} met the "
                    f"constraints and exact goals among {candidates:,} tried: {run.n_designs:,} designs instead of "
                    f"{n:,} (draw more candidates)."
                )
            kept, systems, n_written = emit(self, run, None, request.tolerance, out_path, keep_rows, plan, stream)
        finally:
            run.close()
        return DesignResult(
            notes=notes, n_designs=n_written, n_candidates=candidates, n_valid=run.n_valid,
            n_distinct=run.n_distinct, n_in_tolerance=run.n_in_tolerance if self.has_surrogate else None,
            n_systems=len(systems), seed=seed, select=select, tolerance=request.tolerance, target=[],
            out=out_path, seconds=time.perf_counter() - started, _arrays=_concat_arrays(kept),
            goals=[g.text() for g in plan.goals], objectives=[f"{'maximize' if d == 'max' else 'minimize'} {name}" for name, d in plan.objectives],
            min_probability=plan.min_probability,
        )  # fmt: skip

    def _block(self, rank: int, records: np.ndarray, t: np.ndarray | None, tolerance: float,
               plan: GoalPlan | None = None) -> _Block:
        """A block of designs with everything a row shows (oracle, tolerance, log-density)."""
        ranks = np.arange(rank, rank + records.size)
        nearest = self.nearest_training(records["k"])
        if plan is not None:
            fractions = records["k"].astype(np.float64) / _UNIT
            oracle_values = None
            if self.uses_oracle:
                from hea_zoo.data import oracle as oracle_module

                oracle_values = np.full((fractions.shape[0], len(self.condition_names)), np.nan)
                judged = oracle_module.judgeable(fractions, self.elements)
                if judged.any():
                    oracle_values[judged] = oracle_module.properties(fractions[judged], self.elements)
            log_prob = None
            if self._log_prob is not None:
                conditions = plan.conditions_at(records["index"])
                log_prob = self.log_prob_rows(fractions.astype(np.float32), conditions)
            return _Block(self, ranks, records, oracle_values, None, log_prob, None, nearest, plan)
        floors = self.scale_floors()
        fractions = records["k"].astype(np.float64) / _UNIT
        oracle_values = oracle_error = None
        if self.uses_oracle:
            from hea_zoo.data import oracle as oracle_module

            # A design of oxygen alone (possible under constraints) has no oracle values.
            oracle_values = np.full((fractions.shape[0], len(self.condition_names)), np.nan)
            judged = oracle_module.judgeable(fractions, self.elements)
            if judged.any():
                oracle_values[judged] = oracle_module.properties(fractions[judged], self.elements)
            oracle_error = relative_errors(oracle_values, t, floors).mean(axis=1)  # NaN where not judged
        in_tol = None
        if self.has_surrogate:
            with np.errstate(invalid="ignore"):
                in_tol = np.all(relative_errors(records["mean"], t, floors) <= tolerance, axis=1)
        log_prob = self.log_prob(fractions.astype(np.float32), t) if self._log_prob is not None else None
        return _Block(self, ranks, records, oracle_values, oracle_error, log_prob, in_tol, nearest)

