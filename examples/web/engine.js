// The hea_zoo design engine (docs/DESIGN_ENGINE.md) in JavaScript: one ES module with no
// dependencies, for Node (>= 18, `import`) and the browser. `hea-zoo design`
// (hea_zoo.serving.design) implements the same document: the same models, target, seed,
// constraints and options give the same designs, table and CSV.
//
//   checkOptions        section 0: the request, validated (the same fields, limits and errors)
//   noise               section 1: the seeded standard-normal draw (hzn1)
//   printedThousandths  section 2: the printed composition, in thousandths
//   formulaString       section 2: its formula
//   checkConstraints    section 3: validation (one-line errors), defaults and normal form
//   repairRow           section 3: repair and print of one raw candidate
//   relativeErrors      section 4: judging against a target
//   selectDesigns       section 5: `closest` and `diverse` selection (no twins: L1 >= 0.03)
//   oracleProperties    section 6: the physics oracle's values (models of the bundled data)
//   designsCsv          section 6: the output table as CSV
//   checkGoalFields     section 7.1: goals, objectives and min_probability, checked without a model
//   planGoals           section 7.1-7.2: the goals against the generator (names, reach), the condition boxes
//   goalConditions      section 7.2: each candidate's own condition (the R_P sequence)
//   descriptorTable     section 7.3: the exact descriptors' element table, read from descriptors.json
//   descriptorsOf       section 7.3: density, vec, delta, dhmix, omega, tm of a printed row
//   goalProbability     section 7.3: P(lo <= property <= hi) from the surrogate's interval
//   intervalZ           section 7.3: z of an interval's coverage
//   GoalSelection       section 7.4: selection with goals, one objective or a Pareto front of two
//   nearestTraining     section 7.5: the nearest training alloy of each design
//   design              the whole pipeline, in chunks, over caller-supplied models
//
// The models run outside this file: `generateFn(z, condition, rows)` returns the
// generator's `composition` (Float32Array, rows x elements), `judgeFn(fractions, rows)`
// the surrogate's outputs ({mean, std?, lower?, upper?}, Float32Arrays, rows x
// properties; no judgeFn: no surrogate) and `logProbFn(fractions, condition, rows)` a
// log-density per row (only for a generator whose metadata names a `log_prob_model`).
// In Node they wrap onnxruntime-node, in the page onnxruntime-web.
//
// Integer steps are exact (uint32 via Math.imul and >>> 0); float steps are float64 in the
// order of the Python engine (hea_zoo.artifact, hea_zoo.serving.design), including NumPy's
// pairwise summation where it sums a row with NumPy; float32 steps are rounded with
// Math.fround.

export const NOISE_SPEC = "hzn1";
export const DROP_THRESHOLD = 0.005;
export const UNIT = 1000;
export const MAX_SEED = 4294967295;
export const DEFAULT_TOLERANCE = 0.05;
export const SYSTEM_MIN_THOUSANDTHS = 50;
/** The most candidates a request may draw: 2^32, the noise rows (section 1, row index r < 2^32). */
export const MAX_CANDIDATES = 4294967296;
/** Designs closer than 30 thousandths summed over the elements (L1 < 0.03) are twins (section 5). */
export const MIN_DISTANCE_THOUSANDTHS = 30;
/** The generator used unless the request names one (the measured best, benchmarks/results/results.md). */
export const DEFAULT_MODEL = "cae";
/** Minimum fraction of any element in a design unless the request sets one (3 at.%). */
export const DEFAULT_MIN_FRACTION = 0.03;
/** Maximum number of elements in a design unless the request sets one (null: no limit). */
export const DEFAULT_MAX_ELEMENTS = null;
/** Designs returned unless the request says. */
export const DEFAULT_N = 20;
/** Standard-normal quantile of a two-sided 90 % interval (mean ± z std without calibration). */
export const INTERVAL_Z = 1.6448536269514722;
/** The data fingerprint of the bundled, oracle-labelled table (hea_zoo.constants). */
export const BUNDLED_FINGERPRINT = "b6856ab77c7722607a38bea47c5d5523e758956bdf86e6c8cf529fbd8c6fb8f9";

/** Candidates drawn for `n` designs unless the request says: max(100 n, 32000). */
export function defaultCandidates(n) {
  return Math.max(100 * n, 32000);
}

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

/** A request the engine cannot serve (hea_zoo.errors): `field` names the request field at
 * fault (docs/DESIGN_ENGINE.md, section 0) or is null; the message reads "<field>: <detail>". */
export class DesignError extends Error {
  constructor(message, field = null) {
    super(field ? `${field}: ${message}` : message);
    this.name = "DesignError";
    this.field = field;
    this.detail = message;
    this.exitCode = 2;
  }
}

/** A request field outside its domain (n, candidates, select, seed, chunk_size): exit code 2. */
export class UsageError extends DesignError {
  constructor(message, field = null) {
    super(message, field);
    this.name = "UsageError";
  }
}

/** A request that cannot be met as asked (a target, the tolerance, contradictory or unknown
 * constraints, or no candidate satisfying them): the CLI's exit code 5 ("target"). */
export class TargetError extends DesignError {
  constructor(message, field = null) {
    super(message, field);
    this.name = "TargetError";
    this.exitCode = 5;
  }
}

function symbolList(value, field) {
  if (value === undefined || value === null) return null;
  const list = typeof value === "string" ? value.split(/[\s,;]+/).filter(Boolean) : Array.from(value);
  return list.map((s) => {
    if (typeof s !== "string") throw new TargetError(`element symbols must be strings. Received: ${JSON.stringify(s)}`, field);
    return s.trim();
  });
}

/** Python's repr of a string in a message ('Al=0:0.1'). */
function quoted(text) {
  return `'${text}'`;
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
      const field = `bounds['${symbol.trim()}']`;
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TargetError(`the bounds of ${symbol} must be (lo, hi). Received: ${JSON.stringify(pair)}`, field);
      }
      out[symbol.trim()] = [pair[0] === null || pair[0] === undefined ? 0 : Number(pair[0]),
        pair[1] === null || pair[1] === undefined ? 1 : Number(pair[1])];
    }
    return out;
  }
  const out = {};
  for (const item of value.split(/[,;\s]+/).filter(Boolean)) {
    const match = /^([A-Za-z]+)=([^:]*)(?::(.*))?$/.exec(item);
    if (!match) throw new TargetError(`a bound must read SYMBOL=LO:HI (e.g. Al=0:0.1). Received: ${quoted(item)}`, "bounds");
    const [, symbol, loText, hiText] = match;
    const field = `bounds['${symbol}']`;
    const num = (text, fallback) => {
      if (text === undefined) return undefined;
      if (text.trim() === "") return fallback;
      const v = Number(text);
      if (!Number.isFinite(v)) throw new TargetError(`bound ${quoted(item)} must be a number. Received: ${quoted(text)}`, field);
      return v;
    };
    const lo = num(loText, 0);
    const hi = hiText === undefined ? lo : num(hiText, 1);
    if (symbol in out) throw new TargetError(`${symbol} is bounded twice.`, field);
    out[symbol] = [lo, hi];
  }
  return out;
}

function given(value) {
  return value !== undefined && value !== null && value !== "";
}

function thousands(value) {
  return value.toLocaleString("en-US");
}

/** A number as Python's `{:g}` writes it (6 significant digits, no trailing zeros). */
export function gText(value) {
  return gTextTo(value, 6);
}

/** Python's ``format(value, f".{precision}g")``. */
export function gTextTo(value, precision) {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? "nan" : value > 0 ? "inf" : "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  const [mant, e] = value.toExponential(precision - 1).split("e");
  const exp = Number(e); // the exponent after rounding to `precision` significant digits
  const strip = (text) => (text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text);
  if (exp < -4 || exp >= precision) return `${strip(mant)}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  return strip(formatFixed(value, precision - 1 - exp));
}

/** The chemical elements' symbols (isotopes such as D are not): an excluded element the
 * model lacks is already satisfied only if it is an element at all. */
export const PERIODIC_TABLE = new Set(("H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn " +
  "Ga Ge As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er " +
  "Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg " +
  "Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og").split(" "));

/** A target more than this many training ranges beyond its condition's training data is
 * refused (section 0). */
export const FAR_OUTSIDE = 1.0;

/**
 * Validates a constraints object over `elements` (section 3) and returns its normal form.
 *
 * Input (all optional): {allowed: [symbols] | "Mo,Nb", excluded, maxElements,
 * bounds: {Al: [lo, hi]} | "Al=0:0.1", minFraction}. Unset, `minFraction` is
 * DEFAULT_MIN_FRACTION (0.03) and `maxElements` DEFAULT_MAX_ELEMENTS (no limit), the
 * defaults of `hea-zoo design`. Throws an Error with a one-line message naming the problem
 * for a contradictory or malformed request. `threshold` is the generator's drop threshold
 * (the plain request prints with it).
 *
 * @returns {{allowed: Uint8Array, lo: Float64Array, hi: Float64Array, required: Uint8Array,
 *   maxElements: number, minFraction: number, minThousandths: number, trivial: boolean,
 *   elements: string[], description: string}}
 */
export function checkConstraints(constraints, elements, threshold = DROP_THRESHOLD) {
  const c = constraints || {};
  const E = elements.length;
  const index = new Map(elements.map((s, e) => [s, e]));
  const known = (symbol, field) => {
    if (!index.has(symbol)) {
      throw new TargetError(`unknown element ${quoted(symbol)}; the model's elements are ${elements.join(" ")}.`, field);
    }
    return index.get(symbol);
  };
  const allowedList = symbolList(c.allowed, "elements");
  let excludedList = symbolList(c.excluded, "exclude") || [];
  const notes = [];
  const absent = excludedList.filter((s) => !index.has(s) && PERIODIC_TABLE.has(s));
  if (absent.length) { // excluding an element the model never generates is already satisfied
    notes.push(`excluded ${absent.join(", ")}: not among the model's elements, so no design holds ` +
      `${absent.length === 1 ? "it" : "them"} anyway.`);
    excludedList = excludedList.filter((s) => !absent.includes(s));
  }
  const bounds = parseBounds(c.bounds);
  const allowed = new Uint8Array(E).fill(allowedList === null ? 1 : 0);
  if (allowedList !== null) for (const s of allowedList) allowed[known(s, "elements")] = 1;
  for (const s of excludedList) allowed[known(s, "exclude")] = 0;
  const lo = new Float64Array(E);
  const hi = new Float64Array(E).fill(1);
  for (const [s, [l, h]] of Object.entries(bounds)) {
    const e = known(s, `bounds['${s}']`);
    lo[e] = l;
    hi[e] = h;
  }
  const boundsOf = (e) => `bounds['${elements[e]}']`;
  if (!allowed.some((a) => a)) throw new TargetError("no element is left: the allowed elements are all excluded.", "exclude");
  for (let e = 0; e < E; e++) {
    if (!allowed[e] && lo[e] > 0) {
      throw new TargetError(`${elements[e]} is required (lower bound ${gText(lo[e])}) but excluded or not allowed.`, boundsOf(e));
    }
  }
  for (let e = 0; e < E; e++) {
    if (!Number.isFinite(lo[e]) || !Number.isFinite(hi[e]) || lo[e] < 0 || hi[e] > 1 || lo[e] > 1 || hi[e] < 0) {
      throw new TargetError(`the bounds of ${elements[e]} must lie in [0, 1]. Received: ${gText(lo[e])}:${gText(hi[e])}`, boundsOf(e));
    }
    if (lo[e] > hi[e]) {
      throw new TargetError(`the bounds of ${elements[e]} are contradictory: lower ${gText(lo[e])} > upper ${gText(hi[e])}.`, boundsOf(e));
    }
  }
  let sumLo = 0;
  for (let e = 0; e < E; e++) sumLo += lo[e];
  if (sumLo > 1) throw new TargetError(`the lower bounds sum to ${gText(sumLo)} > 1: no composition can meet them.`, "bounds");
  let sumHi = 0;
  for (let e = 0; e < E; e++) if (allowed[e]) sumHi += hi[e];
  if (sumHi < 1) {
    throw new TargetError(`the upper bounds of the allowed elements sum to ${gText(sumHi)} < 1: no composition can meet them.`, "bounds");
  }
  const required = new Uint8Array(E);
  let nRequired = 0;
  for (let e = 0; e < E; e++) if (lo[e] > 0) { required[e] = 1; nRequired++; }
  let m;
  if (given(c.maxElements)) {
    m = Number(c.maxElements);
    if (!Number.isInteger(m)) throw new TargetError(`must be an integer >= 1. Received: ${String(c.maxElements)}`, "max_elements");
    if (m < 1) throw new TargetError(`must be at least 1. Received: ${m}`, "max_elements");
    if (m < nRequired) {
      const names = elements.filter((_, e) => required[e]).join(", ");
      throw new TargetError(`${m} is below the ${nRequired} required elements (${names}).`, "max_elements");
    }
  } else {
    m = Math.max(DEFAULT_MAX_ELEMENTS === null ? E : DEFAULT_MAX_ELEMENTS, nRequired);
  }
  const defaultF = !given(c.minFraction);
  const fMin = defaultF ? DEFAULT_MIN_FRACTION : Number(c.minFraction);
  if (!defaultF && !Number.isFinite(fMin)) {
    throw new TargetError(`the minimum fraction must be a number. Received: ${JSON.stringify(c.minFraction)}`, "min_fraction");
  }
  if (!(fMin > 0) || fMin > 1) throw new TargetError(`must lie in (0, 1]. Received: ${gText(fMin)}`, "min_fraction");
  const hint = defaultF ? " (the default; set min_fraction to change it)" : "";
  let raised = 0;
  for (let e = 0; e < E; e++) {
    if (lo[e] > 0 && lo[e] < fMin) { lo[e] = fMin; raised++; }
  }
  if (raised) {
    for (let e = 0; e < E; e++) {
      if (lo[e] > hi[e]) {
        throw new TargetError(`the bounds of ${elements[e]}: the minimum fraction ${gText(fMin)}${hint} exceeds its upper bound ` +
          `${gText(hi[e])}.`, boundsOf(e));
      }
    }
    let s = 0;
    for (let e = 0; e < E; e++) s += lo[e];
    if (s > 1) throw new TargetError(`the lower bounds, raised to the minimum fraction ${gText(fMin)}${hint}, sum to ${gText(s)} > 1.`, "bounds");
  }
  // The plain request (section 3): every element allowed, no bounds, no maximum below E and
  // the drop threshold as the minimum fraction; steps 1-5 and 7 are skipped.
  const trivial = allowed.every((a) => a) && nRequired === 0 && hi.every((v) => v === 1) && m >= E && fMin === threshold;
  const parts = [];
  if (!allowed.every((a) => a)) parts.push("elements " + elements.filter((_, e) => allowed[e]).join(","));
  if (m < E) parts.push(`at most ${m} elements`);
  for (let e = 0; e < E; e++) if (lo[e] > 0 || hi[e] < 1) parts.push(`${elements[e]} ${gText(lo[e])}-${gText(hi[e])}`);
  parts.push(`min fraction ${gText(fMin)}`);
  return {
    allowed, lo, hi, required, maxElements: m, minFraction: fMin,
    minThousandths: Math.ceil(UNIT * fMin - 1e-9), trivial, elements: Array.from(elements), notes,
    given: !(c.allowed == null && !(symbolList(c.excluded, "exclude") || []).length && !given(c.maxElements) &&
      !Object.keys(bounds).length && !given(c.minFraction)),
    description: parts.join("; "),
  };
}

