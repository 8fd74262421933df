// The hea_zoo design engine (docs/DESIGN_ENGINE.md) in JavaScript: one ES module with no
// dependencies, for Node (>= 18, `import`) and the browser.
//
//   noise               section 1: the seeded standard-normal draw (hzn1)
//   printedThousandths  section 2: the printed composition, in thousandths
//   formulaString       section 2: its formula
//   checkConstraints    section 3: validation (one-line errors) and normalization
//   repairRow           section 3: repair and print of one raw candidate
//   relativeErrors      section 4: judging against a target
//   selectDesigns       section 5: dedupe, `closest` and `diverse` selection
//   design              the whole pipeline, in chunks, over caller-supplied models
//
// The models run outside this file: `generateFn(z, condition, rows)` returns the
// generator's `composition` (Float32Array, rows x elements) and `judgeFn(fractions, rows)`
// returns the surrogate's outputs ({mean, std?, lower?, upper?}, Float32Arrays, rows x
// properties). In Node they wrap onnxruntime-node, in the page onnxruntime-web.
//
// Integer steps are exact (uint32 via Math.imul and >>> 0); float steps are float64 in the
// order of the Python reference (hea_zoo.artifact), including NumPy's pairwise summation
// where the reference sums a row with NumPy.

export const NOISE_SPEC = "hzn1";
export const DROP_THRESHOLD = 0.005;
export const UNIT = 1000;
export const MAX_SEED = 4294967295;
export const DEFAULT_TOLERANCE = 0.05;
export const SYSTEM_MIN_THOUSANDTHS = 50;
export const MAX_CANDIDATES = 10000000;

const TWO32 = 4294967296;
const FLOAT32_MAX = 3.4028234663852886e38;

// --------------------------------------------------------------------------- 1. noise

/** A 32-bit integer hash (xor-shift-multiply, a bijection on uint32). */
export function mix32(x) {
  x >>>= 0;
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x21f0aaad) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x735a2d97) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  return x;
}

function isInteger(value) {
  return typeof value === "number" && Number.isInteger(value);
}

/** Throws unless `seed` is an integer in [0, 2^32 - 1]; returns it. */
export function checkSeed(seed, name = "seed") {
  if (!isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new Error(`${name} must be an integer in [0, ${MAX_SEED}]; got ${String(seed)}`);
  }
  return seed;
}

function checkNoiseRows(startRow, nRows, latentDim) {
  if (!isInteger(startRow) || !isInteger(nRows) || !isInteger(latentDim) || startRow < 0 || nRows < 0 ||
      latentDim < 1 || startRow + nRows > TWO32) {
    throw new Error(`noise rows must lie in [0, 2^32) and latentDim must be positive; got startRow=${startRow}, nRows=${nRows}, latentDim=${latentDim}`);
  }
}

/**
 * The integers of the noise draw: for row r and column j, `a` at [2 (r·latentDim + j)]
 * and `b` right after it (Uint32Array, 2 · nRows · latentDim).
 */
export function noiseWords(seed, startRow, nRows, latentDim) {
  checkSeed(seed);
  checkNoiseRows(startRow, nRows, latentDim);
  const key = mix32((seed ^ 0x9e3779b9) >>> 0);
  const out = new Uint32Array(2 * nRows * latentDim);
  for (let i = 0; i < nRows; i++) {
    const h = mix32((key ^ (startRow + i)) >>> 0);
    for (let j = 0; j < latentDim; j++) {
      const at = 2 * (i * latentDim + j);
      out[at] = mix32((h + 2 * j) >>> 0);
      out[at + 1] = mix32((h + 2 * j + 1) >>> 0);
    }
  }
  return out;
}

/**
 * Standard-normal noise, rows startRow .. startRow + nRows - 1 (Float32Array, row-major
 * nRows x latentDim). Row r depends only on (seed, r): chunks give the noise of one draw.
 */
