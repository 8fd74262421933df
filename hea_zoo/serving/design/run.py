"""One run of the design engine over a `Designer`'s models: sections 1-5 chunk by chunk
(`search`: the pipeline, the hashes, the stores, the selection) and section 6 (`emit`: the
blocks of rows, the sinks). No state passes between them but the `Run` record."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hea_zoo.artifact import noise, relative_errors
from hea_zoo.serving.constraints import _UNIT, _repair
from hea_zoo.serving.design import pipeline, selection, store
from hea_zoo.serving.design.hashing import SeenHashes
from hea_zoo.serving.design.sinks import CsvSink, ParquetSink
from hea_zoo.serving.design.table import _Block, _system_codes

if TYPE_CHECKING:  # pragma: no cover
    from hea_zoo.serving.design.designer import Designer

__all__ = ["Run", "search", "search_goals", "goal_candidates", "emit", "header", "selection_notes"]


@dataclasses.dataclass
class Run:
    """Sections 1-5 of one run: the counts and where the selected designs are."""

    dtype: np.dtype
    best: store.BestRecords | None  # `closest`: the store of the best records
    chosen: np.ndarray | None  # `diverse`: the selected records, sorted
    stores: list[store.BestRecords]
    n_valid: int
    n_distinct: int
    n_in_tolerance: int
    n_designs: int
    notes: list[str]

    def record_blocks(self, block: int = 16384) -> Iterator[tuple[int, np.ndarray]]:
        """The selected designs, best first, in blocks: ``(rank of the first, records)``."""
        if self.chosen is not None:
            chosen = self.chosen
            source: Iterator[np.ndarray] = (chosen[a : a + block] for a in range(0, chosen.size, block))
        else:
            source = self.best.sorted_blocks(block)
        rank = 1
        for records in source:
            yield rank, records
            rank += records.size

    def close(self) -> None:
        for held in self.stores:
            held.close()


def selection_notes(taken: selection.Selected, pool: int, n: int, tolerance: float, judged: bool) -> list[str]:
    """The notes of the diverse selection (section 5): fall-backs, in the words of both engines."""
    notes = []
    if judged and taken.filled:
        if pool < n:
            count = f"{pool:,} distinct candidate" + (" is" if pool == 1 else "s are")
            notes.append(
                f"only {count} within {100 * tolerance:g} % of the target on every property: the rest "
                "are the closest others (the closest selection)."
            )
        else:
            notes.append(
                f"only {taken.from_pool:,} of the {pool:,} best candidates within {100 * tolerance:g} % of the target "
                f"on every property are at least {selection.MIN_DISTANCE:g} apart (L1): the rest are the closest "
                "others (the closest selection)."
            )
    if taken.relaxed:
        pairs = f"{taken.twin_pairs:,} pair" + (" is" if taken.twin_pairs == 1 else "s are")
        notes.append(
            f"{pairs} closer than {selection.MIN_DISTANCE:g} (L1, near-copies): the candidates held only "
            f"{taken.records.size - taken.relaxed:,} designs at least that far apart (draw more candidates)."
        )
    return notes


def _first_in_chunk(designer: Designer, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the first occurrence of each printed row of a chunk (in order), and their hashes."""
    hashes = designer._hasher(k)
    first = np.sort(np.unique(hashes, return_index=True)[1])
    return first, hashes[first]


def _offer(records: np.ndarray, keep: np.ndarray, best, pool, fill, pool_parts: list | None = None) -> None:
    """Section 5's stores: every record to `best` (closest), else the kept ones to the pool
    (a store, or `pool_parts` when the pool is held whole) and the others to the fill."""
    if best is not None:
        best.offer(records)
        return
    if pool is not None:
        pool.offer(records[keep])
    else:
        pool_parts.append(records[keep])
    fill.offer(records[~keep])


