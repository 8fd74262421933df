"""Designs from the exported models with onnxruntime alone (no TensorFlow: fast to start).

This is what `hea-zoo design` runs: draw standard-normal noise z, decode it at the target
condition with an exported generator (`exported/<name>.onnx`), judge every candidate with
the exported surrogate ensemble (mean ± standard deviation) and, for the study's 22
elements, with the physics oracle; keep the distinct candidates closest to the target.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hea_zoo.artifact import decode_metadata, noise
from hea_zoo.constants import oracle_applies, short_label
from hea_zoo.data.composition import DROP_THRESHOLD, parse_formulas, to_formula

__all__ = ["Designer", "format_table"]

def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _metadata(session, source: str = "model") -> dict[str, Any]:
    return decode_metadata(dict(session.get_modelmeta().custom_metadata_map), source=source)


@dataclass
class Designer:
    """An exported generator and surrogate, ready to design alloys.

    Attributes:
        generator_path: the generator's ONNX file.
        surrogate_path: the surrogate's ONNX file (or None).
        metadata: the generator's metadata (elements, condition names and units, latent size).
    """

    generator_path: Path
    surrogate_path: Path | None
    metadata: dict[str, Any]

    def __post_init__(self):
        self._generator = _session(self.generator_path)
        self._surrogate = _session(self.surrogate_path) if self.surrogate_path else None
        if self._surrogate is not None:
            sm = _metadata(self._surrogate)
            if sm.get("elements") != self.metadata["elements"]:
                raise ValueError(
                    f"{self.surrogate_path} judges compositions over {sm.get('elements')}, but "
                    f"{self.generator_path} generates over {self.metadata['elements']}."
                )

    @classmethod
    def from_exported(cls, model: str, models_dir: str | os.PathLike) -> Designer:
        """Open `<models_dir>/<model>.onnx` (or an .onnx path) and `<models_dir>/surrogate.onnx`."""
        models_dir = Path(models_dir)
        path = Path(model) if str(model).endswith(".onnx") else models_dir / f"{model}.onnx"
        if not path.is_file():
            raise FileNotFoundError(
                f"no exported model at {path}. Export one with `hea-zoo export` or point "
                "--models-dir (or HEA_ZOO_EXPORTED) at a folder of exported models."
            )
        session = _session(path)
        metadata = _metadata(session)
        if metadata.get("kind") != "generator" or "latent_dim" not in metadata:
            raise ValueError(f"{path} is not an exported hea_zoo generator (no generator metadata).")
        surrogate = path.parent / "surrogate.onnx"
        return cls(path, surrogate if surrogate.is_file() else None, metadata)

    @property
    def elements(self) -> list[str]:
        return list(self.metadata["elements"])

    @property
    def condition_names(self) -> list[str]:
        return list(self.metadata["condition_names"])

    @property
    def condition_units(self) -> list[str]:
        return list(self.metadata["condition_units"])

    @property
    def uses_oracle(self) -> bool:
        return oracle_applies(self.metadata)

    def generate(self, target: Sequence[float], n: int, seed: int | None = None) -> np.ndarray:
        """(n, E) compositions decoded from seeded standard-normal z at `target`."""
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2**32))
        z = noise(seed, n, int(self.metadata["latent_dim"]))
        condition = np.tile(np.asarray(target, dtype=np.float32)[None, :], (n, 1))
        (composition,) = self._generator.run(["composition"], {"z": z, "condition": condition})
        return composition

    def judge(self, compositions: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Surrogate mean and standard deviation, (N, P) each, or (None, None)."""
        if self._surrogate is None:
            return None, None
        mean, std = self._surrogate.run(["properties", "properties_std"], {"composition": compositions})
        return mean, std

    def training_range(self) -> np.ndarray | None:
        """(2, P) min/max of the training conditions, where known."""
        if "condition_range" in self.metadata:
            return np.asarray(self.metadata["condition_range"], dtype=np.float64)
        return None

    def design(
        self,
        target: Sequence[float],
        n: int = 20,
        seed: int | None = None,
        candidates: int | None = None,
    ) -> tuple[pd.DataFrame, list[str]]:
        """Generate candidates at `target`, rank them, keep the `n` best distinct ones.

        Every candidate is judged as printed: its formula (fractions below
        `DROP_THRESHOLD` dropped, the rest renormalized and rounded to 3 decimals) is
        parsed back and scored, so the numbers belong to the alloy a user would make.
        Ranking: the mean relative distance of the surrogate's prediction to the target
        over the properties (without a surrogate, the order of generation). Distinct: the
        formula (fractions below `DROP_THRESHOLD` dropped, 3 decimals) appears once.

        Returns:
            (table, warnings): one row per design with its formula, the surrogate's
            prediction and standard deviation, the oracle's value (22-element models) and
            the relative error, then the fractions; warnings for a target outside the
            training data's range.
        """
        target_arr = np.asarray(target, dtype=np.float64)
        if target_arr.shape != (len(self.condition_names),):
            raise ValueError(
                f"Expected {len(self.condition_names)} target values ({self.condition_names}). "
                f"Received {list(target)}."
            )
        notes = []
        rng = self.training_range()
        if rng is not None:
            for j, name in enumerate(self.condition_names):
                if not rng[0, j] <= target_arr[j] <= rng[1, j]:
                    notes.append(
                        f"target {name} = {target_arr[j]:g} {self.condition_units[j]} lies outside "
                        f"the training data ({rng[0, j]:.3g}-{rng[1, j]:.3g}); designs are extrapolations."
                    )
        count = candidates or max(10 * n, 200)
        raw = self.generate(target_arr, count, seed)
        # Judge what the user would make: the printed formula (traces dropped, rounded).
        formulas = [to_formula(row, self.elements, DROP_THRESHOLD, 3) for row in raw]
        x = parse_formulas(formulas, self.elements)
        mean, std = self.judge(x)
        table = pd.DataFrame({"formula": formulas})
        if mean is not None:
            rel = np.abs(mean - target_arr) / np.maximum(np.abs(target_arr), 1e-12)
            for j, name in enumerate(self.condition_names):
                table[f"{name}_surrogate"] = mean[:, j]
                table[f"{name}_std"] = std[:, j]
            table["relative_error_surrogate"] = rel.mean(axis=1)
        if self.uses_oracle:
            from hea_zoo.data import oracle

            truth = oracle.properties(x)
            for j, name in enumerate(self.condition_names):
                table[f"{name}_oracle"] = truth[:, j]
            table["relative_error_oracle"] = (np.abs(truth - target_arr) / np.abs(target_arr)).mean(axis=1)
        for j, symbol in enumerate(self.elements):
            table[symbol] = x[:, j]
        if "relative_error_surrogate" in table:
            table = table.sort_values("relative_error_surrogate", kind="stable")
        table = table.drop_duplicates("formula").head(n).reset_index(drop=True)
        return table, notes