/** Step 7: whether a printed row (thousandths) meets every constraint of `c` exactly. */
export function satisfies(k, offset, c) {
  const E = c.lo.length;
  let count = 0;
  for (let e = 0; e < E; e++) {
    const v = k[offset + e];
    if (v > 0) {
      count++;
      if (!c.allowed[e] || v < c.minThousandths || v < UNIT * c.lo[e] - 1e-9 || v > UNIT * c.hi[e] + 1e-9) return false;
    } else if (c.required[e]) {
      return false;
    }
  }
  return count <= c.maxElements;
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
    else if (x[e] < c.minFraction && !c.required[e]) x[e] = 0;
  }
  // 3. the required elements count towards m whether or not present yet: at most m - r of
  // the others, the largest (ties: lower column).
  let nRequired = 0;
  for (let e = 0; e < E; e++) if (c.required[e]) nRequired++;
  const slots = Math.max(c.maxElements - nRequired, 0);
  const rest = [];
  for (let e = 0; e < E; e++) if (x[e] > 0 && !c.required[e]) rest.push(e);
  if (rest.length > slots) {
    rest.sort((a, b) => (x[a] > x[b] ? -1 : x[a] < x[b] ? 1 : a - b));
    for (let r = slots; r < rest.length; r++) x[rest[r]] = 0;
  }
  // 4. required elements are present.
  for (let e = 0; e < E; e++) if (c.required[e] && x[e] === 0) x[e] = c.lo[e];
  // 5. normalize (a sequential sum), then rounds of clipping to the bounds.
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
      }
    }
    for (let e = 0; e < E; e++) {
      if (clipped[e]) clippedMass += x[e];
      else if (x[e] > 0) free += x[e];
    }
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
    if (!(moved > 1e-12)) break; // a row that stopped is not touched again
  }
  // 6. print with the minimum fraction as the drop threshold; 7. exact constraints.
  if (!printRow(x, 0, E, c.minFraction, out)) return false;
  if (!satisfies(out, 0, c)) { out.fill(0); return false; }
  return true;
}

// ------------------------------------------------------------------- 4. judging and ranking

/** The generator's training-condition range as [lo[], hi[]], or null where unknown. */
export function trainingRange(metadata, nProperties) {
  const range = metadata && metadata.condition_range;
  if (!Array.isArray(range) || range.length !== 2) return null;
  const out = [[], []];
  for (let side = 0; side < 2; side++) {
    if (!Array.isArray(range[side]) || range[side].length !== nProperties) return null;
    for (let p = 0; p < nProperties; p++) {
      const v = Number(range[side][p]);
      if (!Number.isFinite(v)) return null;
      out[side].push(v);
    }
  }
  return out;
}