def search(designer: Designer, t, n, seed, candidates, select, tolerance, rules, chunk_size, progress) -> Run:
    """Sections 1-5 over the candidates, chunk by chunk, with `designer`'s models: the selection."""
    size, n_props = len(designer.elements), len(designer.condition_names)
    dtype = store.record_dtype(size, n_props)
    floors = designer.scale_floors()
    condition = np.asarray(t, dtype=np.float32)[None, :]
    seen = SeenHashes()
    if select == "closest":
        best = store.BestRecords(n, dtype)
        pool = fill = None
        stores = [best]
    else:
        best = None
        capacity = max(50 * n, 2000)
        pool = store.BestRecords(capacity, dtype, spill=False)
        fill = store.BestRecords(capacity, dtype, spill=False)
        stores = [pool, fill]
    n_valid = n_distinct = n_in_tol = done = 0
    bar = pipeline.Progress(candidates, progress)

    def candidate_chunk(span: tuple[int, int]):
        """Sections 1-4 for one piece (in a worker thread): its distinct valid rows, judged."""
        start, rows = span
        z = noise(seed, rows, designer.latent_dim, start)
        raw = designer._decode(z, condition)
        k, ok = _repair(raw, rules)
        index = np.flatnonzero(ok)
        k = k[index]
        first, hashes = _first_in_chunk(designer, k)
        index, k = index[first], k[first]
        return rows, int(ok.sum()), index + start, k, hashes, designer.judge(k.astype(np.float32) / np.float32(_UNIT))

    try:
        pieces = pipeline.pieces(candidates, chunk_size, pipeline._PIECE_ROWS)
        for rows, valid, index, k, hashes, judged in pipeline._ordered_map(candidate_chunk, pieces):
            n_valid += valid
            fresh = seen.first_seen(hashes)  # across chunks, in candidate order
            index, k = index[fresh], k[fresh]
            n_distinct += index.size
            records = np.zeros(index.size, dtype)
            records["index"] = index
            records["k"] = k
            if judged is None:
                records["mean"] = records["lower"] = records["upper"] = np.nan
                records["score"] = 0.0
                in_tol = np.ones(index.size, bool)
            else:
                mean, lower, upper = (v[fresh] for v in judged)
                records["mean"], records["lower"], records["upper"] = mean, lower, upper
                with np.errstate(invalid="ignore"):
                    errors = relative_errors(mean, t, floors)
                    score = errors.sum(axis=1) / n_props
                    in_tol = np.all(errors <= tolerance, axis=1)
                records["score"] = np.where(np.isnan(score), np.inf, score)
            n_in_tol += int(in_tol.sum())
            _offer(records, in_tol, best, pool, fill)
            done += rows
            bar(done)
    finally:
        bar.close()
    notes: list[str] = []
    chosen = None
    if pool is not None:
        pool_records = np.concatenate(list(pool.sorted_blocks(1 << 30)) or [np.zeros(0, dtype)])
        fill_records = np.concatenate(list(fill.sorted_blocks(1 << 30)) or [np.zeros(0, dtype)])
        taken = selection.select_diverse(pool_records, fill_records, n, tolerance)
        notes.extend(selection_notes(taken, pool_records.size, n, tolerance, designer.has_surrogate))
        chosen = store.sort_records(taken.records)
    return Run(
        dtype=dtype, best=best, chosen=chosen, stores=stores, n_valid=n_valid, n_distinct=n_distinct,
        n_in_tolerance=n_in_tol, n_designs=chosen.size if chosen is not None else best.final_count(), notes=notes,
    )  # fmt: skip


def header(designer: Designer, dtype: np.dtype, plan=None) -> list[str]:
    """The output's columns (section 6, 7.5) for `designer`'s designs."""
    found = designer.nearest_training(np.zeros((0, len(designer.elements)), np.int64))
    nearest = ([], np.zeros(0)) if found is not None else None
    probe = _Block(designer, np.zeros(0, np.int64), np.zeros(0, dtype),
                   np.zeros((0, 1)) if designer.uses_oracle else None, None,
                   np.zeros(0) if designer._log_prob is not None else None, None, nearest, plan)  # fmt: skip
    return probe.columns()


