"""The bundled oracle as a simulated lab: `measure` labels a table of formulas with the
oracle's shear modulus and fracture toughness (`hea_zoo.data.oracle`), as a lab would
measure a batch of proposals. For worked campaigns and benchmarks only: a real campaign
measures its proposals in a real lab.

The oracle knows no measurement settings (its values are the same at every temperature):
it refuses a proposal table made at settings (``propose(..., settings=...)``: a
``test_temperature`` column after ``formula``) rather than label it as if it had
measured at them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hea_zoo.constants import PROPERTY_NAMES
from hea_zoo.errors import DataError

__all__ = ["measure"]


def measure(frame: pd.DataFrame, composition_column: str = "composition") -> pd.DataFrame:
    """A two-column-plus table: `composition_column` (the formulas of `frame`, or of its
    ``formula`` column, as given) and the oracle's shear_modulus and fracture_toughness.

    Raises:
        DataError: no formula column, a formula that does not parse (naming its line), an
            element the oracle does not know, a row it cannot judge (oxygen alone), or a
            proposal table made at measurement settings (the oracle knows none).
    """
    from hea_zoo.data import oracle
    from hea_zoo.data.composition import parse_compositions
    from hea_zoo.data.elements import ELEMENTS

    from hea_zoo.campaign.next_batch import proposal_settings

    settings = proposal_settings(frame)
    if settings:
        raise DataError(
            f"the proposals are to be measured at the setting(s) {settings}; the bundled oracle knows no measurement "
            "settings (its values do not depend on them), so it cannot measure them. Measure them in the lab, or "
            "propose without settings for the simulated lab.",
            field="data",
        )
    column = composition_column if composition_column in frame.columns else "formula"
    if column not in frame.columns:
        raise DataError(
            f"no {composition_column!r} or 'formula' column. Columns: {', '.join(map(str, frame.columns))}.",
            field="composition_column",
        )
    formulas = frame[column].astype(str).tolist()
    try:
        x, _ = parse_compositions(formulas, ELEMENTS, field="data")
    except DataError as err:
        row = err.row
        where = f"line {int(row) + 2}: " if isinstance(row, (int, np.integer)) else ""
        raise DataError(f"{where}{err.message}", field="data") from None
    x = x.astype(np.float64)
    ok = oracle.judgeable(x, ELEMENTS)
    if not ok.all():
        r = int(np.flatnonzero(~ok)[0])
        raise DataError(f"line {r + 2}: {formulas[r]!r} has no metallic element; the oracle cannot judge it.", field="data")
    values = oracle.properties(x, ELEMENTS)
    out = pd.DataFrame({composition_column: formulas})
    for j, name in enumerate(PROPERTY_NAMES):
        out[name] = np.round(values[:, j], 4)
    return out