/** Per-property floors of the relative error: max(1 % of the training range, 1e-9), else 1e-9. */
export function scaleFloors(metadata, nProperties) {
  const range = trainingRange(metadata, nProperties);
  const out = new Float64Array(nProperties).fill(1e-9);
  if (range) for (let p = 0; p < nProperties; p++) out[p] = Math.max(0.01 * (range[1][p] - range[0][p]), 1e-9);
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

/** The score of a row of relative errors: their sum (NumPy's order) / P; NaN becomes +inf. */
export function scoreOf(errors) {
  const score = numpySum(errors, 0, errors.length) / errors.length;
  return Number.isNaN(score) ? Infinity : score;
}

// --------------------------------------------------------------------------- 5. selection

function byScore(a, b) {
  if (a.score < b.score) return -1;
  if (a.score > b.score) return 1;
  return a.index - b.index;
}

/** The `capacity` best records by (score, index), offered in any order; bounded memory. */
class BestStore {
  constructor(capacity, order = byScore) {
    this.capacity = capacity;
    this.order = order;
    this.items = [];
  }

  offer(item) {
    this.items.push(item);
    if (this.items.length >= 2 * this.capacity + 4096) this.prune();
  }

  prune() {
    this.items.sort(this.order);
    if (this.items.length > this.capacity) this.items.length = this.capacity;
  }

  sorted() {
    this.prune();
    return this.items;
  }
}

/** Section 5: the diverse selection's discount of a candidate, (1 - score / tolerance)^1.25 (f >= 0 in the pool). */
function discount(score, tolerance) {
  const f = 1 - score / tolerance;
  return f * Math.sqrt(Math.sqrt(f));
}

/** The L1 distance of two printed rows, in thousandths (an exact integer). */
function l1(a, b) {
  let d = 0;
  for (let e = 0; e < a.length; e++) d += Math.abs(a[e] - b[e]);
  return d;
}

/** How many pairs of `designs` are twins (L1 < MIN_DISTANCE_THOUSANDTHS). */
export function twinPairs(designs) {
  let pairs = 0;
  for (let i = 1; i < designs.length; i++) {
    for (let j = 0; j < i; j++) if (l1(designs[i].k, designs[j].k) < MIN_DISTANCE_THOUSANDTHS) pairs++;
  }
  return pairs;
}

/**
 * Greedy max-sum diversification by cosine distance, discounted, over `pool` (pool order):
 * the first is taken, then repeatedly the eligible one with the largest A_i * discount(score_i)
 * (A_i the sum, over those taken in the order taken, of the cosine distance
 * 1 - (k_i . k_s) / sqrt(|k_i|^2 |k_s|^2), exact integers but for the quotient; ties:
 * earlier in the pool), where a candidate within L1 < 30 thousandths of one taken (a twin)
 * is not eligible. Returns the positions taken (at most `n`, fewer when none is eligible).
 */
function maxSum(pool, n, tolerance, systemsFirst = false) {
  const P = pool.length;
  const E = pool[0].k.length;
  // section 7.4: with systemsFirst, candidates of an alloy system not yet taken come first
  const system = systemsFirst ? pool.map((d) => Array.from(d.k, (v) => (v >= 50 ? 1 : 0)).join("")) : null;
  const taken = new Set();
  const k = new Int32Array(P * E);
  pool.forEach((d, i) => k.set(d.k, i * E));
  const weight = Float64Array.from(pool, (d) => discount(d.score, tolerance));
  const norm = new Float64Array(P);
  for (let i = 0; i < P; i++) {
    let q = 0;
    for (let e = 0; e < E; e++) q += k[i * E + e] * k[i * E + e];
    norm[i] = q;
  }
  const A = new Float64Array(P);
  const blocked = new Uint8Array(P); // taken, or a twin of one taken
  const take = (s) => {
    for (let i = 0; i < P; i++) {
      let dot = 0;
      let dist = 0;
      for (let e = 0; e < E; e++) {
        dot += k[i * E + e] * k[s * E + e];
        dist += Math.abs(k[i * E + e] - k[s * E + e]);
      }
      A[i] += 1 - dot / Math.sqrt(norm[i] * norm[s]);
      if (dist < MIN_DISTANCE_THOUSANDTHS) blocked[i] = 1;
    }
    blocked[s] = 1;
    if (system) taken.add(system[s]);
  };
  const chosen = [0];
  take(0);
  while (chosen.length < n) {
    let best = -1;
    let bestValue = -Infinity;
    let onlyNew = false;
    if (system) for (let i = 0; i < P && !onlyNew; i++) if (!blocked[i] && !taken.has(system[i])) onlyNew = true;
    for (let i = 0; i < P; i++) {
      if (blocked[i] || (onlyNew && taken.has(system[i]))) continue;
      const value = A[i] * weight[i];
      if (best < 0 || value > bestValue) {
        best = i;
        bestValue = value;
      }
    }
    if (best < 0) break; // no candidate left that is no twin of one taken
    chosen.push(best);
    take(best);
  }
  return chosen;
}

/** Keeps judged candidates for a selection (section 5) with bounded memory. */
export class Selection {
  constructor(n, select, tolerance = DEFAULT_TOLERANCE, systemsFirst = false) {
    if (select !== "diverse" && select !== "closest") {
      throw new Error(`select must be "diverse" or "closest"; got ${JSON.stringify(select)}`);
    }
    this.n = n;
    this.select = select;
    this.tolerance = tolerance;
    this.systemsFirst = systemsFirst;
    if (select === "closest") {
      this.best = new BestStore(n);
    } else {
      this.pool = new BestStore(Math.max(50 * n, 2000));
      this.fill = new BestStore(Math.max(50 * n, 2000));
    }
  }

  /** A judged, distinct candidate {index, k, score, inTolerance, ...}. */
  offer(d) {
    if (this.best) this.best.offer(d);
    else if (d.inTolerance) this.pool.offer(d);
    else this.fill.offer(d);
  }

  /**
   * The chosen candidates sorted by (score, index) and how they were taken (section 5):
   * max-sum over the pool (no twins), then the closest out-of-tolerance candidates that are
   * no twin of one taken, then, if still fewer than n, the rest in order (twins allowed).
   */
  finish(n = this.n) {
    if (this.best) return { chosen: this.best.sorted().slice(), pool: null, fromPool: 0, filled: 0, relaxed: 0, twinPairs: 0 };
    const pool = this.pool.sorted();
    const fill = this.fill.sorted();
    const taken = pool.length ? maxSum(pool, n, this.tolerance, this.systemsFirst) : [];
    const chosen = taken.map((i) => pool[i]);
    const used = new Set(chosen);
    for (const d of fill) {
      if (chosen.length >= n) break;
      if (chosen.every((c) => l1(c.k, d.k) >= MIN_DISTANCE_THOUSANDTHS)) {
        chosen.push(d);
        used.add(d);
      }
    }
    const filled = chosen.length - taken.length;
    let relaxed = 0;
    for (const d of pool.concat(fill)) {
      if (chosen.length >= n) break;
      if (used.has(d)) continue;
      chosen.push(d);
      relaxed++;
    }
    const twins = relaxed ? twinPairs(chosen) : 0;
    return { chosen: chosen.sort(byScore), pool: pool.length, fromPool: taken.length, filled, relaxed, twinPairs: twins };
  }
}

/**
 * Selects `n` designs from judged, deduplicated candidates ({index, k, score, inTolerance})
 * and returns them sorted by (score, index) (section 5); `tolerance` discounts the diverse
 * selection's distances (its default DEFAULT_TOLERANCE).
 */
export function selectDesigns(judged, n, select = "diverse", tolerance = DEFAULT_TOLERANCE) {
  const selection = new Selection(n, select, tolerance);
  for (const d of judged) selection.offer(d);
  return selection.finish().chosen;
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

// ------------------------------------------------------------------------------ 6. output

// The element data of the physics oracle (hea_zoo.data.elements; checked by the tests):
// shear and bulk modulus [GPa], melting point [K], valence electrons, atomic mass [u],
// density [g/cm^3], atomic radius [angstrom].
const ORACLE_ELEMENTS = {
  Al: [26.0, 76.0, 933.47, 3, 26.9815386, 2.7, 1.432],
  Be: [132.0, 130.0, 1560.0, 2, 9.012182, 1.85, 1.128],
  Co: [75.0, 180.0, 1768.0, 9, 58.933195, 8.86, 1.251],
  Cr: [115.0, 160.0, 2180.0, 6, 51.9961, 7.15, 1.249],
  Cu: [48.0, 140.0, 1357.77, 11, 63.546, 8.96, 1.278],
  Fe: [82.0, 170.0, 1811.0, 8, 55.845, 7.87, 1.241],
  Hf: [30.0, 110.0, 2506.0, 4, 178.49, 13.31, 1.578],
  Ir: [210.0, 320.0, 2719.0, 9, 192.217, 22.56, 1.357],
  Mn: [79.8, 120.0, 1519.0, 7, 54.938045, 7.21, 1.35],
  Mo: [126.0, 230.0, 2896.0, 6, 95.94, 10.28, 1.363],
  Nb: [38.0, 170.0, 2750.0, 5, 92.90638, 8.57, 1.429],
  Ni: [76.0, 180.0, 1728.0, 10, 58.6934, 8.9, 1.246],
  O: [NaN, NaN, 54.36, 6, 15.9994, 0.001429, 0.66],
  Re: [178.0, 370.0, 3459.0, 7, 186.207, 21.02, 1.375],
  Ru: [173.0, 220.0, 2607.0, 8, 101.07, 12.45, 1.339],
  Si: [66.4, 96.4, 1687.0, 4, 28.0855, 2.33, 1.153],
  Ta: [69.0, 200.0, 3290.0, 5, 180.94788, 16.65, 1.43],
  Ti: [44.0, 110.0, 1941.0, 4, 47.867, 4.51, 1.462],
  V: [47.0, 160.0, 2183.0, 5, 50.9415, 6.11, 1.316],
  W: [161.0, 310.0, 3695.0, 6, 183.84, 19.25, 1.367],
  Y: [26.0, 41.0, 1799.0, 3, 88.90585, 4.47, 1.801],
  Zr: [33.0, 91.7, 2128.0, 4, 91.224, 6.51, 1.603],
};
const ORACLE = {
  cGamma: 4.0, pughThreshold: 1.75, pughWidth: 0.25, vecThreshold: 4.6, vecWidth: 0.3,
  deltaThreshold: 0.066, deltaWidth: 0.01, alphaPlastic: 1.0e4, betaOxygen: 15.0,
};
const K_B_EV = 8.617333262e-5;
const EV_PER_A2_TO_J_PER_M2 = 16.02176634;
const AVOGADRO = 6.02214076e23;

/** Whether the physics oracle applies to a generator: it labelled the bundled data only. */
export function oracleApplies(metadata) {
  return Boolean(metadata) && metadata.data_fingerprint === BUNDLED_FINGERPRINT &&
    Array.isArray(metadata.elements) && metadata.elements.every((s) => s in ORACLE_ELEMENTS);
}

function dot(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * The physics oracle (hea_zoo.data.oracle) of one composition: [shear modulus (GPa),
 * fracture toughness (MPa m^0.5)], float64. `x` holds fractions over `elements`.
 */
export function oracleProperties(x, elements) {
  const metals = [];
  let xO = 0;
  elements.forEach((s, e) => {
    if (!(s in ORACLE_ELEMENTS)) throw new Error(`the oracle is defined for the study's 22 elements only; got ${s}`);
    if (s === "O") xO += Number(x[e]);
    else metals.push(e);
  });
  const table = metals.map((e) => ORACLE_ELEMENTS[elements[e]]);
  const col = (j) => table.map((row) => row[j]);
  const G = col(0);
  const B = col(1);
  const Tm = col(2);
  const radius = col(6);
  const omega = table.map((row) => row[4] / row[5] / AVOGADRO * 1e24);
  const xm0 = metals.map((e) => Number(x[e]));
  const metalTotal = numpySum(xm0);
  if (!(metalTotal > 0)) throw new Error("every composition needs at least one metallic element");
  const xm = xm0.map((v) => v / metalTotal);
  const vol = xm.map((v, i) => v * omega[i]);
  const volTotal = numpySum(vol);
  const phi = vol.map((v) => v / volTotal);
  const hill = (moduli) => 0.5 * (dot(phi, moduli) + 1.0 / dot(phi, moduli.map((m) => 1.0 / m)));
  const g = hill(G);
  const b = hill(B);
  const e = (9.0 * b * g) / (3.0 * b + g);
  const nu = (3.0 * b - 2.0 * g) / (2.0 * (3.0 * b + g));
  const tm = dot(xm, Tm);
  const om = dot(xm, omega);
  const gammaS = (ORACLE.cGamma * K_B_EV * tm) / om ** (2.0 / 3.0) * EV_PER_A2_TO_J_PER_M2;
  const vec = dot(Array.from(x, Number), elements.map((s) => ORACLE_ELEMENTS[s][3]));
  const pugh = b / g;
  const sig = (t) => 1.0 / (1.0 + Math.exp(-t));
  const rMean = dot(xm, radius);
  const delta = Math.sqrt(numpySum(xm.map((v, i) => v * (1.0 - radius[i] / rMean) ** 2)));
  const ductility = sig((pugh - ORACLE.pughThreshold) / ORACLE.pughWidth) *
    sig((ORACLE.vecThreshold - vec) / ORACLE.vecWidth) * sig((ORACLE.deltaThreshold - delta) / ORACLE.deltaWidth);
  const gammaP = ORACLE.alphaPlastic * ductility * gammaS;
  const ePlane = (e * 1e9) / (1.0 - nu ** 2);
  const k = (Math.sqrt(ePlane * 2.0 * (gammaS + gammaP)) * Math.exp(-ORACLE.betaOxygen * xO)) / 1e6;
  return [g, k];
}

function roundHalfEven(x) {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function pythonRepr(v) {
  const [mant, expText] = Math.abs(v).toExponential().split("e");
  const exp = Number(expText);
  const digits = mant.replace(".", "");
  let out;
  if (exp >= 16 || exp < -4) {
    out = (digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits) +
      `e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  } else if (exp >= digits.length - 1) {
    out = `${digits}${"0".repeat(exp - digits.length + 1)}.0`;
  } else if (exp >= 0) {
    out = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  } else {
    out = `0.${"0".repeat(-exp - 1)}${digits}`;
  }
  return (v < 0 ? "-" : "") + out;
}

/**
 * A number as the CSV writes it (section 6): at most `decimals` decimals, |v| * 10^d
 * rounded half to even, trailing zeros removed, a minus sign only if the rounded value is
 * not 0 (60.03125 -> "60.0312", 35 -> "35", -0.00001 -> "0"); "nan", "inf", "-inf".
 */
export function fixedText(value, decimals) {
  const v = Number(value);
  if (Number.isNaN(v)) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (!(Math.abs(v) < 1e12)) return pythonRepr(v); // as Python writes a huge value (rare)
  const unit = 10 ** decimals;
  const scaled = roundHalfEven(Math.abs(v) * unit);
  let whole;
  let frac;
  if (scaled <= Number.MAX_SAFE_INTEGER) {
    frac = scaled % unit;
    whole = String((scaled - frac) / unit);
  } else {
    const big = BigInt(scaled);
    whole = String(big / BigInt(unit));
    frac = Number(big % BigInt(unit));
  }
  const digits = String(frac).padStart(decimals, "0").replace(/0+$/, "");
  return (v < 0 && scaled > 0 ? "-" : "") + whole + (digits ? `.${digits}` : "");
}

/** A number as Python's `f"{v:.{digits}f}"` writes it (exact decimal value, ties to even). */
export function formatFixed(value, digits) {
  const v = Number(value);
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  const sign = v < 0 || Object.is(v, -0) ? "-" : "";
  if (Math.abs(v) >= 1e21) return sign + Math.abs(v).toFixed(digits);
  const [whole, frac] = Math.abs(v).toFixed(100).split(".");
  const rest = frac.slice(digits);
  let kept = BigInt(whole + frac.slice(0, digits));
  const half = rest[0] === "5" && /^0*$/.test(rest.slice(1));
  if (rest[0] > "5" || (rest[0] === "5" && !half) || (half && kept % 2n === 1n)) kept += 1n;
  const text = kept.toString().padStart(digits + 1, "0");
  return sign + (digits ? `${text.slice(0, -digits)}.${text.slice(-digits)}` : text);
}

const SHORT_LABELS = { shear_modulus: "G", fracture_toughness: "K" };

/**
 * The table `hea-zoo design` prints (hea_zoo.serving.design.format_table): a header line,
 * the designs, a summary line. `model` names the generator (the file's stem).
 */
export function designsTable(result, model, maxRows = null) {
  const { names, units, designs } = result;
  const goalMode = Boolean(result.goalMode);
  const shown = maxRows === null ? designs.length : Math.min(designs.length, maxRows);
  let lines;
  if (goalMode) {
    const asked = [...(result.goals.length ? [result.goals.join(", ")] : []),
      ...result.objectives.map(([name, sense]) => `${sense === "max" ? "maximize" : "minimize"} ${name}`)].join("; ");
    const order = result.objectives.length ? "best by objective first" : "most probable first";
    lines = [`goals: ${asked}  (model: ${model}, seed ${result.seed}, ${thousands(designs.length)} designs, ` +
      `${result.select} selection, ${order})`];
  } else {
    const head = names.map((name, p) => `${name} = ${gText(result.target[p])} ${units[p] || ""}`.trimEnd()).join(", ");
    const order = result.hasSurrogate ? "best by surrogate first" : "not judged: no surrogate";
    lines = [`target: ${head}  (model: ${model}, seed ${result.seed}, ${thousands(designs.length)} designs, ` +
      `${result.select} selection, ${order})`];
  }
  const columns = ["#", "formula"];
  names.forEach((name, p) => {
    const short = SHORT_LABELS[name] || name;
    if (result.hasSurrogate) columns.push(units[p] ? `${short} surrogate [${units[p]}]` : `${short} surrogate`);
    if (result.usesOracle) columns.push(`${short} oracle`);
  });
  if (goalMode) columns.push("P(goals)", ...result.descriptorColumns);
  if (result.hasLogProb) columns.push("log p");
  columns.push("system");
  const table = designs.slice(0, shown).map((d) => {
    const cells = [String(d.rank), d.formula];
    names.forEach((_, p) => {
      if (result.hasSurrogate) {
        cells.push(`${formatFixed(d.mean[p], 1)} [${formatFixed(d.lower[p], 1)}, ${formatFixed(d.upper[p], 1)}]`);
      }
      if (result.usesOracle) cells.push(Number.isFinite(d.oracle[p]) ? formatFixed(d.oracle[p], 1) : "–"); // oxygen alone
    });
    if (goalMode) {
      cells.push(formatFixed(d.pGoals, 3));
      for (const name of result.descriptorColumns) cells.push(formatFixed(d.descriptors[name], 3));
    }
    if (result.hasLogProb) cells.push(formatFixed(d.logProb, 1));
    cells.push(d.system);
    return cells;
  });
  const widths = columns.map((c, j) => Math.max(c.length, ...table.map((r) => r[j].length)));
  const left = new Set([1, columns.length - 1]);
  const fmt = (cells) => cells.map((c, j) => (left.has(j) ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join("  ").trimEnd();
  lines.push(fmt(columns), ...table.map(fmt));
  if (shown < designs.length) lines.push(`... ${thousands(designs.length - shown)} more designs`);
  const tol = goalMode ? (result.hasSurrogate ? `, ${thousands(result.counts.inTolerance)} with P(goals) >= ${gText(result.minProbability)}` : "")
    : result.hasSurrogate ? `, ${thousands(result.counts.inTolerance)} within ${gText(100 * result.tolerance)} %` : "";
  lines.push(`${thousands(designs.length)} designs span ${thousands(result.systems)} alloy systems (elements >= 5 at.%); ` +
    `${thousands(result.candidates)} candidates, ${thousands(result.counts.distinct)} distinct and valid${tol}.`);
  if (!result.usesOracle) {
    lines.push("(no oracle column: the physics oracle applies only to models trained on the bundled data, " +
      "recognized by the data fingerprint in their export)");
  }
  return lines.join("\n");
}

/** The output columns of a design result (section 6). */
export function designColumns(result) {
  const cols = ["rank", "candidate", "formula"];
  if (result.hasSurrogate) for (const name of result.names) cols.push(`${name}_surrogate`, `${name}_lower`, `${name}_upper`);
  if (result.goalMode) cols.push("p_goals", ...result.descriptorColumns);
  if (result.usesOracle) for (const name of result.names) cols.push(`${name}_oracle`);
  if (!result.goalMode) {
    if (result.hasSurrogate) cols.push("relative_error_surrogate");
    if (result.usesOracle) cols.push("relative_error_oracle");
    if (result.hasSurrogate) cols.push("in_tolerance");
  }
  if (result.hasLogProb) cols.push("log_prob");
  cols.push("system");
  if (result.hasNearest) cols.push("nearest_training", "nearest_distance");
  cols.push(...result.elements);
  return cols;
}

function csvCell(text) {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The designs as CSV text, the columns and number format of `hea-zoo design --out` (section 6). */
export function designsCsv(result) {
  const lines = [designColumns(result).map(csvCell).join(",")];
  const P = result.names.length;
  for (const d of result.designs) {
    const row = [String(d.rank), String(d.index), d.formula];
    if (result.hasSurrogate) {
      for (let p = 0; p < P; p++) row.push(fixedText(d.mean[p], 4), fixedText(d.lower[p], 4), fixedText(d.upper[p], 4));
    }
    if (result.goalMode) {
      row.push(fixedText(d.pGoals, 6));
      for (const name of result.descriptorColumns) row.push(fixedText(d.descriptors[name], 4));
    }
    if (result.usesOracle) for (let p = 0; p < P; p++) row.push(fixedText(d.oracle[p], 4));
    if (!result.goalMode) {
      if (result.hasSurrogate) row.push(fixedText(d.score, 6));
      if (result.usesOracle) row.push(fixedText(d.oracleError, 6));
      if (result.hasSurrogate) row.push(d.inTolerance ? "True" : "False");
    }
    if (result.hasLogProb) row.push(fixedText(d.logProb, 4));
    row.push(d.system);
    if (result.hasNearest) row.push(d.nearestTraining, fixedText(d.nearestDistance, 2));
    row.push(...d.k.map((v) => fractionText(v)));
    lines.push(row.map(csvCell).join(","));
  }
  return lines.join("\n") + "\n";
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

/** Notes for target values outside the generator's training-condition range. */
export function rangeWarnings(metadata, target) {
  const names = metadata.condition_names || [];
  const units = metadata.condition_units || [];
  const range = trainingRange(metadata, names.length);
  const out = [];
  if (!range) return out;
  target.forEach((t, p) => {
    const lo = range[0][p];
    const hi = range[1][p];
    if (!(lo <= t && t <= hi)) {
      out.push(`target ${names[p]} = ${gText(t)} ${units[p] || ""} lies outside the training data `.replace("  ", " ") +
        `(${+lo.toPrecision(3)}-${+hi.toPrecision(3)}); designs are extrapolations.`);
    }
  });
  return out;
}

const PRINTED_TERM = /([A-Z][a-z]?)(1|0\.\d{1,3})/g;

/** Thousandths of printed formulas (hea_zoo.artifact.parse_printed); throws on another form. */
export function parsePrinted(formulas, elements) {
  const column = new Map(elements.map((s, e) => [s, e]));
  const E = elements.length;
  const out = new Int32Array(formulas.length * E);
  formulas.forEach((formula, row) => {
    const text = String(formula);
    const terms = Array.from(text.matchAll(PRINTED_TERM));
    if (!terms.length || terms.map((t) => t[0]).join("") !== text) {
      throw new Error(`row ${row}: ${JSON.stringify(text)} is not a printed formula (e.g. Mo0.25Nb0.25W0.5)`);
    }
    let sum = 0;
    for (const [, symbol, amount] of terms) {
      if (!column.has(symbol)) throw new Error(`row ${row}: ${JSON.stringify(text)}: element ${symbol} is not in the element list`);
      const k = amount === "1" ? UNIT : Number(amount.slice(2).padEnd(3, "0"));
      out[row * E + column.get(symbol)] += k;
      sum += k;
    }
    if (sum !== UNIT) throw new Error(`row ${row}: ${JSON.stringify(text)}: fractions sum to ${sum / UNIT}, not 1`);
  });
  return out;
}

// ---------------------------------------------------------------------------- 7. goals

/** The exact descriptors a goal or objective may name (hea_zoo.data.descriptors). */
export const DESCRIPTOR_NAMES = ["density", "vec", "delta", "dhmix", "omega", "tm"];
/** Molar gas constant, J/(mol K) (the descriptor table carries it too). */
export const GAS_CONSTANT = 8.314462618;
/** Candidates with P(goals) at least this are the pool of a goal request unless it says. */
export const DEFAULT_MIN_PROBABILITY = 0.8;

/**
 * The descriptor table over the generator's `elements`, read from the JSON that
 * hea_zoo.data.descriptors.descriptor_table_json writes (exported/descriptors.json): per-element
 * values and the pair matrix, NaN where the table has none or the element is not in it.
 */
export function descriptorTable(json, elements) {
  if (!json || json.format !== "hea_zoo.descriptor_table" || !Array.isArray(json.elements)) {
    throw new Error("not a hea_zoo descriptor table (descriptors.json: format hea_zoo.descriptor_table)");
  }
  const at = new Map(json.elements.map((s, i) => [s, i]));
  const E = elements.length;
  const num = (v) => (v === null || v === undefined ? NaN : Number(v));
  const column = (name) => Float64Array.from(elements, (s) => (at.has(s) ? num(json.values[name][at.get(s)]) : NaN));
  const mass = column("atomic_mass");
  const rho = column("density");
  const vecv = column("valence_electrons");
  const radius = column("miracle_radius");
  const tmv = column("melting_point");
  const pairs = new Float64Array(E * E);
  for (let i = 0; i < E; i++) {
    for (let j = 0; j < E; j++) {
      pairs[i * E + j] = at.has(elements[i]) && at.has(elements[j]) ? num(json.pairs[at.get(elements[i])][at.get(elements[j])]) : NaN;
    }
  }
  const volume = Float64Array.from(mass, (m, e) => m / rho[e]);
  const missing = {
    density: Uint8Array.from(mass, (m, e) => (Number.isFinite(m) && Number.isFinite(volume[e]) ? 0 : 1)),
    vec: Uint8Array.from(vecv, (v) => (Number.isFinite(v) ? 0 : 1)),
    delta: Uint8Array.from(radius, (v) => (Number.isFinite(v) ? 0 : 1)),
    tm: Uint8Array.from(tmv, (v) => (Number.isFinite(v) ? 0 : 1)),
  };
  const fin = (a, fill) => Float64Array.from(a, (v) => (Number.isFinite(v) ? v : fill));
  const t = {
    elements: Array.from(elements), E, values: { atomic_mass: mass, density: rho, valence_electrons: vecv, melting_point: tmv, miracle_radius: radius },
    missing, pairMissing: Uint8Array.from(pairs, (v) => (Number.isFinite(v) ? 0 : 1)),
    mass: fin(mass, 0), volume: fin(volume, 0), vec: fin(vecv, 0), radius: fin(radius, 1), tm: fin(tmv, 0), h: fin(pairs, 0),
    gasConstant: Number.isFinite(Number(json.gas_constant)) ? Number(json.gas_constant) : GAS_CONSTANT,
  };
  t.vecInt = t.vec.every((v) => v === Math.round(v));
  const tm100 = Float64Array.from(t.tm, (v) => roundHalfEven(v * 100));
  t.tm100 = tm100.every((v, e) => Math.abs(v - t.tm[e] * 100) < 1e-6) ? tm100 : null;
  t.hInt = t.h.every((v) => v === Math.round(v));
  t.clnc = new Float64Array(UNIT + 1);
  for (let k = 1; k <= UNIT; k++) { const c = k / UNIT; t.clnc[k] = c * Math.log(c); }
  return t;
}

/**
 * The exact descriptors of one printed row `k` (thousandths at `offset`), docs/DATASET.md
 * "Exact descriptors", steps 1-7: {name: value} for `names` (NaN where a value is missing).
 */
export function descriptorsOf(table, k, offset, names = DESCRIPTOR_NAMES) {
  const E = table.E;
  const need = new Set(names);
  if (need.has("omega")) { need.add("tm"); need.add("dhmix"); }
  const present = (mask) => { for (let e = 0; e < E; e++) if (mask[e] && k[offset + e] > 0) return true; return false; };
  const res = {};
  if (need.has("vec")) {
    let s = 0;
    for (let e = 0; e < E; e++) s += k[offset + e] * table.vec[e];
    res.vec = s / UNIT;
    if (present(table.missing.vec)) res.vec = NaN;
  }
  if (need.has("tm")) {
    let s = 0;
    if (table.tm100) { for (let e = 0; e < E; e++) s += k[offset + e] * table.tm100[e]; res.tm = s / 100000; }
    else { for (let e = 0; e < E; e++) s += k[offset + e] * table.tm[e]; res.tm = s / UNIT; }
    if (present(table.missing.tm)) res.tm = NaN;
  }
  if (need.has("density")) {
    let a = 0;
    let b = 0;
    for (let e = 0; e < E; e++) { a += k[offset + e] * table.mass[e]; b += k[offset + e] * table.volume[e]; }
    res.density = present(table.missing.density) ? NaN : a / b;
  }
  if (need.has("delta")) {
    let rbar = 0;
    for (let e = 0; e < E; e++) rbar += (k[offset + e] / UNIT) * table.radius[e];
    let s = 0;
    for (let e = 0; e < E; e++) { const d = 1 - table.radius[e] / rbar; s += (k[offset + e] / UNIT) * (d * d); }
    res.delta = present(table.missing.delta) ? NaN : 100 * Math.sqrt(s);
  }
  if (need.has("dhmix")) {
    let q = 0;
    let bad = false;
    for (let i = 0; i < E; i++) {
      const ki = k[offset + i];
      if (!ki) continue;
      let inner = 0;
      for (let j = 0; j < E; j++) {
        const kj = k[offset + j];
        if (!kj) continue;
        inner += table.h[i * E + j] * kj;
        if (table.pairMissing[i * E + j]) bad = true;
      }
      q += ki * inner;
    }
    res.dhmix = bad ? NaN : q / 500000;
  }
  if (need.has("omega")) {
    const row = new Float64Array(E);
    for (let e = 0; e < E; e++) row[e] = table.clnc[k[offset + e]];
    const ds = -table.gasConstant * numpySum(row, 0, E);
    let omega = ds > 0 ? (res.tm * ds) / (1000 * Math.abs(res.dhmix)) : 0;
    if (Number.isNaN(res.dhmix) || present(table.missing.tm)) omega = NaN;
    res.omega = omega;
  }
  const out = {};
  for (const name of names) out[name] = res[name];
  return out;
}

/** erfc by the rational Chebyshev approximation of section 7.3 (fractional error < 1.2e-7). */
export function erfc(x) {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** The standard normal distribution function, erfc(-x / sqrt(2)) / 2; 1 and 0 at +-inf. */
export function normalCdf(x) {
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  return erfc(-x / Math.SQRT2) / 2;
}

/**
 * z of a two-sided interval of nominal `coverage` (section 7.3): INTERVAL_Z for 0.9 (and for a
 * surrogate that records no coverage), else the root of normalCdf(z) = 0.5 + coverage / 2 by
 * bisection on [0, 40] until the midpoint stops moving, the steps of the Python engine.
 */
export function intervalZ(coverage) {
  if (coverage === undefined || coverage === null || Number(coverage) === 0.9) return INTERVAL_Z;
  const c = Number(coverage);
  if (!(c > 0 && c < 1)) throw new Error(`an interval's coverage must be in (0, 1). Received: coverage=${coverage}`);
  const target = 0.5 + c / 2;
  let lo = 0.0;
  let hi = 40.0;
  for (;;) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) return mid;
    if (normalCdf(mid) < target) lo = mid;
    else hi = mid;
  }
}

/**
 * P(lo <= value <= hi) for a normal with mean `mu` and the interval [lower, upper] at the
 * coverage whose z is `z` (intervalZ; the nominal 90 % by default) (section 7.3).
 */
export function goalProbability(mu, lower, upper, lo, hi, z = INTERVAL_Z) {
  const sigma = Math.max((upper - lower) / (2 * z), 1e-12);
  const phi = (b) => (b === Infinity ? 1 : b === -Infinity ? 0 : normalCdf((b - mu) / sigma));
  return phi(hi) - phi(lo);
}

function power(x, n) {
  let p = 1.0;
  for (let i = 0; i < n; i++) p *= x;
  return p;
}

/** The R_P sequence's steps alpha_p = frac(1 / phi_P^(p+1)), p = 0 .. P-1 (section 7.2). */
export function rpAlphas(P) {
  let x = 2.0;
  for (let i = 0; i < 60; i++) x = x - ((power(x, P + 1) - x) - 1) / ((P + 1) * power(x, P) - 1);
  return Array.from({ length: P }, (_, p) => {
    const v = 1 / power(x, p + 1);
    return v - Math.floor(v);
  });
}

const GOAL_SYNTAX = "a goal must read NAME>=V, NAME<=V, NAME=LO:HI or NAME=V (e.g. shear_modulus>=60). Received: ";
const GOAL_TEXT = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|=)\s*(\S.*?)\s*$/;
const GOAL_NUMBER = /^(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:inf|infinity|nan))$/i;
const WORD = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Python's repr of a string or a list of strings/numbers, as the Python engine's messages show it. */
function pyRepr(v) {
  if (typeof v === "string") {
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    return q + v.replace(/\\/g, "\\\\").replace(q === "'" ? /'/g : /"/g, `\\${q}`).replace(/\n/g, "\\n")
      .replace(/\r/g, "\\r").replace(/\t/g, "\\t") + q;
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  if (typeof v === "number") return numberText(v);
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  return JSON.stringify(v) ?? String(v);
}

function goalNumber(text, source, field) {
  const s = text.trim();
  if (!GOAL_NUMBER.test(s)) throw new TargetError(`${GOAL_SYNTAX}${pyRepr(source)}`, field);
  const lower = s.toLowerCase().replace(/^[+-]/, "");
  return lower === "nan" ? NaN : lower.startsWith("inf") ? (s.startsWith("-") ? -Infinity : Infinity) : Number(s);
}

function goalFinite(values, field) {
  for (const v of values) if (!Number.isFinite(v)) throw new TargetError(`${numberText(v)} is not a finite number.`, field);
}

function goalOrdered(lo, hi, field) {
  if (lo > hi) throw new TargetError(`the range ${gText(lo)}:${gText(hi)} is empty (${gText(lo)} > ${gText(hi)}).`, field);
}

/** A goal's text (hea_zoo Goal.text): NAME=V (a point), NAME<=V, NAME>=V, NAME=LO:HI. */
export function goalText(g) {
  if (g.point !== null && g.point !== undefined) return `${g.name}=${gText(g.point)}`;
  if (g.lo === -Infinity) return `${g.name}<=${gText(g.hi)}`;
  if (g.hi === Infinity) return `${g.name}>=${gText(g.lo)}`;
  return `${g.name}=${gText(g.lo)}:${gText(g.hi)}`;
}

/**
 * One goal (section 7.1, hea_zoo.serving.design.goals.parse_goal): a string `NAME>=V`,
 * `NAME<=V`, `NAME=LO:HI`, `NAME=V`, or an object {name, lo, hi, point} (open ends
 * -Infinity/+Infinity or absent). Returns {name, lo, hi, point} (point null unless a point
 * goal, whose interval is set from the tolerance later). Throws a TargetError on `field`.
 */
export function parseGoal(value, field = "goals") {
  if (value !== null && typeof value === "object" && !Array.isArray(value) && "name" in value) {
    const name = value.name;
    if (typeof name !== "string" || !WORD.test(name)) throw new TargetError(`a goal's name must be a word. Received: ${pyRepr(name)}`, field);
    if ([value.lo, value.hi, value.point].some((v) => v !== undefined && v !== null && typeof v !== "number")) {
      throw new TargetError(`a goal's bounds must be numbers. Received: ${JSON.stringify(value)}`, field);
    }
    const lo = value.lo === undefined || value.lo === null ? -Infinity : value.lo;
    const hi = value.hi === undefined || value.hi === null ? Infinity : value.hi;
    if (value.point !== undefined && value.point !== null) {
      goalFinite([value.point], field);
      return { name, lo: value.point, hi: value.point, point: value.point };
    }
    if (Number.isNaN(lo) || Number.isNaN(hi) || lo === Infinity || hi === -Infinity) {
      const bad = [lo, hi].filter(Number.isNaN);
      goalFinite(bad.length ? bad : [lo === Infinity ? lo : hi], field);
    }
    if (!Number.isFinite(lo) && !Number.isFinite(hi)) throw new TargetError(`${GOAL_SYNTAX}${JSON.stringify(value)}`, field);
    goalOrdered(lo, hi, field);
    return { name, lo, hi, point: null };
  }
  if (typeof value !== "string") throw new TargetError(`${GOAL_SYNTAX}${pyRepr(value)}`, field);
  const m = GOAL_TEXT.exec(value);
  if (!m) throw new TargetError(`${GOAL_SYNTAX}${pyRepr(value)}`, field);
  const [, name, op, rest] = m;
  if (op === ">=" || op === "<=") {
    const v = goalNumber(rest, value, field);
    goalFinite([v], field);
    return op === ">=" ? { name, lo: v, hi: Infinity, point: null } : { name, lo: -Infinity, hi: v, point: null };
  }
  const colon = rest.indexOf(":");
  if (colon >= 0) {
    const lo = goalNumber(rest.slice(0, colon), value, field);
    const hi = goalNumber(rest.slice(colon + 1), value, field);
    goalFinite([lo, hi], field);
    goalOrdered(lo, hi, field);
    return { name, lo, hi, point: null };
  }
  const v = goalNumber(rest, value, field);
  goalFinite([v], field);
  return { name, lo: v, hi: v, point: v };
}

/** One objective: [NAME, "max"|"min"], {name, sense}, or a string "max:NAME" / "min:NAME". */
export function parseObjective(value, field = "objectives") {
  let v = value;
  if (typeof v === "string" && v.includes(":")) {
    const at = v.indexOf(":");
    v = [v.slice(at + 1).trim(), v.slice(0, at).trim()];
  } else if (v && typeof v === "object" && !Array.isArray(v) && "name" in v) v = [v.name, v.sense];
  if (!(Array.isArray(v) && v.length === 2 && typeof v[0] === "string")) {
    throw new TargetError(`an objective must be (NAME, 'max' or 'min'). Received: ${pyRepr(value)}`, field);
  }
  if (v[1] !== "max" && v[1] !== "min") throw new TargetError(`must be max or min. Received: ${pyRepr(v[1])}`, field);
  return [v[0].trim(), v[1]];
}

/**
 * The goal fields of a request checked without a model (hea_zoo DesignRequest): goals parsed
 * and not repeated, at most two distinct objectives, min_probability in (0, 1).
 */
export function checkGoalFields(options) {
  const pMin = given(options.minProbability) ? options.minProbability : DEFAULT_MIN_PROBABILITY;
  if (typeof pMin !== "number" || !Number.isFinite(pMin) || !(pMin > 0 && pMin < 1)) {
    throw new TargetError(`must be a number in (0, 1). Received: ${pyRepr(pMin)}`, "min_probability");
  }
  let goals = given(options.goals) ? options.goals : [];
  if (typeof goals === "string" || (goals && typeof goals === "object" && !Array.isArray(goals) && "name" in goals)) goals = [goals];
  if (!Array.isArray(goals)) throw new TargetError(`must be a list of goals. Received: ${pyRepr(goals)}`, "goals");
  goals = goals.map((g, i) => parseGoal(g, `goals[${i}]`));
  const seen = new Map();
  goals.forEach((g, i) => {
    if (seen.has(g.name)) throw new TargetError(`${g.name} has a goal already (goals[${seen.get(g.name)}]).`, `goals[${i}]`);
    seen.set(g.name, i);
  });
  let objectives = given(options.objectives) ? options.objectives : [];
  if (typeof objectives === "string" || (Array.isArray(objectives) && objectives.length === 2 && typeof objectives[0] === "string" &&
      (objectives[1] === "max" || objectives[1] === "min"))) objectives = [objectives];
  objectives = Array.from(objectives).map((o, i) => parseObjective(o, `objectives[${i}]`));
  objectives.forEach(([name], i) => {
    const j = objectives.findIndex((o) => o[0] === name);
    if (j < i) throw new TargetError(`${name} is an objective already (objectives[${j}]).`, `objectives[${i}]`);
  });
  if (objectives.length > 2) throw new TargetError(`at most two objectives. Received: ${objectives.length}`, "objectives");
  return { goals, objectives, minProbability: pMin };
}

/**
 * Section 7.1-7.2 (hea_zoo Designer.plan): the goals resolved against the generator, the
 * constraints and the target. `fields` is checkGoalFields' result; `target` an object name ->
 * value (the point goals a goal request may give) or a full sequence. Returns the plan, or
 * {classic: target values} for a request that is the classic one.
 */
export function planGoals(fields, target, metadata, constraints, tolerance, descriptors = null, surrogate = true, generatorPath = null) {
  const names = metadata.condition_names;
  const P = names.length;
  const { goals, objectives, minProbability } = fields;
  // The classic request: point goals on properties, covering every property with the target, nothing else.
  let values = null;
  if (target !== null && typeof target === "object" && !Array.isArray(target) && !ArrayBuffer.isView(target)) values = { ...target };
  else if (target && target.length) values = target.length === P ? Object.fromEntries(names.map((n, p) => [n, target[p]])) : null;
  else values = {};
  if (!objectives.length && goals.every((g) => g.point !== null && names.includes(g.name)) && values !== null) {
    const merged = { ...values };
    for (const g of goals) merged[g.name] = g.point;
    if (Object.keys(merged).sort().join("\u0000") === names.slice().sort().join("\u0000")) {
      return { classic: checkTarget(merged, names, trainingRange(metadata, P)) };
    }
  }
  const range = trainingRange(metadata, P);
  if (!range) throw new TargetError("goals need the generator's training range (metadata condition_range).", "goals");
  let targetNames = [];
  let targetValues = {};
  if (target !== null && typeof target === "object" && !Array.isArray(target) && !ArrayBuffer.isView(target)) {
    const checked = checkTarget(target, names, range, true);
    names.forEach((n, p) => { if (checked[p] !== undefined) { targetNames.push(n); targetValues[n] = checked[p]; } });
  } else if (target && target.length) {
    checkTarget(target, names, range).forEach((v, p) => { targetNames.push(names[p]); targetValues[names[p]] = v; });
  }
  const rng = range;
  const valid = [...names, ...DESCRIPTOR_NAMES];
  const propertyGoals = [];
  const descriptorGoals = [];
  const resolved = [];
  const byCondition = new Map();
  goals.forEach((goal, i) => {
    if (!valid.includes(goal.name)) throw new TargetError(`unknown name ${pyRepr(goal.name)}; valid names: ${valid.join(", ")}.`, `goals[${i}]`);
    if (targetNames.includes(goal.name)) throw new TargetError(`${goal.name} has both a point target and a goal.`, `goals[${i}]`);
  });
  objectives.forEach(([name], i) => {
    if (!valid.includes(name)) throw new TargetError(`unknown name ${pyRepr(name)}; valid names: ${valid.join(", ")}.`, `objectives[${i}]`);
  });
  goals.forEach((goal0, i) => {
    const field = `goals[${i}]`;
    let goal = goal0;
    let { lo, hi } = goal;
    if (goal.point !== null) {
      const v = goal.point;
      const j = names.indexOf(goal.name);
      const floor = j >= 0 ? Math.max(0.01 * (rng[1][j] - rng[0][j]), 1e-9) : 1e-9;
      const d = tolerance * Math.max(Math.abs(v), floor);
      lo = v - d;
      hi = v + d;
      goal = { name: goal.name, lo, hi, point: v };
    }
    if (names.includes(goal.name)) {
      const j = names.indexOf(goal.name);
      const m = rng[0][j];
      const big = rng[1][j];
      const w = big - m;
      if (hi < m - w || lo > big + w) {
        throw new TargetError(`${goalText(goal)} is far outside the training data of ${goal.name} (${gTextTo(m, 4)} to ${gTextTo(big, 4)}): ` +
          "more than the data's range beyond it, where the models know nothing.", field);
      }
      propertyGoals.push({ p: j, lo, hi });
      byCondition.set(j, goal);
    } else {
      let low;
      let high;
      if (goal.name === "delta" || goal.name === "omega") [low, high] = [0, Infinity];
      else if (goal.name === "dhmix") [low, high] = [-Infinity, Infinity];
      else {
        if (!descriptors) {
          throw new TargetError("descriptor goals need descriptors.json beside the models (hea_zoo.data.descriptors.write_descriptor_json).", field);
        }
        const column = { density: "density", vec: "valence_electrons", tm: "melting_point" }[goal.name];
        const vals = [];
        metadata.elements.forEach((_, e) => { if (constraints.allowed[e] && Number.isFinite(descriptors.values[column][e])) vals.push(descriptors.values[column][e]); });
        [low, high] = vals.length ? [Math.min(...vals), Math.max(...vals)] : [NaN, NaN];
      }
      if (!(hi >= low && lo <= high)) {
        const why = goal.name === "delta" || goal.name === "omega" ? `${goal.name} is never negative`
          : `${goal.name} lies between ${gText(low)} and ${gText(high)} over them`;
        throw new TargetError(`no composition of the allowed elements has ${goalText(goal)}: ${why}.`, field);
      }
      descriptorGoals.push({ name: goal.name, lo, hi });
    }
    resolved.push(goal);
  });
  // 7.2: the box of each condition.
  const directions = new Map(objectives);
  const boxes = names.map((name, j) => {
    const m = rng[0][j];
    const big = rng[1][j];
    const w = big - m;
    const delta = 0.02 * w;
    const e = 0.25 * w;
    let interval = null;
    const goal = byCondition.get(j);
    if (goal) {
      let a;
      let b;
      if (goal.point !== null) a = b = goal.point;
      else if (goal.hi === Infinity) { a = goal.lo + delta; b = Math.max(goal.lo + delta, big + e); }
      else if (goal.lo === -Infinity) {
        a = Math.min(goal.hi - delta, m - e);
        b = goal.hi - delta;
        if (m >= 0) a = Math.max(a, 0);
      } else if (goal.hi - goal.lo < 2 * delta) a = b = (goal.lo + goal.hi) / 2;
      else { a = goal.lo + delta; b = goal.hi - delta; }
      interval = [a, b];
    }
    if (directions.has(name) && (!goal || goal.point === null)) {
      let a;
      let b;
      if (directions.get(name) === "max") { a = big - e; b = big + e; }
      else {
        a = m - e;
        b = m + e;
        if (m >= 0) a = Math.max(a, 0);
      }
      if (interval) {
        a = Math.max(a, interval[0]);
        b = Math.min(b, interval[1]);
        if (a > b) [a, b] = interval; // the objective's box misses the goal's: the goal's box alone
      }
      interval = [a, b];
    }
    if (targetNames.includes(name)) interval = [targetValues[name], targetValues[name]];
    return interval || [rng[0][j], rng[1][j]];
  });
  // The target's points join as point goals, first.
  const extra = targetNames.map((name) => {
    const j = names.indexOf(name);
    const v = targetValues[name];
    const d = tolerance * Math.max(Math.abs(v), Math.max(0.01 * (rng[1][j] - rng[0][j]), 1e-9));
    return { goal: { name, lo: v - d, hi: v + d, point: v }, property: { p: j, lo: v - d, hi: v + d } };
  });
  if (!surrogate) {
    goals.forEach((g, i) => {
      if (names.includes(g.name)) throw new TargetError(`${g.name} is judged by the surrogate, and there is none.`, `goals[${i}]`);
    });
    objectives.forEach(([name], i) => {
      if (names.includes(name)) throw new TargetError(`${name} is judged by the surrogate, and there is none.`, `objectives[${i}]`);
    });
  }
  if (!descriptors && (descriptorGoals.length || objectives.some(([name]) => DESCRIPTOR_NAMES.includes(name)))) {
    const i = goals.findIndex((g) => DESCRIPTOR_NAMES.includes(g.name));
    throw new TargetError("descriptor goals need descriptors.json beside the models (hea_zoo.data.descriptors.write_descriptor_json).",
      i >= 0 ? `goals[${i}]` : `objectives[${objectives.findIndex(([name]) => DESCRIPTOR_NAMES.includes(name))}]`);
  }
  const descriptorColumns = descriptorGoals.map((g) => g.name);
  for (const [name] of objectives) if (DESCRIPTOR_NAMES.includes(name) && !descriptorColumns.includes(name)) descriptorColumns.push(name);
  const allGoals = [...extra.map((x) => x.goal), ...resolved];
  return {
    classic: null,
    propertyGoals: [...extra.map((x) => x.property), ...propertyGoals],
    descriptorGoals,
    objectives: objectives.map(([name, sense]) => ({ name, sense, descriptor: !names.includes(name) })),
    descriptorColumns,
    boxes,
    alphas: rpAlphas(P),
    randomEvery: objectives.length ? RANDOM_EVERY_OBJECTIVES : RANDOM_EVERY_GOALS,
    refineRounds: objectives.length ? REFINE_ROUNDS_OBJECTIVES : REFINE_ROUNDS_GOALS,
    minProbability,
    goals: allGoals,
    texts: allGoals.map(goalText),
  };
}

// Section 7.2, random candidates: which rows, and their compositions.
const RANDOM_KEY = 0x52616e64;
/** Without objectives every candidate is decoded. */
export const RANDOM_EVERY_GOALS = 0;
/** With an objective, candidate r is a random composition when r is odd. */
export const RANDOM_EVERY_OBJECTIVES = 2;

/** A property objective is its mean less (max) or plus (min) this share of its interval's width (section 7.4). */
export const OBJECTIVE_SPREAD = 0.25;
const REFINE_KEY = 0x52656669;
/** With an objective, the candidates end with 10 refinement rounds (section 7.2). */
export const REFINE_ROUNDS_OBJECTIVES = 10;
/** Without objectives, 2 refinement rounds (section 7.2). */
export const REFINE_ROUNDS_GOALS = 2;
/** A round's parents are the designs the run would give for REFINE_PARENTS * n designs (section 7.2). */
export const REFINE_PARENTS = 2;
/** A parent's fractions are multiplied by exp(REFINE_SCALE (2u - 1)). */
export const REFINE_SCALE = 0.5;

/**
 * Section 7.2: [start, rows] of the exploration and of each refinement round. With R rounds
 * each has b = floor(candidates / (R + 2)) rows and the exploration the candidates - R b
 * before them; without rounds (or b = 0) the exploration is every candidate.
 */
export function goalPhases(candidates, rounds) {
  const b = rounds > 0 ? Math.floor(candidates / (rounds + 2)) : 0;
  if (b <= 0) return [[0, candidates]];
  const first = candidates - rounds * b;
  const phases = [[0, first]];
  for (let t = 0; t < rounds; t++) phases.push([first + t * b, b]);
  return phases;
}

/**
 * Section 7.2, "Refinement": the composition of candidate `r` of a round that starts at row
 * `first`, refined from parent (r - first) mod P (`parents`: printed rows, thousandths), written
 * to out[offset .. offset + E) (float32 values). Every present element is multiplied by
 * exp(REFINE_SCALE (2 u_(3+i) - 1)); with w0 mod 10 < 3 and fewer than min(7, maxElements)
 * present, absent allowed element number w1 mod c joins at S (0.03 + 0.12 u2); with
 * (w0 >> 16) mod 10 < 2 and more than 3 present, the smallest (the first of equals) leaves;
 * the fractions over their sum.
 */
export function refineRow(seed, r, first, parents, allowed, maxElements, out, offset) {
  const key = mix32((seed ^ REFINE_KEY) >>> 0);
  const h = mix32((key ^ r) >>> 0);
  const word = (j) => mix32((h + j) >>> 0);
  const unit = (j) => (word(j) + 0.5) / TWO32;
  const E = allowed.length;
  const parent = parents[(r - first) % parents.length];
  const x = new Float64Array(E);
  let count = 0;
  for (let e = 0; e < E; e++) {
    if (parent[e] > 0) {
      x[e] = (parent[e] / 1000) * Math.exp(REFINE_SCALE * (2 * unit(3 + e) - 1));
      count++;
    }
  }
  const w0 = word(0);
  if (w0 % 10 < 3 && count < Math.min(7, maxElements)) {
    const absent = [];
    for (let e = 0; e < E; e++) if (allowed[e] && !(parent[e] > 0)) absent.push(e);
    if (absent.length) {
      let total = x[0];
      for (let e = 1; e < E; e++) total += x[e];
      x[absent[word(1) % absent.length]] = total * (0.03 + 0.12 * unit(2));
    }
  }
  let held = 0;
  for (let e = 0; e < E; e++) if (x[e] > 0) held++;
  if ((w0 >>> 16) % 10 < 2 && held > 3) {
    let smallest = -1;
    for (let e = 0; e < E; e++) if (x[e] > 0 && (smallest < 0 || x[e] < x[smallest])) smallest = e;
    x[smallest] = 0;
  }
  let total = x[0];
  for (let e = 1; e < E; e++) total += x[e];
  for (let e = 0; e < E; e++) out[offset + e] = x[e] / total;
}

/** Whether candidate `r` of a goal plan is a random composition (section 7.2). */
export function isRandomRow(plan, r) {
  return plan.randomEvery > 0 && r % plan.randomEvery === plan.randomEvery - 1;
}

/**
 * Section 7.2: the random composition of candidate `r`, written to out[offset .. offset + E)
 * (float32 values). m = 3 + w0 mod 5 elements (at most the allowed ones and maxElements),
 * chosen from the allowed elements by a partial Fisher-Yates shuffle, fractions
 * -ln((w + 1) / 2^32) over their sum.
 */
export function randomRow(seed, r, allowed, maxElements, out, offset) {
  const key = mix32((seed ^ RANDOM_KEY) >>> 0);
  const h = mix32((key ^ r) >>> 0);
  const word = (j) => mix32((h + j) >>> 0);
  const E = allowed.length;
  out.fill(0, offset, offset + E);
  const pool = [];
  for (let e = 0; e < E; e++) if (allowed[e]) pool.push(e);
  const A = pool.length;
  if (!A) return;
  const top = Math.min(7, A, maxElements);
  const m = Math.min(3 + (word(0) % 5), top);
  for (let i = 0; i < top; i++) {
    const j = i + (word(1 + i) % (A - i));
    const t = pool[i];
    pool[i] = pool[j];
    pool[j] = t;
  }
  const e = [];
  for (let i = 0; i < m; i++) e.push(-Math.log((word(8 + i) + 1) / TWO32));
  let total = e[0];
  for (let i = 1; i < m; i++) total += e[i];
  for (let i = 0; i < m; i++) out[offset + pool[i]] = e[i] / total;
}

/** Section 7.2: the conditions of candidates start .. start + rows - 1 (Float32Array, rows x P). */
export function goalConditions(plan, start, rows) {
  const P = plan.boxes.length;
  const out = new Float32Array(rows * P);
  for (let i = 0; i < rows; i++) {
    const r = start + i;
    for (let p = 0; p < P; p++) {
      const [a, b] = plan.boxes[p];
      const x = (r + 1) * plan.alphas[p];
      const u = x - Math.floor(x);
      out[i * P + p] = a + u * (b - a);
    }
  }
  return out;
}

/** The objective values of a judged candidate, both "larger is better" (section 7.4); `z` of
 * the intervals' coverage (intervalZ: the width is read at the 90 % interval's scale). */
function objectiveValues(plan, d, names, z = INTERVAL_Z) {
  const spread = OBJECTIVE_SPREAD * (INTERVAL_Z / z); // exactly OBJECTIVE_SPREAD at 90 %
  return plan.objectives.map((o) => {
    let v;
    if (o.descriptor) v = d.descriptors[o.name];
    else {
      const p = names.indexOf(o.name);
      const width = d.upper[p] - d.lower[p];
      v = o.sense === "max" ? d.mean[p] - width * spread : d.mean[p] + width * spread;
    }
    v = o.sense === "max" ? v : -v;
    return Number.isNaN(v) ? -Infinity : v;
  });
}

function byObjective(a, b) {
  if (a.values[0] !== b.values[0]) return a.values[0] > b.values[0] ? -1 : 1;
  if (a.pGoals !== b.pGoals) return a.pGoals > b.pGoals ? -1 : 1;
  return a.index - b.index;
}

function byFrontOrder(a, b) {
  if (a.values[0] !== b.values[0]) return a.values[0] > b.values[0] ? -1 : 1;
  if (a.values[1] !== b.values[1]) return a.values[1] > b.values[1] ? -1 : 1;
  return a.index - b.index;
}

/** Non-dominated sorting of two "larger is better" values: the order and each record's front. */
function frontRanks(items) {
  const order = items.slice().sort(byFrontOrder);
  const tails = [];
  for (const d of order) {
    const [a, b] = d.values;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) { // the first front whose tail does not dominate
      const mid = (lo + hi) >> 1;
      const [t1, t2] = tails[mid];
      if (t2 > b || (t2 === b && t1 > a)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === tails.length) tails.push([a, b]);
    else tails[lo] = [a, b];
    d.front = lo;
  }
  return { order, fronts: tails.length };
}

/** Keeps judged candidates of a goal request and selects from them (section 7.4). */
export class GoalSelection {
  constructor(n, select, plan) {
    this.n = n;
    this.plan = plan;
    this.pMin = plan.minProbability;
    this.nObjectives = plan.objectives.length;
    if (this.nObjectives === 0) {
      // the diverse rule with score 1 - p_goals and tolerance 1 - p_min; closest: the most probable
      this.inner = new Selection(n, select, 1 - this.pMin, true);
    } else {
      this.pool = [];
      this.fill = new BestStore(Math.max(50 * n, 2000));
    }
  }

  offer(d) {
    d.inTolerance = d.pGoals >= this.pMin;
    if (this.inner) this.inner.offer(d);
    else if (d.inTolerance) this.pool.push(d);
    else this.fill.offer(d);
  }

  /** The designs for `n` (default the request's; a refinement round asks for more: its parents). */
  finish(n = this.n) {
    if (this.inner) return this.inner.finish(n);
    // The pool in its order: one objective, the best max(50 n, 2000) by the objective (the request's n); two, (v1, v2, index).
    const pool = this.nObjectives === 1 ? this.pool.sort(byObjective).slice(0, Math.max(50 * this.n, 2000)) : this.pool.sort(byFrontOrder);
    const taken = [];
    const twinOf = (d, list) => list.some((c) => l1(c.k, d.k) < MIN_DISTANCE_THOUSANDTHS);
    if (this.nObjectives === 1) {
      for (const d of pool) {
        if (taken.length >= n) break;
        if (!twinOf(d, taken)) taken.push(d);
      }
    } else if (pool.length) {
      const { order, fronts } = frontRanks(pool);
      for (let f = 0; f < fronts && taken.length < n; f++) {
        const members = order.filter((d) => d.front === f && !twinOf(d, taken));
        const need = n - taken.length;
        if (members.length <= need) {
          for (const d of members) if (!twinOf(d, taken)) taken.push(d);
          continue;
        }
        // spread along the front: the two ends, then the largest gap to the neighbours taken
        const span = [0, 1].map((j) => {
          const vs = members.map((d) => d.values[j]);
          const sp = Math.max(...vs) - Math.min(...vs);
          return sp > 0 && Number.isFinite(sp) ? sp : 1;
        });
        const scaled = members.map((d) => [d.values[0] / span[0], d.values[1] / span[1]]);
        const chosen = new Uint8Array(members.length);
        let count = 0;
        for (const end of [0, members.length - 1]) {
          if (count < need && !chosen[end] && !twinOf(members[end], taken)) {
            taken.push(members[end]);
            chosen[end] = 1;
            count++;
          }
        }
        while (count < need) {
          let best = -1;
          let bestGap = -Infinity;
          for (let i = 0; i < members.length; i++) {
            if (chosen[i] || twinOf(members[i], taken)) continue;
            // the gap: the smaller of the (Euclidean, scaled) distances to the taken neighbours
            const dist = (j) => {
              const x = scaled[i][0] - scaled[j][0];
              const y = scaled[i][1] - scaled[j][1];
              return Math.sqrt(x * x + y * y);
            };
            const sides = [];
            for (let j = i - 1; j >= 0; j--) if (chosen[j]) { sides.push(dist(j)); break; }
            for (let j = i + 1; j < members.length; j++) if (chosen[j]) { sides.push(dist(j)); break; }
            const gap = sides.length ? Math.min(...sides) : 0;
            if (gap > bestGap) { best = i; bestGap = gap; }
          }
          if (best < 0) break;
          taken.push(members[best]);
          chosen[best] = 1;
          count++;
        }
      }
      taken.sort((a, b) => (a.front - b.front) || byFrontOrder(a, b)); // shown by (front, v1, v2, index)
    }
    // Section 5, steps 2-3: the fill by score, no twins; then the rest, twins allowed.
    const chosen = taken.slice();
    const used = new Set(taken);
    const fill = this.fill.sorted();
    for (const d of fill) {
      if (chosen.length >= n) break;
      if (!twinOf(d, chosen)) { chosen.push(d); used.add(d); }
    }
    const filled = chosen.length - taken.length;
    let relaxed = 0;
    for (const d of pool.concat(fill)) {
      if (chosen.length >= n) break;
      if (used.has(d)) continue;
      chosen.push(d);
      used.add(d);
      relaxed++;
    }
    const twins = relaxed ? twinPairs(chosen) : 0;
    return { chosen, pool: pool.length, fromPool: taken.length, filled, relaxed, twinPairs: twins };
  }
}

/** The nearest training alloy of each design (section 7.5): {formula, distance} by L1 over printed vectors. */
export function nearestTraining(designsK, trainingK, elements) {
  const E = elements.length;
  const N = trainingK.length / E;
  return designsK.map((k) => {
    let best = -1;
    let bestD = Infinity;
    for (let t = 0; t < N; t++) {
      let d = 0;
      for (let e = 0; e < E; e++) d += Math.abs(k[e] - trainingK[t * E + e]);
      if (d < bestD) { bestD = d; best = t; }
    }
    return best < 0 ? null : { formula: formulaString(trainingK.subarray(best * E, (best + 1) * E), elements), distance: bestD / 20 };
  });
}

// --------------------------------------------------------------------------- the pipeline

function drawSeed() {
  const c = globalThis.crypto;
  if (c && typeof c.getRandomValues === "function") return c.getRandomValues(new Uint32Array(1))[0];
  return Math.floor(Math.random() * TWO32);
}

/**
 * Validates design options; returns them completed with the defaults of `hea-zoo design`
 * (n 20, a drawn seed, max(100 n, 32000) candidates, diverse selection, tolerance 0.05,
 * minimum fraction 0.03). Throws one-line Errors.
 */
/**
 * Section 0.1: the fixed measurement settings of a request, as rows for a surrogate's
 * `settings` input (a surrogate exported with `setting_names`: the test temperature).
 *
 * @param {string[]} names the surrogate metadata's setting_names ([] or undefined: none)
 * @param {Object<string, number>} [settings] the request's settings, name -> value
 * @param {number} rows rows of the batch
 * @returns {Float32Array|null} rows x names.length values, or null for a surrogate without settings
 * @throws UsageError (field "settings") for a missing, unknown or non-finite setting
 */
export function settingsRows(names, settings, rows) {
  names = Array.isArray(names) ? names : [];
  const given = settings || {};
  const unknown = Object.keys(given).filter((k) => !names.includes(k));
  if (unknown.length) {
    const what = names.length ? `takes the settings ${JSON.stringify(names)}` : "takes no measurement settings";
    throw new UsageError(`the model ${what}; unknown ${JSON.stringify(unknown)}.`, "settings");
  }
  if (!names.length) return null;
  const missing = names.filter((k) => !(k in given));
  if (missing.length) {
    throw new UsageError(`the models were trained with measurement settings ${JSON.stringify(names)}: give a value for ${JSON.stringify(missing)}.`, "settings");
  }
  const out = new Float32Array(rows * names.length);
  names.forEach((k, j) => {
    const v = given[k];
    if (typeof v !== "number" || !Number.isFinite(v)) throw new UsageError(`must be a finite number. Received: ${String(v)}`, `settings['${k}']`);
    for (let r = 0; r < rows; r++) out[r * names.length + j] = v;
  });
  return out;
}

export function checkOptions(options) {
  const { metadata } = options;
  if (!metadata || !Array.isArray(metadata.elements) || !Array.isArray(metadata.condition_names)) {
    throw new Error("the generator's metadata lacks elements or condition_names (not a hea_zoo generator export)");
  }
  if (Array.isArray(metadata.setting_names) && metadata.setting_names.length) {
    // The Python engine (hea_zoo.serving.design) designs with such generators.
    throw new UsageError(`this generator is conditioned on measurement settings (${metadata.setting_names.join(", ")}); `
      + "this engine designs with generators without settings only (a surrogate's settings input it feeds).", "settings");
  }
  const surrogateSettings = options.surrogateMetadata && Array.isArray(options.surrogateMetadata.setting_names)
    ? options.surrogateMetadata.setting_names : [];
  settingsRows(surrogateSettings, options.settings, 0);  // checked before anything runs
  const names = metadata.condition_names;
  const units = Array.isArray(metadata.condition_units) ? metadata.condition_units : names.map(() => "");
  const latentDim = Number(metadata.latent_dim);
  if (!Number.isInteger(latentDim) || latentDim < 1) throw new Error(`the generator's latent_dim is not a positive integer: ${metadata.latent_dim}`);
  // Section 7.1: goals, objectives and min_probability, checked first (as DesignRequest does).
  const goalFields = checkGoalFields(options);
  const goalMode = goalFields.goals.length > 0 || goalFields.objectives.length > 0;
  let target = goalMode ? checkGoalTarget(options.target) : checkTarget(options.target, names, trainingRange(metadata, names.length));
  if (goalMode && !Array.isArray(target) && !ArrayBuffer.isView(target)) {
    goalFields.goals.forEach((g, i) => {
      if (g.name in target) throw new TargetError(`${g.name} has both a point target and a goal.`, `goals[${i}]`);
    });
  }
  const n = given(options.n) ? checkInteger(options.n, "n", 1) : DEFAULT_N;
  let candidates;
  if (given(options.candidates)) {
    candidates = checkInteger(options.candidates, "candidates", 1, MAX_CANDIDATES, " (2^32, the noise rows)");
    if (candidates < n) {
      throw new UsageError(`${candidates} is fewer than the ${n} designs asked for; each design is a distinct candidate.`, "candidates");
    }
  } else candidates = Math.min(defaultCandidates(n), MAX_CANDIDATES);
  const select = given(options.select) ? options.select : "diverse";
  if (select !== "diverse" && select !== "closest") {
    throw new UsageError(`must be diverse or closest. Received: ${typeof select === "string" ? `'${select}'` : String(select)}`, "select");
  }
  const tolerance = given(options.tolerance) ? options.tolerance : DEFAULT_TOLERANCE;
  if (typeof tolerance !== "number" || !Number.isFinite(tolerance) || !(tolerance > 0)) {
    throw new TargetError(`must be a positive number (a relative error, 0.05 = 5 %). Received: ${numberText(tolerance)}`, "tolerance");
  }
  const seed = given(options.seed) ? checkInteger(options.seed, "seed", 0, MAX_SEED) : drawSeed();
  const chunkSize = given(options.chunkSize) ? checkInteger(options.chunkSize, "chunk_size", 1) : 4096;
  const declared = Number(metadata.composition_threshold);
  const threshold = metadata.composition_threshold !== undefined && Number.isFinite(declared) ? declared : DROP_THRESHOLD;
  const constraints = checkConstraints(options.constraints, metadata.elements, threshold);
  // Section 7.1-7.2: the goals resolved against the generator and the constraints.
  const descriptors = options.descriptors ? (options.descriptors.E ? options.descriptors : descriptorTable(options.descriptors, metadata.elements)) : null;
  let plan = null;
  if (goalMode) {
    const hasSurrogate = options.hasSurrogate !== undefined ? Boolean(options.hasSurrogate) : typeof options.judgeFn === "function";
    plan = planGoals(goalFields, target, metadata, constraints, tolerance, descriptors, hasSurrogate, options.generatorPath || null);
    if (plan.classic) {
      target = plan.classic;
      plan = null;
    }
  }
  return { ...options, target, n, seed, candidates, select, tolerance, chunkSize, latentDim, threshold, constraints, names, units,
    plan, descriptors };
}

/** The target of a goal request checked without a model: absent, a mapping (some conditions), or a sequence. */
function checkGoalTarget(raw) {
  if (raw === undefined || raw === null) return {};
  if (typeof raw === "object" && !Array.isArray(raw) && !ArrayBuffer.isView(raw)) {
    const out = {};
    for (const [key, v] of Object.entries(raw)) out[key] = targetValue(v, `target['${key}']`);
    return out;
  }
  if (!Array.isArray(raw) && !ArrayBuffer.isView(raw)) {
    throw new TargetError(`must be a sequence of numbers (condition order) or a mapping name -> value. Received: ${JSON.stringify(raw) ?? String(raw)}`, "target");
  }
  return Array.from(raw, (v, i) => targetValue(v, `target[${i}]`));
}

/** A number as Python's str() writes it in a message (nan, inf, 60, 0.5). */
function numberText(v) {
  if (typeof v !== "number") return JSON.stringify(v) ?? String(v);
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  return String(v);
}

/** A request field that must be an integer in [minimum, maximum] (section 0), as DesignRequest checks it. */
function checkInteger(value, field, minimum, maximum = null, why = "") {
  if (typeof value !== "number" || !Number.isInteger(value)) throw new UsageError(`must be an integer. Received: ${numberText(value)}`, field);
  if (minimum === 0 && maximum !== null && !(value >= 0 && value <= maximum)) {
    throw new UsageError(`must be an integer in [0, ${maximum}]. Received: ${value}`, field);
  }
  if (value < minimum) throw new UsageError(`must be ${minimum === 1 ? "a positive integer" : `an integer >= ${minimum}`}. Received: ${value}`, field);
  if (maximum !== null && value > maximum) throw new UsageError(`must be at most ${thousands(maximum)}${why}. Received: ${thousands(value)}`, field);
  return value;
}

function pythonList(items) {
  return `[${items.map((s) => `'${s}'`).join(", ")}]`;
}

/**
 * Section 0: the target, a sequence in condition order or an object name -> value, as
 * float64 in condition order: finite, within float32, the names the generator's, and
 * nonnegative where the training values never are negative (or their range is unknown).
 */
function targetValue(v, field) {
  const t = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof t !== "number" || (typeof v === "string" && Number.isNaN(t) && v.trim().toLowerCase() !== "nan")) {
    throw new TargetError(`must be a number. Received: ${typeof v === "string" ? `'${v}'` : JSON.stringify(v) ?? String(v)}`, field);
  }
  if (!Number.isFinite(t)) throw new TargetError(`must be a finite number. Received: ${numberText(t)}`, field);
  if (Math.abs(t) > FLOAT32_MAX) throw new TargetError(`${gText(t)} is beyond what the models take (float32, at most 3.4e+38).`, field);
  return t;
}

export function checkTarget(raw, names, range = null, partial = false) {
  const value = targetValue;
  let values;
  let fields;
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw) && !ArrayBuffer.isView(raw)) {
    const given = {};
    for (const [key, v] of Object.entries(raw)) given[key] = value(v, `target['${key}']`);
    const unknown = Object.keys(given).filter((key) => !names.includes(key)).sort();
    if (unknown.length) throw new TargetError(`the model is conditioned on ${pythonList(names)}; unknown target(s) ${pythonList(unknown)}.`, "target");
    const missing = names.filter((name) => !(name in given));
    if (missing.length && !partial) throw new TargetError(`missing target value(s) for ${pythonList(missing)}.`, "target");
    values = names.map((name) => given[name]);
    fields = names.map((name) => `target['${name}']`);
  } else {
    if (!Array.isArray(raw) && !ArrayBuffer.isView(raw)) {
      throw new TargetError(`must be a sequence of numbers (condition order) or a mapping name -> value. Received: ${JSON.stringify(raw) ?? String(raw)}`, "target");
    }
    values = Array.from(raw, (v, i) => value(v, `target[${i}]`));
    if (values.length !== names.length) {
      throw new TargetError(`expected ${names.length} target values (${names.join(", ")}). Received ${values.length}: ` +
        `[${values.map(pythonRepr).join(", ")}]`, "target");
    }
    fields = names.map((_, i) => `target[${i}]`);
  }
  values.forEach((t, p) => {
    if (t === undefined) return;
    if (t < 0 && (range === null || range[0][p] >= 0)) {
      throw new TargetError(`must be nonnegative${range === null ? "" : " (its training values are never negative)"}. Received: ${gText(t)}`, fields[p]);
    }
    if (range !== null) {
      const low = range[0][p];
      const high = range[1][p];
      const reach = FAR_OUTSIDE * (high - low);
      const floor = low >= 0 ? Math.max(low - reach, 0) : low - reach;
      if (!(low - reach <= t && t <= high + reach)) {
        throw new TargetError(`${gText(t)} is far outside the training data of ${names[p]} (${gTextTo(low, 4)} to ${gTextTo(high, 4)}): ` +
          "more than the data's range beyond it, where the models know nothing. Aim " +
          `between ${gTextTo(floor, 4)} and ${gTextTo(high + reach, 4)}.`, fields[p]);
      }
    }
  });
  return values;
}

