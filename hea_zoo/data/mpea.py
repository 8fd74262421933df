"""The MPEA dataset: measured mechanical properties of multi-principal element alloys.

C. K. H. Borg et al., "Expanded dataset of mechanical properties and observed phases of
multi-principal element alloys", Scientific Data 7, 430 (2020),
doi:10.1038/s41597-020-00768-9. Apache License 2.0; the file, its licence and its
citation ship in ``hea_zoo/data/mpea/``.

1,545 measurements of 630 formulas from the literature: hardness, yield and ultimate
strength, elongation, Young's modulus, density, with the test type (compression or
tension), test temperature, processing route and the DOI of the source paper. Unlike the
bundled oracle table, it is real data: the same alloy appears several times with
different values, most property columns are missing for most rows, and values measured in
compression, in tension or at 1,000 °C are different quantities. `mpea_frame` returns the
rows a metallurgist would compare, under short column names; `load_dataset("mpea", ...)`
turns them into a `Dataset` (duplicates grouped, split by group).

Example:
    >>> frame = mpea_frame(["yield_strength", "elongation"], test_type="tension")
    >>> frame.columns[:3].tolist()
    ['composition', 'yield_strength', 'elongation']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hea_zoo.errors import DataError, UsageError

__all__ = [
    "MPEA_PATH",
    "MPEA_NAME",
    "MPEA_CITATION",
    "MPEA_COLUMNS",
    "MPEA_PROPERTIES",
    "MPEA_UNITS",
    "MPEA_SETTINGS",
    "MPEA_CATEGORICAL",
    "ROOM_TEMPERATURE",
    "TEST_TYPES",
    "PROCESSING_METHODS",
    "mpea_column",
    "mpea_frame",
    "mpea_selection",
    "MPEASelection",
]

MPEA_PATH = Path(__file__).resolve().parent / "mpea" / "MPEA_dataset.csv"
"""The bundled copy of the source file (unchanged)."""

MPEA_NAME = "mpea"
"""Name of the dataset (`load_dataset("mpea")`, `hea-zoo ... --data mpea`)."""

MPEA_CITATION = (
    "C. K. H. Borg et al., Expanded dataset of mechanical properties and observed phases of "
    "multi-principal element alloys, Scientific Data 7, 430 (2020), "
    "doi:10.1038/s41597-020-00768-9 (Apache-2.0)"
)

_T = "PROPERTY: Test temperature ($^\\circ$C)"

#: Short name -> the source's column name. Numeric property columns first.
MPEA_COLUMNS: dict[str, str] = {
    "hardness": "PROPERTY: HV",
    "yield_strength": "PROPERTY: YS (MPa)",
    "ultimate_strength": "PROPERTY: UTS (MPa)",
    "elongation": "PROPERTY: Elongation (%)",
    "elongation_plastic": "PROPERTY: Elongation plastic (%)",
    "youngs_modulus_exp": "PROPERTY: Exp. Young modulus (GPa)",
    "youngs_modulus_calc": "PROPERTY: Calculated Young modulus (GPa)",
    "density_exp": "PROPERTY: Exp. Density (g/cm$^3$)",
    "density_calc": "PROPERTY: Calculated Density (g/cm$^3$)",
    "grain_size": "PROPERTY: grain size ($\\mu$m)",
    "oxygen": "PROPERTY: O content (wppm)",
    "nitrogen": "PROPERTY: N content (wppm)",
    "carbon": "PROPERTY: C content (wppm)",
    "test_temperature": _T,
    # descriptive columns (filters, provenance)
    "formula": "FORMULA",
    "test_type": "PROPERTY: Type of test",
    "processing": "PROPERTY: Processing method",
    "microstructure": "PROPERTY: Microstructure",
    "phases": "PROPERTY: BCC/FCC/other",
    "reference_id": "IDENTIFIER: Reference ID",
    "doi": "REFERENCE: doi",
    "year": "REFERENCE: year",
    "title": "REFERENCE: title",
}

#: Units of the numeric columns (HV is a hardness number; "%" is engineering strain).
MPEA_UNITS: dict[str, str] = {
    "hardness": "HV",
    "yield_strength": "MPa",
    "ultimate_strength": "MPa",
    "elongation": "%",
    "elongation_plastic": "%",
    "youngs_modulus_exp": "GPa",
    "youngs_modulus_calc": "GPa",
    "density_exp": "g/cm^3",
    "density_calc": "g/cm^3",
    "grain_size": "um",
    "oxygen": "wppm",
    "nitrogen": "wppm",
    "carbon": "wppm",
    "test_temperature": "degC",
}

#: Short names that can be properties or conditions (numeric columns).
MPEA_PROPERTIES: tuple[str, ...] = tuple(MPEA_UNITS)

#: Columns that say how a value was measured: settings (inputs of the surrogate,
#: conditions of the generators), never properties to predict.
MPEA_SETTINGS: tuple[str, ...] = ("test_temperature",)

#: Descriptive (categorical) columns: filters (`test_type`, `processing`), not yet settings.
MPEA_CATEGORICAL: tuple[str, ...] = ("test_type", "processing")

#: The default test-temperature filter, °C (inclusive). The file's room-temperature rows
#: say 20, 23, 24 or 25 °C.
ROOM_TEMPERATURE: tuple[float, float] = (15.0, 30.0)

# A selection (after filters and dropna) keeps at least `MIN_ALLOYS` distinct alloys, the
# rule of every table (`hea_zoo.data.datasets.MIN_ALLOYS`).

#: Test types: short name -> the source's code.
TEST_TYPES: dict[str, str] = {"compression": "C", "tension": "T"}

#: The source's processing routes.
PROCESSING_METHODS: tuple[str, ...] = ("CAST", "WROUGHT", "ANNEAL", "POWDER", "OTHER")

_SOURCE_TO_SHORT = {v: k for k, v in MPEA_COLUMNS.items()}


def mpea_column(name: str) -> str:
    """The short name of a numeric MPEA column given its short or source name.

    Raises:
        DataError: an unknown name (``field="properties"``); the message lists the
            available short names.

    Example:
        >>> mpea_column("PROPERTY: HV")
        'hardness'
    """
    key = str(name).strip()
    key = _SOURCE_TO_SHORT.get(key, key)
    if key not in MPEA_UNITS:
        raise DataError(
            f"Unknown MPEA property {name!r}. Available: {', '.join(MPEA_PROPERTIES)} "
            "(or their source column names).",
            field="properties",
        )
    return key


def _read() -> pd.DataFrame:
    return pd.read_csv(MPEA_PATH)


def mpea_frame(
    properties: Sequence[str],
    test_type: str | None = None,
    temperature: tuple[float, float] | str | None = "room",
    processing: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The MPEA rows a comparison needs, under short column names.

    Args:
        properties: short (``hardness``, ``yield_strength``, ``elongation``,
            ``youngs_modulus_calc``, ``density_calc``, ``test_temperature``, ...) or
            source column names; see `MPEA_PROPERTIES`.
        test_type: ``"compression"``, ``"tension"`` or None (both, and rows with no test).
        temperature: ``(min, max)`` test temperature in °C, inclusive; ``"room"`` (the
            default) is `ROOM_TEMPERATURE`, 15–30 °C, unless ``test_temperature`` is one
            of `properties` (a condition: design for yield strength at 1,000 °C), when
            it keeps every temperature. None keeps every temperature. Rows without a
            recorded test temperature (in the source: hardness and calculated values
            with no mechanical test) count as 25 °C.
        processing: keep these processing routes only (`PROCESSING_METHODS`,
            case-insensitive), or None for all.

    Returns:
        A DataFrame with ``composition`` (the source's formula), the property columns
        (short names, float), then ``source_row`` (the row in the source file, 0-based),
        ``test_type``, ``processing`` and ``doi`` for provenance.

    Raises:
        DataError: an unknown property name (the message lists the valid ones).
        UsageError: no property or one named twice, an unknown test type or processing
            route (the message lists the valid ones), or a bad temperature range; ``field``
            names the parameter.
    """
    if isinstance(properties, str):
        properties = [properties]
    names = [mpea_column(p) for p in properties]
    if not names:
        raise UsageError(f"Expected at least one MPEA property. Available: {', '.join(MPEA_PROPERTIES)}.", field="properties")
    if len(set(names)) != len(names):
        raise UsageError(f"An MPEA property is named twice: {list(properties)}.", field="properties")
    raw = _read()
    keep = np.ones(len(raw), dtype=bool)
    if test_type is not None:
        key = str(test_type).strip().lower()
        if key not in TEST_TYPES:
            raise UsageError(
                f"Unknown test type {test_type!r}. Valid: {', '.join(TEST_TYPES)} (or None for all).",
                field="test_type",
            )
        keep &= (raw[MPEA_COLUMNS["test_type"]] == TEST_TYPES[key]).to_numpy()
    if isinstance(temperature, str):
        if temperature != "room":
            raise UsageError(
                f"must be (min, max) in °C, 'room' or None. Received: {temperature!r}", field="temperature"
            )
        temperature = None if "test_temperature" in names else ROOM_TEMPERATURE
    if temperature is not None:
        try:
            low, high = (float(t) for t in temperature)
        except (TypeError, ValueError):
            raise UsageError(f"must be (min, max) in °C. Received: {temperature!r}", field="temperature") from None
        if not (np.isfinite(low) and np.isfinite(high) and low <= high):
            raise UsageError(f"must be (min, max) with min <= max. Received: ({low}, {high})", field="temperature")
        t = raw[_T].to_numpy(dtype=np.float64)
        t = np.where(np.isnan(t), 25.0, t)
        keep &= (t >= low) & (t <= high)
    if processing is not None:
        wanted = {str(p).strip().upper() for p in ([processing] if isinstance(processing, str) else processing)}
        unknown = sorted(wanted - set(PROCESSING_METHODS))
        if unknown:
            raise UsageError(
                f"Unknown processing route(s) {unknown}. Valid: {', '.join(PROCESSING_METHODS)}.",
                field="processing",
            )
        keep &= raw[MPEA_COLUMNS["processing"]].str.upper().isin(wanted).to_numpy()
    rows = np.flatnonzero(keep)
    frame = pd.DataFrame({"composition": raw[MPEA_COLUMNS["formula"]].to_numpy()[rows]})
    for n in names:
        frame[n] = pd.to_numeric(raw[MPEA_COLUMNS[n]], errors="coerce").to_numpy(dtype=np.float64)[rows]
    frame["source_row"] = rows
    for n in ("test_type", "processing", "doi"):
        frame[n] = raw[MPEA_COLUMNS[n]].to_numpy()[rows]
    return frame


