// The design page: loads an exported generator and the surrogate with onnxruntime-web
// (WebAssembly, one thread) and runs engine.js, the design engine `hea-zoo design` runs,
// with its defaults (20 designs, a drawn seed, max(100 n, 32000) candidates, diverse
// selection, tolerance 0.05, minimum fraction 0.03). "Design for: goals" states goals
// instead of a target (docs/DESIGN_ENGINE.md, section 7): one goal per row (NAME>=V,
// NAME<=V, NAME=LO:HI, NAME=V on a property or an exact descriptor, whose element table is
// exported/descriptors.json), up to two objectives and the minimum probability. Serve the
// repository root (`python -m http.server`) and open /examples/web/.

import * as engine from "./engine.js";

const ORT_DIR = new URL("node_modules/onnxruntime-web/dist/", import.meta.url).href;
const EXPORTED = new URL("../../exported/", import.meta.url).href;
const DEFAULT_GENERATORS = ["cae", "cvae", "wcgan"];
const MAX_DESIGNS = 1000;
const MAX_PAGE_CANDIDATES = 1000000;

const $ = (id) => document.getElementById(id);
const state = { ort: null, files: {}, manifest: false, models: new Map(), surrogate: null, descriptors: undefined, result: null,
  csvUrl: null, busy: false, goalRows: 0 };
const FIRST_GOAL_ROWS = 3;
const OBJECTIVE_ROWS = 2;

// ------------------------------------------------------------------------ messages

function showMessage(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = false;
}

function clearMessage() {
  $("message").hidden = true;
  $("message").textContent = "";
}

function showWarnings(list) {
  const ul = $("warnings");
  ul.replaceChildren(...list.map((w) => Object.assign(document.createElement("li"), { textContent: w })));
  ul.hidden = list.length === 0;
}

function oneLine(error) {
  const text = error && error.message ? error.message : String(error);
  return text.split("\n")[0];
}

// Nothing this page does may end as an uncaught error in the console: show it instead.
window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  showMessage(oneLine(event.reason));
});
window.addEventListener("error", (event) => {
  event.preventDefault();
  showMessage(oneLine(event.error || event.message));
});

// --------------------------------------------------------------------------- models

async function loadOrt() {
  if (state.ort) return state.ort;
  let ort;
  try {
    ort = await import(ORT_DIR + "ort.wasm.min.mjs");
  } catch (error) {
    throw new Error("onnxruntime-web is not installed: run `npm install --ignore-scripts` in examples/web");
  }
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = ORT_DIR;
  ort.env.logLevel = "error";
  state.ort = ort;
  return ort;
}