/** The notes known before any candidate is drawn (target range, training alloys). */
function notesBefore(metadata, o) {
  const notes = [...(o.constraints.notes || []), ...(o.plan ? [] : rangeWarnings(metadata, o.target))];
  const training = metadata.training_compositions;
  if (Array.isArray(training) && training.length && !o.constraints.trivial) {
    const E = metadata.elements.length;
    let k;
    try {
      k = parsePrinted(training, metadata.elements);
    } catch (error) {
      throw new Error(`the generator's metadata key training_compositions does not parse (${error.message})`);
    }
    let any = false;
    for (let i = 0; i < training.length && !any; i++) any = satisfies(k, i * E, o.constraints);
    if (!any) {
      notes.push(`no training alloy satisfies the constraints (${o.constraints.description}): the designs are ` +
        "extrapolations beyond the data.");
    }
  }
  return notes;
}

/**
 * The raw compositions of candidates start .. start + rows - 1 that are not refined: decoded
 * at the target or at their goal conditions, the random rows of section 7.2 drawn.
 */
async function unrefinedRows(o, plan, start, rows, generateFn, condition32, E, P) {
  let raw;
  const z = noise(o.seed, start, rows, o.latentDim);
  let condition;
  if (plan) condition = goalConditions(plan, start, rows);
  else {
    condition = new Float32Array(rows * P);
    for (let i = 0; i < rows; i++) condition.set(condition32, i * P);
  }
  const drawn = [];
  if (plan) for (let i = 0; i < rows; i++) if (isRandomRow(plan, start + i)) drawn.push(i);
  if (drawn.length) {
    // Section 7.2: the random rows are drawn, the others decoded (only they reach the generator).
    const decoded = [];
    const isDrawn = new Uint8Array(rows);
    for (const i of drawn) isDrawn[i] = 1;
    for (let i = 0; i < rows; i++) if (!isDrawn[i]) decoded.push(i);
    raw = new Float32Array(rows * E);
    if (decoded.length) {
      const L = o.latentDim;
      const zs = new Float32Array(decoded.length * L);
      const cs = new Float32Array(decoded.length * P);
      decoded.forEach((i, at) => {
        zs.set(z.subarray(i * L, (i + 1) * L), at * L);
        cs.set(condition.subarray(i * P, (i + 1) * P), at * P);
      });
      const part = await generateFn(zs, cs, decoded.length);
      if (!part || part.length !== decoded.length * E) {
        throw new Error(`the generator returned ${part ? part.length : 0} values for ${decoded.length} rows of ${E} elements`);
      }
      decoded.forEach((i, at) => raw.set(part.subarray(at * E, (at + 1) * E), i * E));
    }
    for (const i of drawn) randomRow(o.seed, start + i, o.constraints.allowed, o.constraints.maxElements, raw, i * E);
  } else {
    raw = await generateFn(z, condition, rows);
    if (!raw || raw.length !== rows * E) {
      throw new Error(`the generator returned ${raw ? raw.length : 0} values for ${rows} rows of ${E} elements`);
    }
  }
  return raw;
}

