"""The design engine: many different, realistic, constrained alloys for a target.

This is what `hea-zoo design` runs, with onnxruntime and NumPy alone (no TensorFlow, no
pymatgen; pandas only to build `DesignResult.table` or write Parquet). It implements
docs/DESIGN_ENGINE.md step for step, like the JavaScript engine of the browser page, so
the same exported models, target, seed, constraints and options give the same designs:

1. candidate ``r`` decodes noise row ``r`` of the seeded draw (`hea_zoo.artifact.noise`)
   at the target with the exported generator (``<name>.onnx``);
2. each candidate is repaired to satisfy the constraints (`hea_zoo.serving.constraints`:
   allowed and excluded elements, a maximum number of elements, per-element bounds, a
   minimum fraction) and printed:
   integers in thousandths (`hea_zoo.artifact.printed_thousandths`), the alloy a user
   would make; a candidate whose printed composition breaks a constraint is dropped;
3. duplicates (the same printed composition) are removed, first occurrence kept;
4. the exported surrogate (``surrogate.onnx``) judges the printed fractions: mean and
   interval per property; the score is the mean relative error to the target (with a
   floor of 1 % of the training range, so a target of 0 ranks sensibly);
5. selection: ``diverse`` (default) spreads the designs over the candidates within the
   tolerance by greedy max-sum diversification: each next design has the largest sum of
   cosine distances to those taken, discounted by its score (a design must differ from
   all those taken *and* be close to the target), and no two designs lie within L1 0.03
   of each other (twins) unless the candidates hold too few (a note says so);
   ``closest`` keeps the best scores.

Everything runs chunk by chunk with bounded memory: a bounded store of the best records
for ``closest`` (spilled to a temporary file when ``n`` is in the millions), a bounded
pool for ``diverse``, 64-bit hashes of the printed integer vectors for the duplicates.
Formula strings are made only for the rows that are shown or written, and the output is
written block by block (CSV; Parquet with pyarrow). Worker threads (one per core, at
most 4) generate, repair and judge pieces of 16,384 candidates and format the output
blocks while the calling thread removes duplicates, keeps the best and writes, in
candidate order, so the designs and every byte written do not depend on the threads.

The package's modules: `request` (the validated `DesignRequest`, every rule of a
request), `designer` (`Designer`: the models), `run` (a run over them: sections 1-6),
`hashing` (duplicates),
`store` (the best records, spilled to a file when large), `selection` (section 5),
`pipeline` (threads, pieces, progress), `sinks` (CSV and Parquet output, path checks),
`table` (rows, `DesignResult`, `format_table`), `text` (text of whole blocks), `many`
(a table of targets into one table: `design_many`, `read_targets`, `target_seed`) and
`cluster` (`many` on Dask distributed, imported only when used).

Example:
    >>> from hea_zoo.serving.design import Designer
    >>> designer = Designer.from_exported("cae")                        # doctest: +SKIP
    >>> result = designer.design({"shear_modulus": 60, "fracture_toughness": 35}, n=20, seed=0)  # doctest: +SKIP
    >>> result.table[["formula", "shear_modulus_surrogate"]].head(3)    # doctest: +SKIP
"""

from __future__ import annotations

from hea_zoo.errors import DesignError, InfeasibleError, ModelFileError, TargetError, UsageError
from hea_zoo.serving.constraints import (
    DEFAULT_MAX_ELEMENTS,
    DEFAULT_MIN_FRACTION,
    Constraints,
    _repair,
    apply_constraints,
    parse_bound,
)
from hea_zoo.serving.design import hashing, many, pipeline, run, selection, sinks, store, table, text
from hea_zoo.serving.design.designer import DEFAULT_MODEL, INTERVAL_Z, TYPICALITY_MODEL, Designer
from hea_zoo.serving.design.hashing import _RowHasher, _SeenHashes
from hea_zoo.serving.design.many import ClusterError, ManyResult, design_many, read_targets, target_seed
from hea_zoo.serving.design.pipeline import _ordered_map, _pieces, reuse_freed_memory
from hea_zoo.serving.design.request import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_N,
    DEFAULT_TOLERANCE,
    MAX_CANDIDATES,
    DesignRequest,
    default_candidates,
)
from hea_zoo.serving.design.selection import (
    DIVERSE_DISCOUNT,
    MIN_DISTANCE,
    MIN_DISTANCE_THOUSANDTHS,
    _discount,
    _max_sum,
    _twin_pairs,
)
from hea_zoo.serving.design.sinks import check_output_path
from hea_zoo.serving.design.store import _BestRecords, _record_dtype, _sort_records
from hea_zoo.serving.design.table import SYSTEM_MIN_THOUSANDTHS, DesignResult, _Block, _system_codes, format_table

__all__ = [
    "DEFAULT_TOLERANCE",
    "DEFAULT_MIN_FRACTION",
    "DEFAULT_MAX_ELEMENTS",
    "DEFAULT_MODEL",
    "DIVERSE_DISCOUNT",
    "MIN_DISTANCE",
    "MAX_CANDIDATES",
    "SYSTEM_MIN_THOUSANDTHS",
    "INTERVAL_Z",
    "DesignError",
    "UsageError",
    "TargetError",
    "InfeasibleError",
    "ModelFileError",
    "Constraints",
    "parse_bound",
    "apply_constraints",
    "default_candidates",
    "DesignRequest",
    "DesignResult",
    "Designer",
    "format_table",
    "check_output_path",
    "reuse_freed_memory",
    "design_many",
    "read_targets",
    "target_seed",
    "ManyResult",
    "ClusterError",
]