def emit(designer: Designer, run: Run, t: np.ndarray | None, tolerance: float, out_path: Path | None,
         keep_rows: int, plan=None, stream=None):
    """Section 6: the selected designs in blocks (worker threads), written to `out_path`
    (CSV or Parquet, atomically) or as CSV to the binary file `stream`, and the first
    `keep_rows` kept: ``(kept columns, systems, count)``."""
    kept, systems = [], set()
    n_written = 0

    def consume(sink) -> None:
        nonlocal n_written

        def prepare(item):  # in a worker thread: the block's columns, text and systems
            block = designer._block(*item, t, tolerance, plan)
            found = _system_codes(block.records["k"])
            return block, (sink.prepare(block) if sink is not None else None), found

        for block, prepared, found in pipeline._ordered_map(prepare, run.record_blocks()):
            if sink is not None:
                sink.write(prepared)
            if n_written < keep_rows:
                part = block.arrays()
                take = min(keep_rows - n_written, block.records.size)
                kept.append({key: v[:take] for key, v in part.items()})
            systems.update(found)
            n_written += block.records.size

    from hea_zoo.files import atomic_write, table_format

    if stream is not None:
        consume(CsvSink(stream, header(designer, run.dtype, plan)))
    elif out_path is None:
        consume(None)
    elif table_format(out_path, field="out") == "parquet":

        def write_parquet(tmp: Path) -> None:
            sink = ParquetSink(tmp)
            try:
                consume(sink)
            finally:
                sink.close()

        atomic_write(out_path, write_parquet, field="out")
    else:

        def write_csv(tmp: Path) -> None:
            with open(tmp, "wb", buffering=1 << 20) as handle:
                consume(CsvSink(handle, header(designer, run.dtype, plan)))

        atomic_write(out_path, write_csv, field="out")
    return kept, systems, n_written


def goal_record_dtype(n_elements: int, n_properties: int, n_descriptors: int, n_objectives: int) -> np.dtype:
    """Section 7: a record of `store.record_dtype` with ``p`` (p_goals), the descriptor
    columns ``desc`` and the objective values ``obj`` ("larger is better")."""
    base = store.record_dtype(n_elements, n_properties)
    return np.dtype(base.descr + [("p", "<f8"), ("desc", "<f8", (max(n_descriptors, 1),)),
                                  ("obj", "<f8", (max(n_objectives, 1),))])  # fmt: skip


def goal_notes(taken: selection.Selected, pool: int, n: int, p_min: float) -> list[str]:
    """The notes of a goal selection's fall-backs (section 7.4); `pool`: the distinct
    candidates with p_goals >= p_min."""
    notes = []
    if taken.filled:
        if pool == 0:
            notes.append(f"no distinct candidate meets the goals with probability >= {p_min:g}: "
                         "the designs are the most probable.")  # fmt: skip
        else:
            count = f"{pool:,} distinct candidate" + (" meets" if pool == 1 else "s meet")
            notes.append(f"only {count} the goals with probability >= {p_min:g}: the rest are the most probable others.")
    if taken.relaxed:
        pairs = f"{taken.twin_pairs:,} pair" + (" is" if taken.twin_pairs == 1 else "s are")
        notes.append(
            f"{pairs} closer than {selection.MIN_DISTANCE:g} (L1, near-copies): the candidates held only "
            f"{taken.records.size - taken.relaxed:,} designs at least that far apart (draw more candidates)."
        )
    return notes


def goal_candidates(designer: Designer, plan, seed: int, start: int, rows: int, rules,
                    refine: tuple[int, np.ndarray] | None = None) -> np.ndarray:
    """The raw compositions of goal-mode candidates ``start ..`` (section 7.2): the random
    rows drawn, the others decoded at their own conditions; in a refinement round
    (``refine = (first row of the round, parents' printed rows)``, at least one parent)
    each row refines a parent; (rows, E) float32."""
    from hea_zoo.serving.design import goals as goals_module

    if refine is not None:
        first, parents = refine
        index = np.arange(start, start + rows, dtype=np.int64)
        return goals_module.refine_rows(seed, index, first, parents, rules.allowed, rules.max_elements)
    z = noise(seed, rows, designer.latent_dim, start)
    drawn = plan.random_mask(start, rows)
    if not drawn.any():
        return designer._decode_rows(z, plan.conditions(start, rows))
    raw = np.empty((rows, len(designer.elements)), np.float32)
    decoded = ~drawn
    raw[decoded] = designer._decode_rows(z[decoded], plan.conditions(start, rows)[decoded])
    raw[drawn] = goals_module.random_rows(seed, start + np.flatnonzero(drawn), rules.allowed, rules.max_elements)
    return raw