/**
 * Runs the whole design (sections 1-6) in chunks of candidates.
 *
 * @param {object} options
 * @param {(z: Float32Array, condition: Float32Array, rows: number) => Promise<Float32Array>} options.generateFn
 * @param {(fractions: Float32Array, rows: number, settings?: Float32Array) => Promise<{mean: Float32Array, std?: Float32Array, lower?: Float32Array, upper?: Float32Array}>} [options.judgeFn]
 *   the surrogate; without it designs are not judged (every score 0, all in tolerance). For a
 *   surrogate exported with settings (`options.surrogateMetadata.setting_names`) it gets a third
 *   argument, the request's settings as rows x settings (feed it as the `settings` input)
 * @param {object} [options.surrogateMetadata] the surrogate's metadata (its setting_names)
 * @param {Object<string, number>} [options.settings] fixed measurement settings, name -> value
 * @param {(fractions: Float32Array, condition: Float32Array, rows: number) => Promise<ArrayLike<number>>} [options.logProbFn]
 *   the generator's log-density (nats), where its metadata names a `log_prob_model`
 * @param {object} options.metadata the generator's metadata (elements, latent_dim, condition_names, ...)
 * @param {number[]|Object<string, number>} options.target one value per condition, in the metadata's units
 *   (condition order), or an object condition name -> value
 * @param {number} [options.n=20] designs
 * @param {number} [options.seed] noise seed, integer in [0, 2^32 - 1] (default: drawn, and returned)
 * @param {number} [options.candidates=max(100 n, 32000)] candidates drawn
 * @param {"diverse"|"closest"} [options.select="diverse"]
 * @param {number} [options.tolerance=0.05]
 * @param {object} [options.constraints] see checkConstraints (default minimum fraction 0.03)
 * @param {number} [options.chunkSize=4096]
 * @param {string} [options.surrogateName] how notes name the surrogate file
 * @param {string} [options.generatorPath] how notes name the generator file
 * @param {string} [options.candidatesName] how notes and errors name the candidates option (none: "draw more candidates")
 * @param {(done: number, total: number) => void} [options.onProgress]
 * @returns {Promise<object>} {designs, columns, systems, notes, counts, elements, names, units, ...}
 * @throws an Error naming the constraints when no candidate satisfies them (infeasible)
 */