@dataclass(frozen=True)
class MPEASelection:
    """The MPEA rows of one request, ready for `hea_zoo.data.datasets.load_dataset`.

    Attributes:
        frame: `mpea_frame`'s table (``composition``, the properties, ``source_row``, ...).
        properties: the property columns (short names), in the order asked for.
        setting_columns: the properties that are conditions of a measurement rather than
            measured values (``test_temperature`` when it is one of them): rows are merged
            as duplicates only when these agree.
        description: the selection in words, for messages ("yield_strength, elongation;
            tension tests; 15-30 °C").
    """

    frame: pd.DataFrame
    properties: tuple[str, ...]
    setting_columns: tuple[str, ...]
    description: str
    settings: tuple[str, ...] = ()


def mpea_selection(
    properties: Sequence[str] | None,
    test_type: str | None = None,
    temperature: tuple[float, float] | str | None = "room",
    processing: Sequence[str] | None = None,
    settings: Sequence[str] = (),
) -> MPEASelection:
    """The MPEA rows for `properties` under the filters (`mpea_frame`), with the setting
    columns and a description of the selection.

    Args:
        settings: numeric setting columns read with the properties (``test_temperature``):
            with it, the default ``temperature="room"`` keeps every temperature.

    Raises:
        UsageError: no properties named (the message lists the available ones), a bad
            filter (`mpea_frame`), a setting (``test_temperature``) named as a property,
            or every temperature (``temperature=None``) without ``test_temperature`` as
            a setting (it would merge measurements from -269 to 1,600 °C into one value
            per alloy).
        DataError: an unknown property name.
    """
    if properties is None:
        raise UsageError(
            f"Name the MPEA properties to load. Available: {', '.join(MPEA_PROPERTIES)}.", field="properties"
        )
    if isinstance(properties, str):
        properties = [properties]
    names = tuple(mpea_column(p) for p in properties)
    settings = tuple(settings or ())
    as_property = [n for n in names if n in MPEA_SETTINGS and n not in settings]
    if as_property:
        raise UsageError(
            f"{', '.join(as_property)} is how a value was measured, not a property to predict (a surrogate "
            "would learn to guess the temperature from the composition): name it among the settings "
            f"(settings=[{', '.join(repr(n) for n in as_property)}]), an input of the surrogate fixed when designing.",
            field="properties",
        )
    if temperature == "room" and "test_temperature" in settings:
        temperature = None
    elif temperature is None and "test_temperature" not in settings:
        raise UsageError(
            "every test temperature (-269 to 1,600 °C) without test_temperature as a setting would merge "
            "measurements at different temperatures into one value per alloy; add test_temperature to the "
            "settings, or give a (min, max) range.",
            field="temperature",
        )
    extra = [c for c in settings if c not in names]
    frame = mpea_frame(list(names) + extra, test_type=test_type, temperature=temperature, processing=processing)
    description = _describe(names, test_type, temperature, processing)
    if settings:
        description += "; settings " + ", ".join(settings)
    return MPEASelection(frame, names, (), description, settings)


def _describe(names, test_type, temperature, processing) -> str:
    parts = [", ".join(names)]
    if test_type is not None:
        parts.append(f"{str(test_type).strip().lower()} tests")
    if temperature == "room":
        temperature = None if "test_temperature" in names else ROOM_TEMPERATURE
    parts.append("every test temperature" if temperature is None else f"{temperature[0]:g}-{temperature[1]:g} °C")
    if processing is not None:
        routes = [processing] if isinstance(processing, str) else list(processing)
        parts.append("processing " + ", ".join(str(p).strip().upper() for p in routes))
    return "; ".join(parts)