def search_goals(designer: Designer, plan, n, seed, candidates, select, rules, chunk_size, progress) -> Run:
    """Section 7 over the candidates, chunk by chunk: each candidate at its own condition,
    the exact descriptor goals as hard constraints, p_goals, the selection (7.4)."""
    from hea_zoo.data.descriptors import DescriptorTable
    from hea_zoo.serving.design import goals as goals_module

    size, n_props = len(designer.elements), len(designer.condition_names)
    dtype = goal_record_dtype(size, n_props, len(plan.descriptor_columns), len(plan.objectives))
    table = DescriptorTable(designer.elements) if plan.descriptor_columns else None
    p_min = plan.min_probability
    seen = SeenHashes()
    capacity = max(50 * n, 2000)
    best = pool = fill = None
    pool_parts: list[np.ndarray] = []
    if select == "closest" and not plan.objectives:
        best = store.BestRecords(n, dtype)
        stores = [best]
    else:
        fill = store.BestRecords(capacity, dtype, spill=False)
        stores = [fill]
        if not plan.objectives:
            pool = store.BestRecords(capacity, dtype, spill=False)
            stores.append(pool)
    n_valid = n_distinct = n_pool = n_failed = done = 0
    bar = pipeline.Progress(candidates, progress)

    def candidate_chunk(span: tuple[int, int], refine=None):
        start, rows = span
        k, ok = _repair(goal_candidates(designer, plan, seed, start, rows, rules, refine), rules)
        index = np.flatnonzero(ok)
        k = k[index]
        repaired = index.size
        descriptors = {}
        if table is not None and index.size:
            descriptors = table.compute(k, plan.descriptor_columns)
            keep = plan.descriptors_met(descriptors, index.size)
            for name, _direction in plan.objectives:
                if name in descriptors:  # a descriptor objective that is NaN drops the candidate
                    keep &= ~np.isnan(descriptors[name])
            index, k = index[keep], k[keep]
            descriptors = {name: v[keep] for name, v in descriptors.items()}
        elif table is not None:
            descriptors = {name: np.zeros(0) for name in plan.descriptor_columns}
        valid = int(index.size)  # met the constraints and the exact goals (before duplicates go)
        first, hashes = _first_in_chunk(designer, k)
        index, k = index[first], k[first]
        descriptors = {name: v[first] for name, v in descriptors.items()}
        judged = designer.judge(k.astype(np.float32) / np.float32(_UNIT))
        return rows, repaired, valid, index + start, k, hashes, descriptors, judged

    def chunks():
        """Every chunk's results, phase by phase (7.2): the exploration, then each refinement
        round from the designs the run would give before it (its parents)."""
        for number, (first, rows) in enumerate(plan.phases(candidates) if best is None else [(0, candidates)]):
            pieces = [(first + a, b) for a, b in pipeline.pieces(rows, chunk_size, pipeline._PIECE_ROWS)]
            if number == 0:
                yield from pipeline._ordered_map(candidate_chunk, pieces)
                continue
            designs = _goal_selection(plan, goals_module.REFINE_PARENTS * n, capacity, pool, fill, pool_parts)[0]
            meet = designs["p"] >= plan.min_probability if goals_module.PARENTS_MEET_GOALS else np.ones(designs.size, bool)
            parents = designs["k"][meet].astype(np.int64)
            if not parents.shape[0]:  # no design meets the goals yet: the round explores
                yield from pipeline._ordered_map(candidate_chunk, pieces)
                continue
            yield from pipeline._ordered_map(lambda span, refine=(first, parents): candidate_chunk(span, refine), pieces)

    try:
        for rows, repaired, valid, index, k, hashes, descriptors, judged in chunks():
            n_failed += repaired - valid
            n_valid += valid
            fresh = seen.first_seen(hashes)
            index, k = index[fresh], k[fresh]
            n_distinct += index.size
            records = np.zeros(index.size, dtype)
            records["index"] = index
            records["k"] = k
            for c, name in enumerate(plan.descriptor_columns):
                records["desc"][:, c] = descriptors[name][fresh]
            if judged is None:
                mean = lower = upper = np.full((index.size, n_props), np.nan, np.float32)
            else:
                mean, lower, upper = (v[fresh] for v in judged)
            records["mean"], records["lower"], records["upper"] = mean, lower, upper
            p = plan.p_goals(mean, lower, upper, designer.interval_z)
            records["p"] = p
            score = 1.0 - p
            records["score"] = np.where(np.isnan(score), np.inf, score)
            if plan.objectives:
                desc = {name: descriptors[name][fresh] for name in plan.descriptor_columns}
                values = plan.objective_values(mean, lower, upper, desc, designer.interval_z)
                records["obj"][:, : len(plan.objectives)] = np.where(np.isnan(values), -np.inf, values)
            in_pool = p >= p_min  # NaN: not in the pool
            n_pool += int(in_pool.sum())
            _offer(records, in_pool, best, pool, fill, pool_parts)
            done += rows
            bar(done)
    finally:
        bar.close()
    notes: list[str] = []
    if plan.descriptor_goals:
        goals_text = ", ".join(f"{name} in [{lo:g}, {hi:g}]" for name, lo, hi in plan.descriptor_goals)
        notes.append(
            f"{n_failed:,} of the {n_failed + n_valid:,} candidates that met the constraints missed the exact goals "
            f"({goals_text}) and were dropped."
        )
    chosen = None
    if best is None:
        chosen, taken = _goal_selection(plan, n, capacity, pool, fill, pool_parts)
        notes.extend(goal_notes(taken, n_pool, n, p_min))
    return Run(
        dtype=dtype, best=best, chosen=chosen, stores=stores, n_valid=n_valid, n_distinct=n_distinct,
        n_in_tolerance=n_pool, n_designs=chosen.size if chosen is not None else best.final_count(), notes=notes,
    )  # fmt: skip


