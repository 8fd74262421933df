"""Goals on measured data: alloys with a room-temperature yield strength of at least 1 GPa
and a density of at most 8 g/cm^3, from the bundled MPEA table.

    python examples/mpea_goals.py [OUT_FOLDER]

1. loads the MPEA yield strengths measured at room temperature (compression and tension
   tests; repeats of an alloy merged by their median; `hea_zoo.load_dataset("mpea")`);
2. trains the default cAE and surrogate on them and exports both (`hea_zoo.workflows.export_all`,
   what `hea-zoo export --all --data mpea --properties yield_strength --models cae` does);
3. designs 8 alloys for the goals `yield_strength>=1000` (judged by the surrogate's
   calibrated interval: each design prints the probability of meeting it) and
   `density<=8` (an exact descriptor of the printed composition: every design obeys it);
4. prints each design with the nearest measured alloy and how far it is.

No oracle knows these properties: the probabilities are the surrogate's, calibrated on
held-out measured alloys, and the designs are leads to test, not predictions.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import hea_zoo
from hea_zoo.serving.design import Designer
from hea_zoo.workflows import export_all

GOALS = ["yield_strength>=1000", "density<=8"]


def main(out: str | None = None) -> None:
    data = hea_zoo.load_dataset("mpea", properties=["yield_strength"], dropna=True)
    for note in data.notes:
        print(f"load_dataset: {note}")
    print(f"MPEA yield strength at room temperature: {data.n_alloys} alloys over {len(data.elements)} elements; "
          f"{int((data.properties[:, 0] >= 1000).sum())} rows measured at 1 GPa or more.")  # fmt: skip
    folder = Path(out) if out else Path(tempfile.mkdtemp(prefix="hea_zoo_mpea_goals_"))
    export_all(folder, models=["cae"], dataset=data, n_per_condition=100, verbose=0)
    designer = Designer.from_exported("cae", folder)
    result = designer.design(None, goals=GOALS, n=8, seed=0)
    for note in result.notes:
        print(f"note: {note}")
    table = result.table
    print(f"\n{len(table)} designs for {', '.join(GOALS)} (surrogate mean [90 % interval]; P = probability of "
          "meeting the strength goal):")  # fmt: skip
    for i, row in table.iterrows():
        print(f"{i + 1:2d}. {row['formula']:<36s} yield strength {row['yield_strength_surrogate']:6.0f} "
              f"[{row['yield_strength_lower']:.0f}, {row['yield_strength_upper']:.0f}] MPa, P {row['p_goals']:.2f}, "
              f"density {row['density']:.2f} g/cm^3")  # fmt: skip
        print(f"    nearest measured alloy: {row['nearest_training']} ({row['nearest_distance']:.0f} at.% away)")
    assert np.all(table["density"] <= 8.0)
    print(f"\nmodels in {folder}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