def format_table(table: pd.DataFrame, designer: Designer, target: Sequence[float]) -> str:
    """The table `hea-zoo design` prints."""
    names, units = designer.condition_names, designer.condition_units
    head = ", ".join(f"{n} = {t:g} {u}".rstrip() for n, t, u in zip(names, target, units))
    lines = [f"target: {head}  (model: {designer.generator_path.stem}, {len(table)} designs, "
             f"best by surrogate first)"]  # fmt: skip
    columns = ["#", "formula"]
    rows = []
    for i, row in table.iterrows():
        cells = [str(i + 1), row["formula"]]
        for name in names:
            if f"{name}_surrogate" in table:
                cells.append(f"{row[f'{name}_surrogate']:.1f} ± {row[f'{name}_std']:.2f}")
            if f"{name}_oracle" in table:
                cells.append(f"{row[f'{name}_oracle']:.1f}")
        rows.append(cells)
    for name, unit in zip(names, units):
        short = short_label(name)
        if f"{name}_surrogate" in table:
            columns.append(f"{short} surrogate [{unit}]")
        if f"{name}_oracle" in table:
            columns.append(f"{short} oracle")
    widths = [max(len(c), *(len(r[k]) for r in rows)) if rows else len(c) for k, c in enumerate(columns)]
    fmt = lambda cells: "  ".join(c.ljust(w) if k == 1 else c.rjust(w) for k, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    lines.append(fmt(columns))
    lines.extend(fmt(r) for r in rows)
    if not designer.uses_oracle:
        lines.append("(no oracle column: the physics oracle covers the bundled 22-element data only)")
    return "\n".join(lines)