export function noise(seed, startRow, nRows, latentDim) {
  const words = noiseWords(seed, startRow, nRows, latentDim);
  const out = new Float32Array(nRows * latentDim);
  for (let i = 0; i < out.length; i++) {
    const u1 = (words[2 * i] + 1) / TWO32;
    const u2 = words[2 * i + 1] / TWO32;
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

// ------------------------------------------------------------- 2. the printed composition

/** NumPy's float64 sum of `n` values from `start` (pairwise, 8 accumulators). */
export function numpySum(values, start = 0, n = values.length - start) {
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[start + i];
    // NumPy starts from -0.0 for an empty or all -0.0 sum; +0 is the same number here.
    return s;
  }
  if (n <= 128) {
    const r = [];
    for (let j = 0; j < 8; j++) r.push(values[start + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] += values[start + i + j];
    }
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += values[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return numpySum(values, start, n2) + numpySum(values, start + n2, n - n2);
}

function flatRows(rows, nElements) {
  if (rows.length > 0 && typeof rows[0] === "object" && rows[0] !== null) {
    const out = new Float64Array(rows.length * nElements);
    rows.forEach((row, i) => {
      if (row.length !== nElements) throw new Error(`row ${i} has ${row.length} values, expected ${nElements}`);
      for (let e = 0; e < nElements; e++) out[i * nElements + e] = Number(row[e]);
    });
    return out;
  }
  if (rows.length % nElements !== 0) {
    throw new Error(`expected rows of ${nElements} values; got ${rows.length} values`);
  }
  return rows;
}

/**
 * Prints one row (section 2) into `out` (Int32Array of nElements) from `x` at `offset`.
 * Returns false (and zeros) when the row cannot be printed.
 */
export function printRow(x, offset, nElements, threshold, out) {
  const cut = threshold - 1e-7;
  const kept = new Float64Array(nElements);
  let finite = true;
  for (let e = 0; e < nElements; e++) {
    const v = Number(x[offset + e]);
    if (!Number.isFinite(v) || !(v >= -1e-6)) finite = false;
    kept[e] = v >= cut ? v : 0;
  }
  out.fill(0);
  const total = numpySum(kept, 0, nElements);
  if (!finite || !(total > 0)) return false;
  const q = new Float64Array(nElements);
  const rem = new Float64Array(nElements);
  let deficit = UNIT;
  for (let e = 0; e < nElements; e++) {
    const f = kept[e] / total;
    if (f > 0) {
      q[e] = f * UNIT;
      out[e] = Math.floor(q[e] + 1e-3);
      rem[e] = q[e] - out[e];
      deficit -= out[e];
    } else {
      rem[e] = -Infinity;
    }
  }
  if (deficit > 0) {
    const order = Array.from({ length: nElements }, (_, e) => e);
    order.sort((a, b) => (rem[a] > rem[b] ? -1 : rem[a] < rem[b] ? 1 : a - b));
    for (let r = 0; r < deficit && r < nElements; r++) {
      if (rem[order[r]] > -Infinity) out[order[r]] += 1;
    }
  }
  return true;
}

/**
 * The printed composition of each row in thousandths (section 2).
 *
 * @param rows flat row-major values (any typed array or array; or an array of rows)
 * @param nElements columns per row
 * @param threshold drop threshold (default 0.005)
 * @returns {{k: Int32Array, ok: Uint8Array}} k row-major (rows sum to 1000 where ok)
 */
export function printedThousandths(rows, nElements, threshold = DROP_THRESHOLD) {
  const x = flatRows(rows, nElements);
  const n = x.length / nElements;
  const k = new Int32Array(x.length);
  const ok = new Uint8Array(n);
  const row = new Int32Array(nElements);
  for (let i = 0; i < n; i++) {
    ok[i] = printRow(x, i * nElements, nElements, threshold, row) ? 1 : 0;
    k.set(row, i * nElements);
  }
  return { k, ok };
}

/** A printed fraction as text: 250 -> "0.25", 1000 -> "1", 0 -> "0". */
export function fractionText(k) {
  if (k <= 0) return "0";
  if (k >= UNIT) return "1";
  return ("0." + String(k).padStart(3, "0")).replace(/0+$/, "");
}

/** The formula of a printed row: elements in column order, `Mo0.25Nb0.25W0.5`. */
export function formulaString(kRow, elements) {
  let out = "";
  for (let e = 0; e < elements.length; e++) {
    if (kRow[e] > 0) out += elements[e] + fractionText(kRow[e]);
  }
  return out;
}

// ------------------------------------------------------------------------ 3. constraints

function symbolList(value, what) {
  if (value === undefined || value === null) return null;
  const list = typeof value === "string" ? value.split(/[\s,;]+/).filter(Boolean) : Array.from(value);
  return list.map((s) => {
    if (typeof s !== "string") throw new Error(`${what}: element symbols must be strings; got ${JSON.stringify(s)}`);
    return s.trim();
  });
}

/**
 * Per-element bounds from text `Al=0:0.1, W=0.2:0.5` (also `Al=:0.1`, `W=0.2:`, `Ta=0.3`
 * for exactly 0.3) or from an object {Al: [0, 0.1]}; returns {symbol: [lo, hi]}.
 */
export function parseBounds(value) {
  if (value === undefined || value === null || value === "") return {};
  if (typeof value !== "string") {
    const out = {};
    for (const [symbol, pair] of Object.entries(value)) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new Error(`bounds for ${symbol} must be [lo, hi]; got ${JSON.stringify(pair)}`);
      }
      out[symbol.trim()] = [pair[0] === null || pair[0] === undefined ? 0 : Number(pair[0]),
        pair[1] === null || pair[1] === undefined ? 1 : Number(pair[1])];
    }
    return out;
  }
  const out = {};
  for (const item of value.split(/[,;\s]+/).filter(Boolean)) {
    const match = /^([A-Za-z]+)=([^:]*)(?::(.*))?$/.exec(item);
    if (!match) throw new Error(`bound ${JSON.stringify(item)} must read SYMBOL=LO:HI (e.g. Al=0:0.1)`);
    const [, symbol, loText, hiText] = match;
    const num = (text, fallback) => {
      if (text === undefined) return undefined;
      if (text.trim() === "") return fallback;
      const v = Number(text);
      if (!Number.isFinite(v)) throw new Error(`bound ${JSON.stringify(item)}: ${JSON.stringify(text)} is not a number`);
      return v;
    };
    const lo = num(loText, 0);
    const hi = hiText === undefined ? lo : num(hiText, 1);
    if (symbol in out) throw new Error(`bound for ${symbol} given twice`);
    out[symbol] = [lo, hi];
  }
  return out;
}

/**
 * Validates a constraints object over `elements` (section 3) and returns its normal form.
 *
 * Input (all optional): {allowed: [symbols] | "Mo,Nb", excluded, maxElements,
 * bounds: {Al: [lo, hi]} | "Al=0:0.1", minFraction}. Throws an Error with a one-line
 * message naming the problem for a contradictory or malformed request.
 *
 * @returns {{allowed: Uint8Array, lo: Float64Array, hi: Float64Array, required: Uint8Array,
 *   maxElements: number, minFraction: number, minThousandths: number, trivial: boolean}}
 */
export function checkConstraints(constraints, elements, threshold = DROP_THRESHOLD) {
  const c = constraints || {};
  const E = elements.length;
  const index = new Map(elements.map((s, e) => [s, e]));
  const known = (symbol, what) => {
    if (!index.has(symbol)) {
      throw new Error(`${what}: unknown element ${JSON.stringify(symbol)} (the model's elements: ${elements.join(" ")})`);
    }
    return index.get(symbol);
  };
  const allowedList = symbolList(c.allowed, "allowed elements");
  const excludedList = symbolList(c.excluded, "excluded elements") || [];
  const bounds = parseBounds(c.bounds);
  const allowed = new Uint8Array(E).fill(allowedList === null ? 1 : 0);
  if (allowedList !== null) for (const s of allowedList) allowed[known(s, "allowed elements")] = 1;
  for (const s of excludedList) allowed[known(s, "excluded elements")] = 0;
  const lo = new Float64Array(E);
  const hi = new Float64Array(E).fill(1);
  for (const [s, [l, h]] of Object.entries(bounds)) {
    const e = known(s, "bounds");
    lo[e] = l;
    hi[e] = h;
  }
  if (!allowed.some((a) => a)) throw new Error("no element is left: the allowed set is empty after the exclusions");
  for (let e = 0; e < E; e++) {
    if (!allowed[e] && lo[e] > 0) {
      throw new Error(`${elements[e]} has a lower bound ${lo[e]} but is excluded or not allowed`);
    }
  }
  for (let e = 0; e < E; e++) {
    if (!Number.isFinite(lo[e]) || !Number.isFinite(hi[e]) || lo[e] < 0 || hi[e] > 1 || lo[e] > 1 || hi[e] < 0) {
      throw new Error(`bounds of ${elements[e]} must lie in [0, 1]; got ${lo[e]}:${hi[e]}`);
    }
    if (lo[e] > hi[e]) throw new Error(`bounds of ${elements[e]}: lower ${lo[e]} exceeds upper ${hi[e]}`);
  }
  let sumLo = 0;
  for (let e = 0; e < E; e++) sumLo += lo[e];
  if (sumLo > 1) throw new Error(`the lower bounds sum to ${+sumLo.toFixed(6)} > 1`);
  let sumHi = 0;
  for (let e = 0; e < E; e++) if (allowed[e]) sumHi += hi[e];
  if (sumHi < 1) throw new Error(`the upper bounds of the allowed elements sum to ${+sumHi.toFixed(6)} < 1`);
  const required = new Uint8Array(E);
  let nRequired = 0;
  for (let e = 0; e < E; e++) if (lo[e] > 0) { required[e] = 1; nRequired++; }
  let m = E;
  if (c.maxElements !== undefined && c.maxElements !== null && c.maxElements !== "") {
    m = Number(c.maxElements);
    if (!Number.isInteger(m) || m < 1) throw new Error(`the maximum number of elements must be an integer >= 1; got ${String(c.maxElements)}`);
    if (m < nRequired) {
      throw new Error(`the maximum number of elements (${m}) is below the ${nRequired} elements with a lower bound above 0`);
    }
  }
  let fMin = threshold;
  if (c.minFraction !== undefined && c.minFraction !== null && c.minFraction !== "") {
    fMin = Number(c.minFraction);
    if (!Number.isFinite(fMin) || !(fMin > 0) || fMin > 1) {
      throw new Error(`the minimum fraction must lie in (0, 1]; got ${String(c.minFraction)}`);
    }
  }
  let raised = 0;
  for (let e = 0; e < E; e++) {
    if (lo[e] > 0 && lo[e] < fMin) { lo[e] = fMin; raised++; }
  }
  if (raised) {
    for (let e = 0; e < E; e++) {
      if (lo[e] > hi[e]) throw new Error(`bounds of ${elements[e]}: the minimum fraction ${fMin} exceeds the upper bound ${hi[e]}`);
    }
    let s = 0;
    for (let e = 0; e < E; e++) s += lo[e];
    if (s > 1) throw new Error(`the lower bounds, raised to the minimum fraction ${fMin}, sum to ${+s.toFixed(6)} > 1`);
  }
  const trivial = allowed.every((a) => a) && lo.every((v) => v === 0) && hi.every((v) => v === 1) &&
    m >= E && fMin === threshold;
  return {
    allowed, lo, hi, required, maxElements: m, minFraction: fMin,
    minThousandths: Math.ceil(UNIT * fMin - 1e-9), trivial, elements: Array.from(elements),
  };
}

/**
 * Repairs and prints one raw candidate (section 3, steps 1-7) into `out` (Int32Array).
 * Returns false when the candidate is dropped. `c` is checkConstraints' result.
 */
export function repairRow(raw, offset, c, out) {
  const E = c.lo.length;
  if (c.trivial) return printRow(raw, offset, E, c.minFraction, out);
  const x = new Float64Array(E);
  for (let e = 0; e < E; e++) x[e] = Number(raw[offset + e]);
  for (let e = 0; e < E; e++) if (!Number.isFinite(x[e])) { out.fill(0); return false; }
  // 1. off the allowed set; 2. below the minimum fraction (not required).
  for (let e = 0; e < E; e++) {
    if (!c.allowed[e]) x[e] = 0;
    else if (x[e] < c.minFraction && c.lo[e] === 0) x[e] = 0;
  }
  // 3. at most m elements: the required ones, then the largest of the rest.
  let present = 0;
  for (let e = 0; e < E; e++) if (x[e] > 0) present++;
  if (present > c.maxElements) {
    let slots = c.maxElements;
    for (let e = 0; e < E; e++) if (c.required[e]) slots--;
    const rest = [];
    for (let e = 0; e < E; e++) if (x[e] > 0 && !c.required[e]) rest.push(e);
    rest.sort((a, b) => (x[a] > x[b] ? -1 : x[a] < x[b] ? 1 : a - b));
    for (let r = Math.max(slots, 0); r < rest.length; r++) x[rest[r]] = 0;
  }
  // 4. required elements are present.
  for (let e = 0; e < E; e++) if (c.required[e] && x[e] === 0) x[e] = c.lo[e];
  // 5. normalize, then clip to the bounds and spread the difference, until nothing moves.
  let total = 0;
  for (let e = 0; e < E; e++) total += x[e];
  if (!(total > 0)) { out.fill(0); return false; }
  for (let e = 0; e < E; e++) x[e] = x[e] / total;
  const clipped = new Uint8Array(E);
  for (let round = 0; round < 50; round++) {
    let moved = 0;
    let clippedMass = 0;
    let free = 0;
    for (let e = 0; e < E; e++) {
      clipped[e] = 0;
      if (!(x[e] > 0)) continue;
      let v = x[e];
      if (v < c.lo[e]) v = c.lo[e];
      else if (v > c.hi[e]) v = c.hi[e];
      if (v !== x[e]) {
        clipped[e] = 1;
        moved = Math.max(moved, Math.abs(v - x[e]));
        x[e] = v;
        clippedMass += v;
      }
    }
    for (let e = 0; e < E; e++) if (x[e] > 0 && !clipped[e]) free += x[e];
    if (free > 0) {
      const mass = 1 - clippedMass;
      for (let e = 0; e < E; e++) {
        if (x[e] > 0 && !clipped[e]) {
          const v = (mass * x[e]) / free;
          moved = Math.max(moved, Math.abs(v - x[e]));
          x[e] = v;
        }
      }
    }
    if (!(moved > 1e-12)) break;
  }
  // 6. print with the minimum fraction as the drop threshold.
  if (!printRow(x, 0, E, c.minFraction, out)) return false;
  // 7. the printed composition meets every constraint exactly.
  let count = 0;
  for (let e = 0; e < E; e++) {
    const k = out[e];
    if (k > 0) {
      count++;
      if (!c.allowed[e] || k < c.minThousandths || k < UNIT * c.lo[e] - 1e-9 || k > UNIT * c.hi[e] + 1e-9) {
        out.fill(0);
        return false;
      }
    } else if (c.required[e]) {
      out.fill(0);
      return false;
    }
  }
  if (count > c.maxElements) { out.fill(0); return false; }
  return true;
}

// ------------------------------------------------------------------- 4. judging and ranking

/** Per-property floors of the relative error: 1 % of the training range (else 1e-9). */
export function scaleFloors(metadata, nProperties) {
  const range = metadata && metadata.condition_range;
  const out = new Float64Array(nProperties).fill(1e-9);
  if (Array.isArray(range) && range.length === 2) {
    for (let p = 0; p < nProperties; p++) {
      const w = Number(range[1][p]) - Number(range[0][p]);
      if (Number.isFinite(w)) out[p] = Math.max(0.01 * w, 1e-9);
    }
  }
  return out;
}

/** e_p = |mean_p - t_p| / max(|t_p|, floor_p) for one row of predictions (section 4). */
export function relativeErrors(mean, offset, target, floors) {
  const out = new Float64Array(target.length);
  for (let p = 0; p < target.length; p++) {
    const den = Math.max(Math.abs(target[p]), floors[p]);
    out[p] = Math.abs(Number(mean[offset + p]) - target[p]) / den;
  }
  return out;
}

// --------------------------------------------------------------------------- 5. selection

function byScore(a, b) {
  if (a.score < b.score) return -1;
  if (a.score > b.score) return 1;
  return a.index - b.index;
}

function squaredDistance(a, b) {
  let d = 0;
  for (let e = 0; e < a.length; e++) {
    const t = a[e] - b[e];
    d += t * t;
  }
  return d;
}

/**
 * Selects `n` designs from judged, deduplicated candidates ({index, k, score, inTolerance},
 * in candidate order) and returns them sorted by (score, index) (section 5).
 */
export function selectDesigns(judged, n, select = "diverse") {
  const sorted = judged.slice().sort(byScore);
  let chosen;
  if (select === "closest") {
    chosen = sorted.slice(0, n);
  } else if (select === "diverse") {
    const P = Math.max(50 * n, 2000);
    const pool = sorted.filter((d) => d.inTolerance).slice(0, P);
    if (pool.length <= n) {
      chosen = pool.concat(sorted.filter((d) => !d.inTolerance).slice(0, n - pool.length));
    } else {
      const D = new Float64Array(pool.length);
      const taken = new Uint8Array(pool.length);
      chosen = [pool[0]];
      taken[0] = 1;
      for (let i = 0; i < pool.length; i++) D[i] = squaredDistance(pool[i].k, pool[0].k);
      while (chosen.length < n) {
        let best = -1;
        for (let i = 0; i < pool.length; i++) {
          if (!taken[i] && (best < 0 || D[i] > D[best])) best = i;
        }
        taken[best] = 1;
        chosen.push(pool[best]);
        const kb = pool[best].k;
        for (let i = 0; i < pool.length; i++) {
          if (!taken[i]) D[i] = Math.min(D[i], squaredDistance(pool[i].k, kb));
        }
      }
    }
  } else {
    throw new Error(`select must be "diverse" or "closest"; got ${JSON.stringify(select)}`);
  }
  return chosen.sort(byScore);
}

/** The alloy system of a printed row: elements with k >= 50 (5 at.%), joined by "-". */
export function systemOf(kRow, elements) {
  const out = [];
  for (let e = 0; e < elements.length; e++) if (kRow[e] >= SYSTEM_MIN_THOUSANDTHS) out.push(elements[e]);
  return out.join("-");
}

/** How many distinct alloy systems the designs span. */
export function countSystems(designs, elements) {
  return new Set(designs.map((d) => systemOf(d.k, elements))).size;
}

// ------------------------------------------------------------------------------ metadata

function readVarint(buf, pos) {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error("truncated varint in the ONNX file");
    const byte = buf[pos++];
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return [value, pos];
  }
}

