"""The design engine's text (hea_zoo.serving.design.text and the CSV block writer) against
a row-at-a-time Python reading of docs/DESIGN_ENGINE.md section 6, on many random rows
and the edge cases: fractions 0.001 and 1, NaN and infinite values, huge numbers, the
oracle and log_prob columns, rows without an alloy system."""

from __future__ import annotations

import csv
import io
import math
import types

import numpy as np
import pytest

from hea_zoo.artifact import formula_strings
from hea_zoo.serving import design
from hea_zoo.serving.design import text
from tests.support.design_exports import EXPORTED

ELEMENTS = ["Al", "Nb", "Ta", "Ti", "W"]


def python_number(value: float, decimals: int) -> str:
    """Section 6: |v|·10^d rounded half to even, trailing zeros removed, a sign only if nonzero."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e12:
        return repr(value)
    scaled = int(np.rint(abs(value) * 10.0**decimals))
    whole, frac = divmod(scaled, 10**decimals)
    digits = str(whole) + ("." + f"{frac:0{decimals}d}".rstrip("0") if frac else "")
    return ("-" if value < 0 and scaled > 0 else "") + digits


def python_fraction(k: int) -> str:
    return "1" if k == 1000 else "0" if k == 0 else ("0." + f"{k:03d}").rstrip("0")


def python_system(row, elements) -> str:
    return "-".join(s for s, v in zip(elements, row) if v >= design.SYSTEM_MIN_THOUSANDTHS)


def edge_values(rng: np.random.Generator) -> np.ndarray:
    special = [0.0, -0.0, 5e-5, -5e-5, 1.5e-4, 2.5e-4, 0.99995, 9999.99995, 9999.5, 10000.0, -10000.25,
               123456789.125, -99999999999.9999, 1e12, -1e12, 1e20, 1.7976931348623157e308, 5e-324,
               np.nan, np.inf, -np.inf, 60.03125, 35.0]  # fmt: skip
    random = np.concatenate([rng.normal(0, 100, 3000), rng.normal(0, 1e-3, 500), rng.normal(0, 1e7, 300),
                             np.round(rng.normal(0, 50, 500), 4), rng.integers(-20000, 20000, 200) / 8])  # fmt: skip
    return np.concatenate([special, random])


@pytest.mark.parametrize("decimals", [0, 1, 4, 6])
def test_numbers_match_python(decimals):
    values = edge_values(np.random.default_rng(decimals))
    assert text.piece_strings(text.float_pieces(values, decimals)) == [python_number(v, decimals) for v in values]
    regular = values[np.isfinite(values) & (np.abs(values) < 1e4)]
    assert text.piece_strings(text.float_pieces(regular, decimals)) == [python_number(v, decimals) for v in regular]
    grid = values[:40].reshape(20, 2)
    expected = [python_number(a, decimals) + "," + python_number(b, decimals) + "," for a, b in grid]
    assert text.piece_strings(text.float_pieces(grid, decimals, b",")) == expected


def test_integers_match_python():
    values = np.array([0, 7, 10, 999, 1000, 9_999_999, 10_000_000, 123_456_789, 4_294_967_295, 10**14 - 1])
    assert text.piece_strings(text.integer_pieces(values)) == [str(v) for v in values]
    pairs = np.stack([values, values[::-1]], axis=1)
    assert text.piece_strings(text.integer_pieces(pairs, b",")) == [f"{a},{b}," for a, b in pairs]
    with pytest.raises(ValueError, match="integers in"):
        text.integer_pieces(np.array([-1]))


def test_long_tokens_take_several_pieces():
    tables = text.TextTables(["Al", "Unobtainium", "W"], system_min=50)
    k = np.array([[300, 700, 0], [0, 1000, 0], [1, 0, 999]])
    assert text.piece_strings(tables.formula_pieces(k)) == formula_strings(k, ["Al", "Unobtainium", "W"])
    assert text.piece_strings(tables.system_pieces(k)) == ["Al-Unobtainium", "Unobtainium", "W"]


def random_thousandths(rng: np.random.Generator, rows: int, size: int) -> np.ndarray:
    k = np.zeros((rows, size), np.int64)
    for i in range(rows):
        present = rng.choice(size, rng.integers(1, size + 1), replace=False)
        cuts = np.sort(rng.choice(np.arange(1, 1000), present.size - 1, replace=False))
        k[i, present] = np.diff(np.concatenate([[0], cuts, [1000]]))
    k[0] = 0
    k[0, 0] = 1000  # a pure element: fraction "1"
    k[1] = 0
    k[1, :3] = [1, 1, 998]  # the smallest fraction 0.001
    k[2] = 1000 // size
    k[2, : 1000 - k[2].sum()] += 1  # 22 elements of 45 or 46: no alloy system (none >= 50)
    return k


def python_rows(block) -> bytes:
    """Section 6 row by row with the csv module: the reference the vectorized writer must equal."""
    d, r = block.designer, block.records
    names, out = d.condition_names, io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    formulas = formula_strings(r["k"], d.elements)
    for i in range(r.size):
        row = [str(block.ranks[i]), str(r["index"][i]), formulas[i]]
        if d.has_surrogate:
            for j in range(len(names)):
                row += [python_number(float(r[key][i, j]), 4) for key in ("mean", "lower", "upper")]
        if block.oracle is not None:
            row += [python_number(float(block.oracle[i, j]), 4) for j in range(len(names))]
        if d.has_surrogate:
            row.append(python_number(float(r["score"][i]), 6))
        if block.oracle is not None:
            row.append(python_number(float(block.oracle_error[i]), 6))
        if d.has_surrogate:
            row.append(str(bool(block.in_tolerance[i])))
        if block.log_prob is not None:
            row.append(python_number(float(block.log_prob[i]), 4))
        row.append(python_system(r["k"][i], d.elements))
        row += [python_fraction(int(v)) for v in r["k"][i]]
        writer.writerow(row)
    return out.getvalue().encode()


def random_block(designer, rng: np.random.Generator, rows: int, oracle: bool, log_prob: bool):
    size, n_props = len(designer.elements), len(designer.condition_names)
    records = np.zeros(rows, design._record_dtype(size, n_props))
    records["index"] = rng.choice(2**32, rows, replace=False)
    records["k"] = random_thousandths(rng, rows, size)
    for key in ("mean", "lower", "upper"):
        records[key] = rng.normal(50, 30, (rows, n_props)).astype(np.float32)
    records["mean"][3] = np.nan
    records["lower"][4, 0] = -np.inf
    records["upper"][5, -1] = np.float32(3e38)
    records["score"] = np.abs(rng.normal(0, 0.1, rows))
    records["score"][3] = np.inf  # a NaN score becomes +inf
    records["score"][6] = 0.0000005  # half of the last of 6 decimals: to even
    oracle_values = rng.normal(40, 20, (rows, n_props)) if oracle else None
    oracle_error = np.abs(rng.normal(0, 0.1, rows)) if oracle else None
    if oracle:
        oracle_values[7] = [-0.00004, 1234567.89999]
    densities = rng.normal(-20, 30, rows) if log_prob else None
    if log_prob:
        densities[8] = np.nan
    ranks = np.arange(1000, 1000 + rows)
    in_tol = rng.random(rows) < 0.5
    return design._Block(designer, ranks, records, oracle_values, oracle_error, densities, in_tol)


@pytest.mark.parametrize("oracle", [False, True])
@pytest.mark.parametrize("log_prob", [False, True])
def test_csv_rows_match_the_python_writer(oracle, log_prob):
    designer = design.Designer.from_exported("cvae", EXPORTED)
    block = random_block(designer, np.random.default_rng(2 * oracle + log_prob), 1500, oracle, log_prob)
    assert python_system(block.records["k"][2], designer.elements) == ""
    assert block.csv_bytes() == python_rows(block)
    arrays = block.arrays()
    assert arrays["formula"] == formula_strings(block.records["k"], designer.elements)
    assert arrays["system"] == [python_system(row, designer.elements) for row in block.records["k"]]


def test_csv_rows_without_a_surrogate():
    designer = types.SimpleNamespace(
        elements=ELEMENTS, condition_names=["g"], has_surrogate=False,
        _texts=text.TextTables(ELEMENTS, design.SYSTEM_MIN_THOUSANDTHS),
    )  # fmt: skip
    block = random_block(designer, np.random.default_rng(9), 400, oracle=False, log_prob=False)
    block.in_tolerance = None
    assert block.csv_bytes() == python_rows(block)
    assert block.csv_bytes().split(b"\n")[0].count(b",") == len(block.columns()) - 1


@pytest.mark.parametrize("size", [5, 22, 64, 70])
def test_system_count_matches_the_system_strings(size):
    elements = [f"E{e}" for e in range(size)]
    k = random_thousandths(np.random.default_rng(size), 3000, size)
    k[10:200] = k[5]  # repeated systems
    assert len(design._system_codes(k)) == len({python_system(row, elements) for row in k})
