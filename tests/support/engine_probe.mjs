// Runs pieces of examples/web/engine.js for the Python tests (tests/serving/test_onnx_node.py):
// its `ops` run in tests/support/node_server.mjs, or one request from the command line:
//
//   node tests/support/engine_probe.mjs REQUEST.json
//
// The request names an operation; arrays travel as little-endian binary files
// (float64 in, int32 / uint8 / float32 out) so thousands of rows cost nothing to pass.
// The answer is one JSON object on stdout.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as engine from "../../examples/web/engine.js";

function readFloat64(file) {
  const buf = fs.readFileSync(file);
  return new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
}

function write(file, typed) {
  fs.writeFileSync(file, Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength));
}

function errorOf(fn) {
  try {
    fn();
    return null;
  } catch (error) {
    return error.message;
  }
}

export const ops = {
  // Section 1: {seed, start, rows, dim, out} -> out (float32), out.words (uint32 a, b pairs)
  noise({ seed, start, rows, dim, out }) {
    write(out, engine.noise(seed, start, rows, dim));
    write(out + ".words", engine.noiseWords(seed, start, rows, dim));
    return {};
  },
  // Section 2: {input (float64 rows), elements, threshold, out} -> out.k, out.ok; formulas
  print({ input, elements, threshold, out }) {
    const { k, ok } = engine.printedThousandths(readFloat64(input), elements.length, threshold);
    write(out + ".k", k);
    write(out + ".ok", ok);
    const E = elements.length;
    const formulas = Array.from(ok, (good, i) => (good ? engine.formulaString(k.subarray(i * E, (i + 1) * E), elements) : null));
    return { formulas };
  },
  // Section 3: {cases: [constraints], elements, threshold} -> per case the error or the normal form
  constraints({ cases, elements, threshold }) {
    return {
      results: cases.map((c) => {
        let normal = null;
        const error = errorOf(() => { normal = engine.checkConstraints(c, elements, threshold); });
        return error === null
          ? { error, lo: Array.from(normal.lo), hi: Array.from(normal.hi), allowed: Array.from(normal.allowed),
            maxElements: normal.maxElements, minFraction: normal.minFraction, trivial: normal.trivial }
          : { error };
      }),
    };
  },
  // Section 3: {input (float64 raw rows), elements, threshold, constraints, out} -> out.k, out.ok
  repair({ input, elements, threshold, constraints, out }) {
    const c = engine.checkConstraints(constraints, elements, threshold);
    const raw = readFloat64(input);
    const E = elements.length;
    const n = raw.length / E;
    const k = new Int32Array(raw.length);
    const ok = new Uint8Array(n);
    const row = new Int32Array(E);
    for (let i = 0; i < n; i++) {
      ok[i] = engine.repairRow(raw, i * E, c, row) ? 1 : 0;
      k.set(row, i * E);
    }
    write(out + ".k", k);
    write(out + ".ok", ok);
    return {};
  },
  // Section 5: {judged: [{index, k, score, inTolerance}], n, select, tolerance} -> chosen indices, systems
  select({ judged, n, select, tolerance, elements }) {
    const chosen = engine.selectDesigns(judged, n, select, tolerance);
    return { indices: chosen.map((d) => d.index), systems: engine.countSystems(chosen, elements) };
  },
  // Section 6: {input (float64 rows), elements, out} -> out (float64, the oracle's values per row)
  oracle({ input, elements, out }) {
    const x = readFloat64(input);
    const E = elements.length;
    const values = new Float64Array((x.length / E) * 2);
    for (let i = 0; i < x.length / E; i++) values.set(engine.oracleProperties(x.subarray(i * E, (i + 1) * E), elements), 2 * i);
    write(out, values);
    return {};
  },
  // Section 6: {input (float64 values), decimals} -> the CSV text, `{:.1f}` and `{:g}` of each
  numbers({ input, decimals }) {
    const v = Array.from(readFloat64(input));
    return { csv: v.map((x) => engine.fixedText(x, decimals)), fixed1: v.map((x) => engine.formatFixed(x, 1)), g: v.map(engine.gText) };
  },
  // Design options: {options} -> the error message of checkOptions, or null
  options({ options }) {
    return { error: errorOf(() => engine.checkOptions(options)) };
  },
  // Section 7: {table (descriptors.json), elements, input (float64 thousandths rows), out} -> out (float64, 6 per row)
  descriptors({ table, elements, input, out }) {
    const t = engine.descriptorTable(table, elements);
    const k = Int32Array.from(readFloat64(input));
    const E = elements.length;
    const n = k.length / E;
    const values = new Float64Array(n * engine.DESCRIPTOR_NAMES.length);
    for (let i = 0; i < n; i++) {
      const d = engine.descriptorsOf(t, k, i * E);
      engine.DESCRIPTOR_NAMES.forEach((name, j) => { values[i * engine.DESCRIPTOR_NAMES.length + j] = d[name]; });
    }
    write(out, values);
    return { names: engine.DESCRIPTOR_NAMES };
  },
  // Section 7.2-7.3: {P, x: [...], cases: [[mu, lower, upper, lo, hi, coverage?]], coverages} -> alphas,
  // erfc(x), normalCdf(x), goalProbability (at the case's coverage when it has one), intervalZ(coverages)
  goalMath({ P, x, cases, coverages = [] }) {
    const num = (v) => (v === "inf" ? Infinity : v === "-inf" ? -Infinity : v);
    const xs = x.map(num);
    return {
      alphas: engine.rpAlphas(P),
      erfc: xs.map(engine.erfc),
      cdf: xs.map(engine.normalCdf),
      p: cases.map(([mu, lower, upper, lo, hi, coverage]) =>
        engine.goalProbability(mu, lower, upper, num(lo), num(hi), engine.intervalZ(coverage))),
      z: coverages.map((c) => engine.intervalZ(c)),
    };
  },
  // Section 7.2: {options (checkOptions' input, with goals), start, rows} -> the conditions (float32 as numbers)
  conditions({ options, start, rows }) {
    const o = engine.checkOptions(options);
    return { conditions: Array.from(engine.goalConditions(o.plan, start, rows)), boxes: o.plan.boxes };
  },
};

// Several operations in one Node process: {requests: [request, ...]} -> {answers: [...]}
// Section 7.2: {seed, rows: [r], constraints, elements, threshold, out} -> out (float32 rows x E)
ops.randomRows = ({ seed, rows, constraints, elements, threshold, out }) => {
  const c = engine.checkConstraints(constraints, elements, threshold);
  const E = elements.length;
  const raw = new Float32Array(rows.length * E);
  rows.forEach((r, i) => engine.randomRow(seed, r, c.allowed, c.maxElements, raw, i * E));
  write(out, raw);
  return {};
};

ops.batch = ({ requests }) => ({ answers: requests.map((r) => ops[r.op](r)) });

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  process.stdout.write(JSON.stringify(ops[request.op](request)) + "\n");
}