function* protoFields(buf, start, end) {
  let pos = start;
  while (pos < end) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) [, pos] = readVarint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let length;
      [length, pos] = readVarint(buf, pos);
      if (pos + length > end) throw new Error("truncated field in the ONNX file");
      yield { field, start: pos, end: pos + length };
      pos += length;
    } else throw new Error(`not an ONNX file (protobuf wire type ${wire})`);
  }
}

/**
 * An ONNX model's metadata_props (ModelProto field 14), read from the file's bytes:
 * lists and objects JSON-decoded, other values kept as strings.
 */
export function onnxMetadata(bytes) {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const text = new TextDecoder();
  const out = {};
  for (const f of protoFields(buf, 0, buf.length)) {
    if (f.field !== 14) continue;
    let key = "";
    let value = "";
    for (const g of protoFields(buf, f.start, f.end)) {
      const s = text.decode(buf.subarray(g.start, g.end));
      if (g.field === 1) key = s;
      else if (g.field === 2) value = s;
    }
    out[key] = value.startsWith("[") || value.startsWith("{") ? JSON.parse(value) : value;
  }
  return out;
}

/** Warnings for target values outside the generator's training-condition range. */
export function rangeWarnings(metadata, target) {
  const range = metadata.condition_range;
  const names = metadata.condition_names || [];
  const units = metadata.condition_units || [];
  const out = [];
  if (!Array.isArray(range) || range.length !== 2) return out;
  target.forEach((t, p) => {
    const lo = Number(range[0][p]);
    const hi = Number(range[1][p]);
    if (!(lo <= t && t <= hi)) {
      out.push(`target ${names[p]} = ${t} ${units[p] || ""} lies outside the training data ` +
        `(${+lo.toPrecision(3)}-${+hi.toPrecision(3)}); designs are extrapolations.`);
    }
  });
  return out;
}