export async function design(options) {
  const o = checkOptions(options);
  const { generateFn, judgeFn, logProbFn } = options;
  if (typeof generateFn !== "function") throw new Error("design needs generateFn");
  const hasSurrogate = typeof judgeFn === "function";
  const hasLogProb = typeof logProbFn === "function";
  const metadata = options.metadata;
  const surrogateSettings = options.surrogateMetadata && Array.isArray(options.surrogateMetadata.setting_names)
    ? options.surrogateMetadata.setting_names : [];
  const elements = metadata.elements;
  const E = elements.length;
  const P = o.names.length;
  const plan = o.plan;
  const floors = scaleFloors(metadata, P);
  const notes = notesBefore(metadata, o);
  const surrogateName = options.surrogateName || "the surrogate";
  // how notes name the candidates option (the page: "the Candidates field"); none: as the library says
  const more = options.candidatesName ? ` (${options.candidatesName})` : "";
  let calibrated = null;
  const seen = new Set();
  const selection = plan ? new GoalSelection(o.n, o.select, plan) : new Selection(o.n, o.select, o.tolerance);
  const descriptorNames = plan ? plan.descriptorColumns : [];
  const counts = { candidates: o.candidates, valid: 0, distinct: 0, inTolerance: 0, missed: 0 };
  const row = new Int32Array(E);
  const condition32 = plan ? null : Float32Array.from(o.target);
  const z32 = Math.fround(INTERVAL_Z);
  // z of the surrogate's calibrated intervals: the coverage its metadata records (section 7.3)
  const zInterval = intervalZ(options.surrogateMetadata ? options.surrogateMetadata.coverage : null);
  // Section 7.2: the exploration, then each refinement round from the designs the run would give before it.
  const phases = plan && !(o.select === "closest" && !plan.objectives.length) ? goalPhases(o.candidates, plan.refineRounds)
    : [[0, o.candidates]];
  for (let phase = 0; phase < phases.length; phase++) {
    const [first, phaseRows] = phases[phase];
    // the parents: the designs meeting the goals with P >= p_min, as shown (none: the round explores)
    const parents = phase
      ? selection.finish(REFINE_PARENTS * o.n).chosen.filter((d) => d.pGoals >= plan.minProbability).map((d) => d.k)
      : [];
    for (let start = first; start < first + phaseRows; start += o.chunkSize) {
      const rows = Math.min(o.chunkSize, first + phaseRows - start);
      let raw;
      if (parents.length) {
        // a refinement round: each row refines a parent
        raw = new Float32Array(rows * E);
        for (let i = 0; i < rows; i++) {
          refineRow(o.seed, start + i, first, parents, o.constraints.allowed, o.constraints.maxElements, raw, i * E);
        }
      } else {
        raw = await unrefinedRows(o, plan, start, rows, generateFn, condition32, E, P);
      }
      const fresh = [];
      for (let i = 0; i < rows; i++) {
        if (!repairRow(raw, i * E, o.constraints, row)) continue;
        let values = null;
        if (descriptorNames.length) {
          // Section 7.3: exact descriptor goals are constraints on the printed composition.
          values = descriptorsOf(o.descriptors, row, 0, descriptorNames);
          // a descriptor objective that is NaN drops the candidate too
          if (plan.descriptorGoals.some((g) => !(values[g.name] >= g.lo && values[g.name] <= g.hi)) ||
              plan.objectives.some((ob) => ob.descriptor && Number.isNaN(values[ob.name]))) {
            counts.missed++;
            continue;
          }
        }
        counts.valid++;
        const key = row.join(",");
        if (seen.has(key)) continue;
        seen.add(key);
        const d = { index: start + i, k: Int32Array.from(row) };
        if (values) d.descriptors = values;
        fresh.push(d);
      }
      counts.distinct += fresh.length;
      if (fresh.length && hasSurrogate) {
        const fractions = new Float32Array(fresh.length * E);
        fresh.forEach((d, i) => {
          for (let e = 0; e < E; e++) fractions[i * E + e] = d.k[e] / UNIT;
        });
        // A surrogate with a settings input gets the request's fixed settings as a third argument.
        const out = surrogateSettings.length
          ? await judgeFn(fractions, fresh.length, settingsRows(surrogateSettings, o.settings, fresh.length))
          : await judgeFn(fractions, fresh.length);
        if (!out || !out.mean || out.mean.length !== fresh.length * P) {
          throw new Error(`the surrogate returned no properties for ${fresh.length} rows of ${P} properties`);
        }
        const withInterval = Boolean(out.lower && out.upper);
        if (!withInterval && !out.std) throw new Error("the surrogate has no interval outputs (properties_lower/properties_upper or properties_std)");
        if (calibrated === null) calibrated = withInterval;
        fresh.forEach((d, i) => {
          const pick = (a) => Array.from(a.subarray(i * P, (i + 1) * P));
          d.mean = pick(out.mean);
          if (out.std) d.std = pick(out.std);
          if (withInterval) {
            d.lower = pick(out.lower);
            d.upper = pick(out.upper);
          } else {
            // mean ± z std in float32, as the Python engine computes it
            const half = d.std.map((s) => Math.fround(z32 * s));
            d.lower = d.mean.map((m, p) => Math.fround(m - half[p]));
            d.upper = d.mean.map((m, p) => Math.fround(m + half[p]));
          }
          if (plan) {
            let pGoals = 1;
            for (const g of plan.propertyGoals) {
              pGoals *= goalProbability(d.mean[g.p], d.lower[g.p], d.upper[g.p], g.lo, g.hi, withInterval ? zInterval : INTERVAL_Z);
            }
            d.pGoals = pGoals;
            d.score = Number.isNaN(pGoals) ? Infinity : 1 - pGoals;
          } else {
            d.errors = relativeErrors(out.mean, i * P, o.target, floors);
            d.score = scoreOf(d.errors);
            d.inTolerance = d.errors.every((e) => e <= o.tolerance);
          }
        });
      } else {
        for (const d of fresh) {
          d.score = 0;
          d.inTolerance = true;
          if (plan) d.pGoals = 1;
        }
      }
      for (const d of fresh) {
        if (plan && plan.objectives.length) d.values = objectiveValues(plan, d, o.names, calibrated ? zInterval : INTERVAL_Z);
        selection.offer(d);
        if (d.inTolerance) counts.inTolerance++;
      }
      if (options.onProgress) options.onProgress(start + rows, o.candidates);
    }
  }
  if (counts.valid === 0 && plan) {
    let what = o.constraints.description;
    if (plan.descriptorGoals.length) what += "; " + plan.goals.filter((g) => DESCRIPTOR_NAMES.includes(g.name)).map(goalText).join(", ");
    throw new TargetError(`no candidate satisfies the constraints and exact goals (${what}) among ${thousands(o.candidates)} ` +
      `candidates tried; relax them or draw more candidates${more}.`);
  }
  if (counts.valid === 0) {
    throw new TargetError(`no candidate satisfies the constraints (${o.constraints.description}) among ` +
      `${thousands(o.candidates)} candidates tried; relax the constraints or draw more candidates${more}.`);
  }
  if (!hasSurrogate) {
    const where = options.generatorPath;
    const folder = where ? where.replace(/[\\/][^\\/]*$/, "") || "." : null;
    notes.push(where
      ? `no surrogate found (no surrogate.onnx beside ${where}): designs are not judged or ranked. Export one into ` +
        `${folder} under the name surrogate (hea_zoo.serving.export.export_surrogate, or the export command).`
      : "no surrogate found: designs are not judged or ranked (export one as surrogate.onnx beside the generator).");
  } else if (calibrated === false) {
    notes.push(`intervals are the ensemble mean ± ${INTERVAL_Z.toFixed(3)} std (nominal 90 %, not calibrated): ` +
      `${surrogateName} has no calibrated interval outputs.`);
  }
  if (plan && plan.descriptorGoals.length) {
    const text = plan.descriptorGoals.map((g) => `${g.name} in [${gText(g.lo)}, ${gText(g.hi)}]`).join(", ");
    notes.push(`${thousands(counts.missed)} of the ${thousands(counts.missed + counts.valid)} candidates that met the constraints ` +
      `missed the exact goals (${text}) and were dropped.`);
  }
  const { chosen, pool, fromPool, filled, relaxed, twinPairs: pairs } = selection.finish();
  if (plan && pool !== null && filled) {
    const m = counts.inTolerance;
    notes.push(m === 0
      ? `no distinct candidate meets the goals with probability >= ${gText(plan.minProbability)}: the designs are the most probable.`
      : `only ${thousands(m)} distinct candidate${m === 1 ? " meets" : "s meet"} the goals with probability >= ` +
        `${gText(plan.minProbability)}: the rest are the most probable others.`);
  } else if (!plan && hasSurrogate && pool !== null && filled) {
    if (pool < o.n) {
      const count = `${thousands(pool)} distinct candidate${pool === 1 ? " is" : "s are"}`;
      notes.push(`only ${count} within ${gText(100 * o.tolerance)} % of the target on every property: the rest ` +
        "are the closest others (the closest selection).");
    } else {
      notes.push(`only ${thousands(fromPool)} of the ${thousands(pool)} best candidates within ${gText(100 * o.tolerance)} % of the target ` +
        `on every property are at least ${gText(MIN_DISTANCE_THOUSANDTHS / UNIT)} apart (L1): the rest are the closest ` +
        "others (the closest selection).");
    }
  }
  if (relaxed) {
    notes.push(`${thousands(pairs)} pair${pairs === 1 ? " is" : "s are"} closer than ${gText(MIN_DISTANCE_THOUSANDTHS / UNIT)} ` +
      `(L1, near-copies): the candidates held only ${thousands(chosen.length - relaxed)} designs at least that far apart ` +
      `(draw more candidates${more}).`);
  }
  if (chosen.length < o.n && plan) {
    notes.push(`only ${thousands(counts.distinct)} distinct candidate${counts.distinct === 1 ? "" : "s"} met the constraints and ` +
      `exact goals among ${thousands(o.candidates)} tried: ${thousands(chosen.length)} designs instead of ${thousands(o.n)} ` +
      `(draw more candidates${more}).`);
  } else if (chosen.length < o.n) {
    const which = o.constraints.given ? "met the constraints" : "printed as valid, distinct alloys";
    notes.push(`only ${thousands(counts.distinct)} distinct candidate${counts.distinct === 1 ? "" : "s"} ${which} ` +
      `among ${thousands(o.candidates)} tried: ${thousands(chosen.length)} designs instead of ${thousands(o.n)} ` +
      `(draw more candidates${more}` +
      (o.constraints.given ? "" : ", or aim nearer the training data: the generator collapses far from it") + ").");
  }
  const usesOracle = oracleApplies(metadata);
  const training = metadata.training_compositions;
  const trainingK = Array.isArray(training) && training.length ? parsePrinted(training, elements) : null;
  let logProb = null;
  if (hasLogProb && chosen.length) {
    const fractions = new Float32Array(chosen.length * E);
    chosen.forEach((d, i) => { for (let e = 0; e < E; e++) fractions[i * E + e] = d.k[e] / UNIT; });
    const condition = new Float32Array(chosen.length * P);
    for (let i = 0; i < chosen.length; i++) condition.set(plan ? goalConditions(plan, chosen[i].index, 1) : condition32, i * P);
    logProb = Array.from(await logProbFn(fractions, condition, chosen.length), Number);
    if (logProb.length !== chosen.length) throw new Error(`the log-density model returned ${logProb.length} values for ${chosen.length} designs`);
  }
  const nearest = trainingK ? nearestTraining(chosen.map((d) => d.k), trainingK, elements) : null;
  const designs = chosen.map((d, i) => {
    const fractions = Array.from(d.k, (v) => v / UNIT);
    const out = {
      rank: i + 1,
      index: d.index,
      formula: formulaString(d.k, elements),
      k: Array.from(d.k),
      fractions,
      score: d.score,
      inTolerance: d.inTolerance,
      system: systemOf(d.k, elements),
    };
    if (hasSurrogate) {
      Object.assign(out, { mean: d.mean, lower: d.lower, upper: d.upper });
      if (!plan) out.errors = Array.from(d.errors);
      if (d.std) out.std = d.std;
    }
    if (plan) {
      out.pGoals = d.pGoals;
      out.descriptors = d.descriptors || {};
      if (plan.objectives.length) out.objectiveValues = d.values;
    }
    if (usesOracle) {
      // A design of oxygen alone (possible under constraints) has no oracle values.
      out.oracle = elements.some((s, e) => s !== "O" && fractions[e] > 0)
        ? oracleProperties(fractions, elements)
        : new Array(P).fill(NaN);
      if (!plan) {
        const errors = relativeErrors(out.oracle, 0, o.target, floors);
        out.oracleErrors = Array.from(errors);
        out.oracleError = numpySum(errors, 0, P) / P;
      }
    }
    if (logProb) out.logProb = logProb[i];
    if (nearest) {
      out.nearestTraining = nearest[i].formula;
      out.nearestDistance = nearest[i].distance;
    }
    return out;
  });
  const result = {
    designs,
    systems: countSystems(designs, elements),
    notes,
    counts,
    hasSurrogate,
    calibrated: hasSurrogate ? Boolean(calibrated) : null,
    usesOracle,
    hasLogProb,
    elements: Array.from(elements),
    names: o.names,
    units: o.units,
    target: o.target,
    seed: o.seed,
    n: o.n,
    candidates: o.candidates,
    select: o.select,
    tolerance: o.tolerance,
    minFraction: o.constraints.minFraction,
    maxElements: o.constraints.maxElements,
    constraints: o.constraints.description,
    noise: NOISE_SPEC,
    hasNearest: Boolean(trainingK),
    goalMode: Boolean(plan),
  };
  if (plan) {
    Object.assign(result, {
      target: null,
      goals: plan.texts,
      objectives: plan.objectives.map((ob) => [ob.name, ob.sense]),
      descriptorColumns: plan.descriptorColumns,
      minProbability: plan.minProbability,
    });
  }
  result.columns = designColumns(result);
  return result;
}