async function fetchBytes(file, optional = false) {
  let response;
  try {
    response = await fetch(EXPORTED + file);
  } catch (error) {
    throw new Error(`cannot fetch exported/${file}: ${oneLine(error)}`);
  }
  if (optional && response.status === 404) return null;
  if (!response.ok) throw new Error(`cannot load exported/${file}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** An exported model's session and metadata; null for an optional file that is not there. */
async function openModel(file, kind, optional = false) {
  const ort = await loadOrt();
  const bytes = await fetchBytes(file, optional);
  if (bytes === null) return null;
  let metadata;
  try {
    metadata = engine.onnxMetadata(bytes);
  } catch (error) {
    throw new Error(`exported/${file} is not an ONNX model (${oneLine(error)})`);
  }
  if (kind && metadata.kind !== kind) {
    throw new Error(`exported/${file} is not a hea_zoo ${kind} export (metadata kind=${JSON.stringify(metadata.kind)})`);
  }
  let session;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  } catch (error) {
    throw new Error(`exported/${file} does not load in onnxruntime-web: ${oneLine(error)}`);
  }
  return { file, metadata, session };
}

async function generatorNames() {
  try {
    const response = await fetch(EXPORTED + "MANIFEST.json");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const manifest = await response.json();
    const names = [];
    for (const [name, entry] of Object.entries(manifest.models || {})) {
      const onnx = entry.files && entry.files.onnx;
      if (entry.metadata && entry.metadata.kind === "generator" && onnx) {
        names.push(name);
        state.files[name] = onnx;
      }
      if (entry.metadata && entry.metadata.kind === "surrogate" && onnx) state.files.surrogate = onnx;
    }
    if (names.length) {
      state.manifest = true;
      return names;
    }
    throw new Error("it lists no generator");
  } catch (error) {
    showMessage(`exported/MANIFEST.json could not be read (${oneLine(error)}); offering the default generators.`);
    return DEFAULT_GENERATORS;
  }
}

async function openGenerator(name) {
  const generator = await openModel(state.files[name] || `${name}.onnx`, "generator");
  // A generator with a density names its log-density model (beside it in exported/).
  const file = generator.metadata.log_prob_model;
  generator.logDensity = file ? await openModel(String(file), null) : null;
  return generator;
}

/** exported/descriptors.json (hea_zoo.data.descriptors): the element table of the exact descriptors, or null. */
async function descriptorTable() {
  if (state.descriptors !== undefined) return state.descriptors;
  try {
    const response = await fetch(EXPORTED + "descriptors.json");
    state.descriptors = response.ok ? await response.json() : null;
  } catch (error) {
    state.descriptors = null;
  }
  return state.descriptors;
}

async function currentModels() {
  const name = $("model").value;
  if (!state.models.has(name)) state.models.set(name, openGenerator(name));
  // No surrogate.onnx: designs are not judged (as `hea-zoo design` without one).
  if (!state.surrogate) {
    state.surrogate = state.manifest && !state.files.surrogate ? Promise.resolve(null)
      : openModel(state.files.surrogate || "surrogate.onnx", "surrogate", true);
  }
  let generator;
  let surrogate;
  try {
    [generator, surrogate] = await Promise.all([state.models.get(name), state.surrogate]);
  } catch (error) {
    // A failed load is not cached: the next try loads again.
    state.models.delete(name);
    state.surrogate = null;
    throw error;
  }
  const g = generator.metadata;
  if (surrogate) {
    const s = surrogate.metadata;
    if (JSON.stringify(g.elements) !== JSON.stringify(s.elements)) {
      throw new Error(`the surrogate judges other elements than ${name} generates`);
    }
    if (JSON.stringify(g.condition_names) !== JSON.stringify(s.property_names)) {
      throw new Error(`the surrogate predicts ${s.property_names} but ${name} is conditioned on ${g.condition_names}`);
    }
  }
  return { name, generator, surrogate };
}

// ----------------------------------------------------------------------------- form

function formatRange(lo, hi) {
  return `${+lo.toPrecision(4)}–${+hi.toPrecision(4)}`;
}

function buildTargets(metadata) {
  const names = metadata.condition_names;
  const units = metadata.condition_units || names.map(() => "");
  const range = metadata.condition_range;
  const previous = Array.from(document.querySelectorAll("#targets input"), (input) => input.value);
  const box = $("targets");
  box.replaceChildren();
  names.forEach((name, p) => {
    const label = document.createElement("label");
    label.textContent = `${name.replace(/_/g, " ")} [${units[p]}]`;
    const input = document.createElement("input");
    input.type = "text";
    input.inputMode = "decimal";
    input.id = `target-${p}`;
    input.name = name;
    input.dataset.property = name;
    const hint = document.createElement("span");
    hint.className = "range";
    if (Array.isArray(range)) {
      const lo = Number(range[0][p]);
      const hi = Number(range[1][p]);
      hint.textContent = `training range ${formatRange(lo, hi)}`;
      input.value = previous[p] ?? String(+((lo + hi) / 2).toPrecision(3));
      const check = () => {
        const v = Number(input.value);
        const out = input.value.trim() !== "" && Number.isFinite(v) && !(lo <= v && v <= hi);
        input.classList.toggle("out-of-range", out);
        hint.classList.toggle("out-of-range", out);
        hint.textContent = out ? `outside the training range ${formatRange(lo, hi)}: an extrapolation` : `training range ${formatRange(lo, hi)}`;
      };
      input.addEventListener("input", check);
      check();
    } else {
      hint.textContent = "training range unknown";
      input.value = previous[p] ?? "";
    }
    label.append(input, hint);
    box.append(label);
  });
}

function goalRow(value = "") {
  const id = state.goalRows++;
  const row = document.createElement("div");
  row.className = "goal-row";
  const input = Object.assign(document.createElement("input"), {
    type: "text", id: `goal-${id}`, name: `goal-${id}`, value, placeholder: id === 0 ? "e.g. shear_modulus>=60" : id === 1 ? "e.g. density<=9" : "",
  });
  input.dataset.goal = "";
  const remove = Object.assign(document.createElement("button"), { type: "button", className: "small remove-goal", textContent: "Remove" });
  remove.setAttribute("aria-label", `remove goal ${id + 1}`);
  remove.addEventListener("click", () => row.remove());
  row.append(input, remove);
  $("goals").append(row);
  return input;
}

function buildGoals(metadata) {
  const names = [...metadata.condition_names, ...engine.DESCRIPTOR_NAMES];
  if (!$("goals").children.length) for (let i = 0; i < FIRST_GOAL_ROWS; i++) goalRow();
  const previous = Array.from({ length: OBJECTIVE_ROWS }, (_, i) => [$(`objective-${i}-sense`)?.value ?? "", $(`objective-${i}-name`)?.value ?? ""]);
  $("objectives").replaceChildren(...previous.map(([sense, name], i) => {
    const row = document.createElement("div");
    row.className = "objective-row";
    const label = Object.assign(document.createElement("label"), { textContent: `Objective ${i + 1}` });
    const senses = Object.assign(document.createElement("select"), { id: `objective-${i}-sense`, name: `objective-${i}-sense` });
    for (const [value, text] of [["", "none"], ["max", "maximize"], ["min", "minimize"]]) senses.append(new Option(text, value, false, value === sense));
    const which = Object.assign(document.createElement("select"), { id: `objective-${i}-name`, name: `objective-${i}-name` });
    for (const n of names) which.append(new Option(n, n, false, n === name));
    label.append(senses, which);
    row.append(label);
    return row;
  }));
  const units = metadata.condition_units || [];
  $("goal-names").textContent = "Names: " + metadata.condition_names.map((n, p) => `${n} [${units[p] || ""}]`).join(", ") +
    "; exact descriptors density [g/cm³], vec, delta [%], dhmix [kJ/mol], omega, tm [K]. " +
    "Descriptor goals are met exactly; property goals with the printed probability P(goals).";
}

function showAim() {
  const goals = $("aim").value === "goals";
  $("goal-box").hidden = !goals;
  $("target-box").hidden = goals;
}

function describeModel(model) {
  const m = model.generator.metadata;
  $("model-info").textContent = `${m.model_class || m.name} v${m.export_version ?? "?"}, latent ${m.latent_dim}, ` +
    `${m.elements.length} elements, hea_zoo ${m.hea_zoo_version ?? "?"}`;
  $("elements-info").textContent = `Elements: ${m.elements.join(" ")}`;
}

async function onModelChange() {
  $("design").disabled = true;
  clearMessage();
  try {
    const model = await currentModels();
    buildTargets(model.generator.metadata);
    buildGoals(model.generator.metadata);
    describeModel(model);
  } catch (error) {
    showMessage(oneLine(error));
    document.body.dataset.state = "error";
  } finally {
    $("design").disabled = false;
    document.body.dataset.model = $("model").value;
  }
}

function readNumber(id, what, { integer = false, optional = false, min = -Infinity, max = Infinity } = {}) {
  const text = $(id).value.trim();
  if (text === "") {
    if (optional) return undefined;
    throw new Error(`${what} is empty`);
  }
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`${what} is not a number: ${JSON.stringify(text)}`);
  if (integer && !Number.isInteger(value)) throw new Error(`${what} must be a whole number; got ${text}`);
  if (value < min || value > max) throw new Error(`${what} must lie in [${min}, ${max}]; got ${text}`);
  return value;
}

/** The goal fields (section 7): goals, objectives and min_probability, as the engine takes them. */
function readGoals() {
  const goals = Array.from(document.querySelectorAll("#goals input[data-goal]"), (input) => input.value.trim()).filter(Boolean);
  const objectives = [];
  for (let i = 0; i < OBJECTIVE_ROWS; i++) {
    const sense = $(`objective-${i}-sense`).value;
    if (sense) objectives.push([$(`objective-${i}-name`).value, sense]);
  }
  if (!goals.length && !objectives.length) throw new Error("give at least one goal or objective (or design for a target point)");
  const minProbability = readNumber("min-probability", "the minimum probability");
  return { goals, objectives, minProbability };
}

function readRequest(metadata) {
  const names = metadata.condition_names;
  const units = metadata.condition_units || [];
  const aimGoals = $("aim").value === "goals";
  // The request names its target values by condition; engine.checkOptions checks them (section 0).
  const values = aimGoals ? [] : names.map((name, p) => {
    const what = `target ${name} [${units[p]}]`;
    const value = readNumber(`target-${p}`, what);
    const range = Array.isArray(metadata.condition_range) ? metadata.condition_range.map((r) => Number(r[p])) : null;
    const known = range ? ` (training range ${formatRange(...range)})` : "";
    if (Math.abs(value) > 1e6) throw new Error(`${what} = ${value} is beyond any plausible value${known}`);
    return value;
  });
  const target = aimGoals ? undefined : Object.fromEntries(names.map((name, p) => [name, values[p]]));
  const goalFields = aimGoals ? readGoals() : {};
  const n = readNumber("n", "the number of designs", { integer: true, min: 1, max: MAX_DESIGNS });
  // An empty seed is drawn at random (and shown with the designs), as `hea-zoo design` does.
  const seed = readNumber("seed", "the seed", { integer: true, optional: true, min: 0, max: engine.MAX_SEED });
  const candidates = readNumber("candidates", "candidates", { integer: true, optional: true, min: 1, max: MAX_PAGE_CANDIDATES });
  const tolerance = readNumber("tolerance", "the tolerance", { min: Number.MIN_VALUE, max: 1e6 });
  const constraints = {
    allowed: $("allowed").value.trim() === "" ? undefined : $("allowed").value,
    excluded: $("excluded").value,
    maxElements: readNumber("max-elements", "the maximum number of elements", { integer: true, optional: true }),
    bounds: $("bounds").value,
    minFraction: readNumber("min-fraction", "the minimum fraction", { optional: true }),
  };
  // Contradictory constraints are reported before any model runs.
  engine.checkConstraints(constraints, metadata.elements, Number(metadata.composition_threshold ?? engine.DROP_THRESHOLD));
  return { target, n, seed, candidates, select: $("select").value, tolerance, constraints, ...goalFields };
}

// --------------------------------------------------------------------------- design

function runners(model) {
  const ort = state.ort;
  const g = model.generator;
  const s = model.surrogate;
  const E = g.metadata.elements.length;
  const P = g.metadata.condition_names.length;
  const L = Number(g.metadata.latent_dim);
  // Generators return `composition` (a generator with more outputs names it so too).
  const composition = g.session.outputNames.includes("composition") ? "composition" : g.session.outputNames[0];
  const out = {
    generateFn: async (z, condition, rows) => {
      const result = await g.session.run({
        z: new ort.Tensor("float32", z, [rows, L]),
        condition: new ort.Tensor("float32", condition, [rows, P]),
      }, [composition]);
      return result[composition].data;
    },
  };
  if (s) {
    // A calibrated interval where the export has one, else the ensemble spread.
    const calibrated = ["properties_lower", "properties_upper"].every((name) => s.session.outputNames.includes(name));
    const outputs = calibrated ? ["properties", "properties_lower", "properties_upper"] : ["properties", "properties_std"];
    out.judgeFn = async (fractions, rows, settings) => {
      const feeds = { composition: new ort.Tensor("float32", fractions, [rows, E]) };
      // A surrogate exported with measurement settings takes them as a `settings` input.
      if (settings) feeds.settings = new ort.Tensor("float32", settings, [rows, settings.length / rows]);
      const result = await s.session.run(feeds, outputs);
      return {
        mean: result.properties.data,
        std: result.properties_std && result.properties_std.data,
        lower: result.properties_lower && result.properties_lower.data,
        upper: result.properties_upper && result.properties_upper.data,
      };
    };
  }
  if (g.logDensity) {
    const first = g.logDensity.session.outputNames[0];
    out.logProbFn = async (fractions, condition, rows) => {
      const result = await g.logDensity.session.run({
        composition: new ort.Tensor("float32", fractions, [rows, E]),
        condition: new ort.Tensor("float32", condition, [rows, P]),
      }, [first]);
      return result[first].data;
    };
  }
  return out;
}

async function onDesign(event) {
  event.preventDefault();
  if (state.busy) return;
  const started = performance.now();
  clearMessage();
  showWarnings([]);
  state.busy = true;
  document.body.dataset.state = "running";
  $("design").disabled = true;
  try {
    const model = await currentModels();
    const request = readRequest(model.generator.metadata);
    const descriptors = await descriptorTable();
    const result = await engine.design({
      ...runners(model), metadata: model.generator.metadata, ...request, descriptors,
      surrogateMetadata: model.surrogate ? model.surrogate.metadata : null,
      surrogateName: `exported/${model.surrogate ? model.surrogate.file : "surrogate.onnx"}`,
      generatorPath: `exported/${model.generator.file}`, candidatesName: "the Candidates field",
      onProgress: (done, total) => { $("progress").textContent = `${done.toLocaleString()} / ${total.toLocaleString()} candidates`; },
    });
    result.model = model.name;
    const coverage = model.surrogate && model.surrogate.metadata.coverage;
    result.coverage = coverage === undefined || coverage === null ? null : Number(coverage);
    result.floors = Array.from(engine.scaleFloors(model.generator.metadata, result.names.length));
    state.result = result;
    showWarnings(result.notes);
    render(result);
    const ms = performance.now() - started;
    result.milliseconds = ms;
    $("timing").textContent = `First designs ${ms.toFixed(0)} ms after the button press ` +
      `(${result.counts.candidates.toLocaleString()} candidates, ${model.name}).`;
    console.log(`hea_zoo: first designs in ${ms.toFixed(1)} ms`);
    document.body.dataset.designs = String(result.designs.length);
    document.body.dataset.ms = ms.toFixed(1);
    document.body.dataset.state = "done";
  } catch (error) {
    $("results").hidden = true;
    showMessage(oneLine(error));
    document.body.dataset.state = "error";
  } finally {
    $("progress").textContent = "";
    state.busy = false;
    $("design").disabled = false;
  }
}

// --------------------------------------------------------------------------- output

function fmt(value, digits = 1) {
  return Number.isFinite(value) ? engine.formatFixed(value, digits) : "–";
}

function propertyCell(d, p) {
  return `${fmt(d.mean[p])} [${fmt(d.lower[p], 2)}, ${fmt(d.upper[p], 2)}]`;
}

function render(result) {
  const { designs, names, units } = result;
  // The calibrated interval of the export, else mean ± 1.645 std (a note says so).
  const interval = result.calibrated
    ? `interval${result.coverage ? ` (${Math.round(result.coverage * 100)} %)` : ""}`
    : "interval (nominal 90 %)";
  const head = ["#", "formula"];
  names.forEach((name, p) => {
    if (result.hasSurrogate) head.push(`${name.replace(/_/g, " ")} [${units[p]}], ${interval}`);
    if (result.usesOracle) head.push(`oracle [${units[p]}]`);
  });
  if (result.goalMode) head.push("P(goals)", ...result.descriptorColumns);
  else if (result.hasSurrogate) head.push("mean rel. error");
  if (result.hasLogProb) head.push("log p");
  head.push("system");
  if (result.hasNearest) head.push("nearest training alloy (at.% away)");
  const tr = document.createElement("tr");
  head.forEach((text, i) => {
    const th = document.createElement("th");
    th.textContent = text;
    if (i === 1) th.className = "formula";
    else if (text === "system") th.className = "system";
    tr.append(th);
  });
  $("designs").tHead.replaceChildren(tr);
  const body = $("designs").tBodies[0];
  body.replaceChildren(...designs.map((d) => {
    const row = document.createElement("tr");
    row.dataset.index = String(d.index);
    row.dataset.k = d.k.join(",");
    if (!d.inTolerance) row.className = "off-target";
    const cells = [String(d.rank), d.formula];
    const systemColumn = head.indexOf("system");
    names.forEach((_, p) => {
      if (result.hasSurrogate) cells.push(propertyCell(d, p));
      if (result.usesOracle) cells.push(fmt(d.oracle[p]));
    });
    if (result.goalMode) {
      cells.push(fmt(d.pGoals, 3));
      for (const name of result.descriptorColumns) cells.push(fmt(d.descriptors[name], 3));
    } else if (result.hasSurrogate) cells.push(`${fmt(100 * d.score, 2)} %`);
    if (result.hasLogProb) cells.push(fmt(d.logProb));
    cells.push(d.system);
    if (result.hasNearest) cells.push(`${d.nearestTraining} (${fmt(d.nearestDistance, 2)})`);
    cells.forEach((text, c) => {
      const td = document.createElement("td");
      if (c === 1) {
        // A long formula wraps between elements only.
        td.className = "formula";
        text.split(/(?=[A-Z])/).forEach((term, i) => {
          if (i) td.append(document.createElement("wbr"));
          td.append(term);
        });
      } else {
        td.textContent = text;
        if (c === systemColumn) td.className = "system";
      }
      row.append(td);
    });
    return row;
  }));
  const asked = result.goalMode
    ? `Goals: ${[...(result.goals.length ? [result.goals.join(", ")] : []),
      ...result.objectives.map(([name, sense]) => `${sense === "max" ? "maximize" : "minimize"} ${name}`)].join("; ")}. `
    : "";
  const judged = result.goalMode
    ? (result.hasSurrogate ? `${result.counts.inTolerance.toLocaleString()} distinct candidates meet the goals with probability ≥ ` +
      `${result.minProbability} by the surrogate. ` : "Property goals not judged: no surrogate. ")
    : result.hasSurrogate
    ? `${result.counts.inTolerance.toLocaleString()} distinct candidates within ±${+(100 * result.tolerance).toPrecision(3)} % ` +
      "of the target on every property by the surrogate. "
    : "Not judged: no surrogate. ";
  $("summary").textContent = `${asked}${designs.length} designs (${result.select}, seed ${result.seed}) span ${result.systems} ` +
    `alloy systems (elements ≥ 5 at.%). ${judged}` +
    `${result.counts.distinct.toLocaleString()} distinct valid candidates of ${result.counts.candidates.toLocaleString()} drawn ` +
    `(minimum fraction ${result.minFraction}).`;
  if (state.csvUrl) URL.revokeObjectURL(state.csvUrl);
  state.csvUrl = URL.createObjectURL(new Blob([engine.designsCsv(result)], { type: "text/csv" }));
  $("download").href = state.csvUrl;
  $("download").download = `hea_zoo_${result.model}_seed${result.seed}.csv`;
  // Without a surrogate there is nothing to place in property space.
  $("plot").style.display = result.hasSurrogate ? "" : "none";
  if (result.hasSurrogate) plot(result);
  else $("plot").replaceChildren();
  $("results").hidden = false;
}

// ----------------------------------------------------------------------------- plot

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceTicks(lo, hi, count = 5) {
  const span = hi - lo;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || 10 * mag;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

function extent(values) {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!(hi > lo)) { lo -= Math.abs(lo) * 0.05 + 1; hi += Math.abs(hi) * 0.05 + 1; }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}

function plot(result) {
  const root = $("plot");
  root.replaceChildren();
  const W = 640, H = 420, left = 62, right = 20, top = 16, bottom = 50;
  const { designs, names, units } = result;
  const goalMode = Boolean(result.goalMode);
  // Goal mode has no target point: the designs' own centre stands in (no marker, no tolerance box).
  const target = goalMode ? names.map((_, p) => designs.reduce((s, d) => s + d.mean[p], 0) / Math.max(designs.length, 1)) : result.target;
  const two = names.length >= 2;
  // x: the first property; y: the second, or the relative error for a single property.
  const xOf = (d) => d.mean[0];
  const yOf = (d) => (two ? d.mean[1] : goalMode ? d.pGoals : d.score);
  const xs = designs.map(xOf).concat([target[0]]);
  const ys = designs.map(yOf).concat([two ? target[1] : 0]);
  const tolX = goalMode ? 0 : result.tolerance * Math.max(Math.abs(target[0]), result.floors[0]);
  const tolY = two && !goalMode ? result.tolerance * Math.max(Math.abs(target[1]), result.floors[1]) : 0;
  xs.push(target[0] - tolX, target[0] + tolX);
  if (two) ys.push(target[1] - tolY, target[1] + tolY);
  const [x0, x1] = extent(xs.filter(Number.isFinite));
  const [y0, y1] = extent(ys.filter(Number.isFinite));
  const sx = (v) => left + ((v - x0) / (x1 - x0)) * (W - left - right);
  const sy = (v) => H - bottom - ((v - y0) / (y1 - y0)) * (H - top - bottom);
  const axes = svg("g", { class: "axis" });
  for (const t of niceTicks(x0, x1)) {
    axes.append(svg("line", { class: "grid", x1: sx(t), x2: sx(t), y1: top, y2: H - bottom }));
    axes.append(svg("text", { x: sx(t), y: H - bottom + 16, "text-anchor": "middle" }, String(t)));
  }
  for (const t of niceTicks(y0, y1)) {
    axes.append(svg("line", { class: "grid", x1: left, x2: W - right, y1: sy(t), y2: sy(t) }));
    axes.append(svg("text", { x: left - 6, y: sy(t) + 4, "text-anchor": "end" }, String(t)));
  }
  axes.append(svg("path", { d: `M${left},${top}V${H - bottom}H${W - right}`, fill: "none" }));
  axes.append(svg("text", { x: (left + W - right) / 2, y: H - 12, "text-anchor": "middle" }, `${names[0]} [${units[0]}] (surrogate)`));
  const yLabel = two ? `${names[1]} [${units[1]}] (surrogate)` : goalMode ? "P(goals)" : "relative error";
  axes.append(svg("text", { x: 14, y: (top + H - bottom) / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${(top + H - bottom) / 2})` }, yLabel));
  root.append(axes);
  if (two && !goalMode) {
    root.append(svg("rect", {
      class: "tolerance", x: sx(target[0] - tolX), y: sy(target[1] + tolY),
      width: sx(target[0] + tolX) - sx(target[0] - tolX), height: sy(target[1] - tolY) - sy(target[1] + tolY),
    }));
  }
  const points = svg("g", { class: "designs" });
  designs.forEach((d, i) => {
    const [lo, hi] = [d.lower[0], d.upper[0]];
    if (Number.isFinite(lo) && Number.isFinite(hi)) points.append(svg("line", { class: "interval", x1: sx(lo), x2: sx(hi), y1: sy(yOf(d)), y2: sy(yOf(d)) }));
    if (two) {
      const [lo1, hi1] = [d.lower[1], d.upper[1]];
      if (Number.isFinite(lo1) && Number.isFinite(hi1)) points.append(svg("line", { class: "interval", x1: sx(xOf(d)), x2: sx(xOf(d)), y1: sy(lo1), y2: sy(hi1) }));
    }
  });
  designs.forEach((d, i) => {
    const c = svg("circle", { class: "design", cx: sx(xOf(d)), cy: sy(yOf(d)), r: 5, "data-rank": i + 1 });
    c.append(svg("title", {}, `#${i + 1} ${d.formula}`));
    points.append(c);
  });
  root.append(points);
  if (goalMode) return;
  const tx = sx(target[0]);
  const ty = sy(two ? target[1] : 0);
  const marker = svg("path", { class: "target", d: `M${tx - 9},${ty - 9}L${tx + 9},${ty + 9}M${tx - 9},${ty + 9}L${tx + 9},${ty - 9}` });
  marker.append(svg("title", {}, `target: ${target.map((t, p) => `${names[p]} = ${t} ${units[p]}`).join(", ")}`));
  root.append(marker);
  const legend = svg("g", { transform: `translate(${W - right - 190},${top + 6})` });
  legend.append(svg("circle", { class: "legend-design", cx: 6, cy: 0, r: 5 }));
  legend.append(svg("text", { x: 16, y: 4 }, "design (surrogate, interval)"));
  legend.append(svg("path", { class: "legend-target", d: "M0,12L12,24M0,24L12,12" }));
  legend.append(svg("text", { x: 16, y: 22 }, `target ± ${+(100 * result.tolerance).toPrecision(3)} %`));
  root.append(legend);
}

// ----------------------------------------------------------------------------- start

async function start() {
  $("form").addEventListener("submit", (event) => { onDesign(event); });
  $("model").addEventListener("change", () => { onModelChange(); });
  $("aim").addEventListener("change", showAim);
  $("add-goal").addEventListener("click", () => goalRow().focus());
  showAim();
  const names = await generatorNames();
  const preferred = names.includes(engine.DEFAULT_MODEL) ? engine.DEFAULT_MODEL : names[0];
  $("model").replaceChildren(...names.map((name) => Object.assign(document.createElement("option"), {
    value: name, textContent: name, selected: name === preferred,
  })));
  await onModelChange();
  document.body.dataset.ready = "true";
}

start().catch((error) => showMessage(oneLine(error)));