// --------------------------------------------------------------------------- the pipeline

/** Validates design options; returns them completed with defaults. Throws one-line Errors. */
export function checkOptions(options) {
  const { metadata } = options;
  if (!metadata || !Array.isArray(metadata.elements) || !Array.isArray(metadata.condition_names)) {
    throw new Error("the generator's metadata lacks elements or condition_names (not a hea_zoo generator export)");
  }
  const names = metadata.condition_names;
  const units = metadata.condition_units || names.map(() => "");
  const latentDim = Number(metadata.latent_dim);
  if (!Number.isInteger(latentDim) || latentDim < 1) throw new Error(`the generator's latent_dim is not a positive integer: ${metadata.latent_dim}`);
  const raw = options.target;
  if (!Array.isArray(raw) && !ArrayBuffer.isView(raw)) throw new Error(`target must be ${names.length} numbers (${names.join(", ")})`);
  if (raw.length !== names.length) {
    throw new Error(`target must be ${names.length} numbers (${names.map((s, p) => `${s} [${units[p]}]`).join(", ")}); got ${raw.length}`);
  }
  const target = Array.from(raw, (v, p) => {
    const t = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
    if (typeof t !== "number" || !Number.isFinite(t)) throw new Error(`target ${names[p]} must be a finite number; got ${JSON.stringify(v)}`);
    if (Math.abs(t) > FLOAT32_MAX) throw new Error(`target ${names[p]} = ${t} is too large (beyond float32)`);
    return t;
  });
  const n = options.n === undefined ? 20 : options.n;
  if (!isInteger(n) || n < 1 || n > 100000) throw new Error(`the number of designs must be an integer in [1, 100000]; got ${String(n)}`);
  const seed = checkSeed(options.seed === undefined ? 0 : options.seed);
  const candidates = options.candidates === undefined || options.candidates === null ? Math.max(10 * n, 200) : options.candidates;
  if (!isInteger(candidates) || candidates < 1 || candidates > MAX_CANDIDATES) {
    throw new Error(`candidates must be an integer in [1, ${MAX_CANDIDATES}]; got ${String(candidates)}`);
  }
  const select = options.select === undefined ? "diverse" : options.select;
  if (select !== "diverse" && select !== "closest") throw new Error(`select must be "diverse" or "closest"; got ${JSON.stringify(select)}`);
  const tolerance = options.tolerance === undefined || options.tolerance === null ? DEFAULT_TOLERANCE : options.tolerance;
  if (typeof tolerance !== "number" || !Number.isFinite(tolerance) || !(tolerance > 0)) {
    throw new Error(`tolerance must be a positive number; got ${String(options.tolerance)}`);
  }
  const chunkSize = options.chunkSize === undefined ? 4096 : options.chunkSize;
  if (!isInteger(chunkSize) || chunkSize < 1) throw new Error(`chunkSize must be a positive integer; got ${String(chunkSize)}`);
  const threshold = metadata.composition_threshold === undefined ? DROP_THRESHOLD : Number(metadata.composition_threshold);
  const constraints = checkConstraints(options.constraints, metadata.elements, threshold);
  return { ...options, target, n, seed, candidates, select, tolerance, chunkSize, latentDim, threshold, constraints, names, units };
}