def _goal_selection(plan, n: int, capacity: int, pool, fill, pool_parts: list) -> tuple[np.ndarray, selection.Selected]:
    """Section 7.4 over the records held so far (the stores are left as they are): the
    designs in the order they are shown, and the selection's account."""
    from hea_zoo.serving.design import goals as goals_module

    dtype = fill.dtype
    fill_records = np.concatenate(list(fill.sorted_blocks(1 << 30)) or [np.zeros(0, dtype)])
    if pool is not None:
        pool_records = np.concatenate(list(pool.sorted_blocks(1 << 30)) or [np.zeros(0, dtype)])
        taken = selection.select_diverse(pool_records, fill_records, n, 1.0 - plan.min_probability,
                                         systems_first=goals_module.SYSTEMS_FIRST)  # fmt: skip
        return store.sort_records(taken.records), taken
    pool_records = np.concatenate(pool_parts) if pool_parts else np.zeros(0, dtype)
    pool_records = pool_records[np.argsort(pool_records["index"], kind="stable")]
    o = pool_records["obj"]
    if len(plan.objectives) == 1:  # the pool: the best max(50 n, 2000) in objective order
        order = goals_module.objective_order(o, pool_records["p"], pool_records["index"])[:capacity]
        pool_records = pool_records[order]
    else:
        pool_records = pool_records[np.lexsort((pool_records["index"], -o[:, 1], -o[:, 0]))]
    args = (pool_records["k"], pool_records["obj"][:, : len(plan.objectives)], pool_records["p"],
            pool_records["index"], n, selection.MIN_DISTANCE_THOUSANDTHS)  # fmt: skip
    if len(plan.objectives) == 1:
        positions = goals_module.select_objective(*args)
    else:
        positions = goals_module.select_front(*args)
    taken = selection.complete(pool_records, positions, fill_records, n)
    return taken.records, taken