/**
 * Runs the whole design (sections 1-5) in chunks of candidates.
 *
 * @param {object} options
 * @param {(z: Float32Array, condition: Float32Array, rows: number) => Promise<Float32Array>} options.generateFn
 * @param {(fractions: Float32Array, rows: number) => Promise<{mean: Float32Array, std?: Float32Array, lower?: Float32Array, upper?: Float32Array}>} options.judgeFn
 * @param {object} options.metadata the generator's metadata (elements, latent_dim, condition_names, ...)
 * @param {number[]} options.target one value per condition, in the metadata's units
 * @param {number} [options.n=20] designs
 * @param {number} [options.seed=0] noise seed, integer in [0, 2^32 - 1]
 * @param {number} [options.candidates=max(10 n, 200)] candidates drawn
 * @param {"diverse"|"closest"} [options.select="diverse"]
 * @param {number} [options.tolerance=0.05]
 * @param {object} [options.constraints] see checkConstraints
 * @param {number} [options.chunkSize=4096]
 * @param {(done: number, total: number) => void} [options.onProgress]
 * @returns {Promise<object>} {designs, systems, warnings, counts, elements, names, units, ...}
 */
export async function design(options) {
  const o = checkOptions(options);
  const { generateFn, judgeFn } = options;
  if (typeof generateFn !== "function" || typeof judgeFn !== "function") {
    throw new Error("design needs generateFn and judgeFn");
  }
  const elements = options.metadata.elements;
  const E = elements.length;
  const P = o.target.length;
  const floors = scaleFloors(options.metadata, P);
  const seen = new Set();
  const judged = [];
  const counts = { candidates: o.candidates, printed: 0, unique: 0, inTolerance: 0 };
  const row = new Int32Array(E);
  const condition32 = Float32Array.from(o.target);
  for (let start = 0; start < o.candidates; start += o.chunkSize) {
    const rows = Math.min(o.chunkSize, o.candidates - start);
    const z = noise(o.seed, start, rows, o.latentDim);
    const condition = new Float32Array(rows * P);
    for (let i = 0; i < rows; i++) condition.set(condition32, i * P);
    const raw = await generateFn(z, condition, rows);
    if (!raw || raw.length !== rows * E) {
      throw new Error(`the generator returned ${raw ? raw.length : 0} values for ${rows} rows of ${E} elements`);
    }
    const fresh = [];
    for (let i = 0; i < rows; i++) {
      if (!repairRow(raw, i * E, o.constraints, row)) continue;
      counts.printed++;
      const key = row.join(",");
      if (seen.has(key)) continue;
      seen.add(key);
      fresh.push({ index: start + i, k: Int32Array.from(row) });
    }
    if (fresh.length) {
      const fractions = new Float32Array(fresh.length * E);
      fresh.forEach((d, i) => {
        for (let e = 0; e < E; e++) fractions[i * E + e] = d.k[e] / UNIT;
      });
      const out = await judgeFn(fractions, fresh.length);
      if (!out || !out.mean || out.mean.length !== fresh.length * P) {
        throw new Error(`the surrogate returned no properties for ${fresh.length} rows of ${P} properties`);
      }
      fresh.forEach((d, i) => {
        const errors = relativeErrors(out.mean, i * P, o.target, floors);
        let score = numpySum(errors, 0, P) / P;
        if (Number.isNaN(score)) score = Infinity;
        d.errors = errors;
        d.score = score;
        d.inTolerance = errors.every((e) => e <= o.tolerance);
        const pick = (a) => (a ? Array.from(a.subarray(i * P, (i + 1) * P)) : undefined);
        d.mean = pick(out.mean);
        d.std = pick(out.std);
        d.lower = pick(out.lower);
        d.upper = pick(out.upper);
        if (d.inTolerance) counts.inTolerance++;
        judged.push(d);
      });
    }
    if (options.onProgress) options.onProgress(start + rows, o.candidates);
  }
  counts.unique = judged.length;
  const chosen = selectDesigns(judged, o.n, o.select);
  const designs = chosen.map((d) => ({
    index: d.index,
    formula: formulaString(d.k, elements),
    k: Array.from(d.k),
    fractions: Array.from(d.k, (v) => v / UNIT),
    mean: d.mean,
    std: d.std,
    lower: d.lower,
    upper: d.upper,
    errors: Array.from(d.errors),
    score: d.score,
    inTolerance: d.inTolerance,
    system: systemOf(d.k, elements),
  }));
  return {
    designs,
    systems: countSystems(designs, elements),
    warnings: rangeWarnings(options.metadata, o.target),
    counts,
    elements: Array.from(elements),
    names: o.names,
    units: o.units,
    target: o.target,
    seed: o.seed,
    n: o.n,
    candidates: o.candidates,
    select: o.select,
    tolerance: o.tolerance,
    noise: NOISE_SPEC,
  };
}
