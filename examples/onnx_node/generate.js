#!/usr/bin/env node
// Generate or design refractory high-entropy alloys with the exported hea_zoo models.
//
//   node generate.js --model ../../exported/cvae.onnx --target 80,40 [--n 5] [--seed 0] [--json]
//   node generate.js --design --model ../../exported/cvae.onnx --target 60,35 [--n 20] [--seed 0]
//                    [--candidates C] [--select diverse|closest] [--tolerance 0.05]
//                    [--allow Mo,Nb,...] [--exclude Al,V] [--max-elements 5]
//                    [--bounds Al=0:0.1,W=0.2:0.5] [--min-fraction 0.03] [--out designs.csv] [--json]
//   node generate.js --design --model ../../exported/cae.onnx --goal "shear_modulus>=60" --goal "density<=9"
//                    [--maximize fracture_toughness] [--minimize NAME] [--min-probability 0.8] [--target NAME=V]
//
// The generator's inputs are `z` (standard-normal noise, [batch, latent_dim]) and
// `condition` (the target properties in physical units, [batch, n_conditions]); its output
// `composition` holds atomic fractions over the element list stored in the file's
// metadata_props. The noise is hea_zoo's seeded draw (hzn1, examples/web/engine.js), so
// `--seed s --n n` decodes the z of `model.generate([target], n, seed=s)` in Python; `--z`
// reads the rows from a JSON file instead. Formulas are printed compositions (traces below
// the threshold dropped, the rest rounded to 0.001 by largest remainder).
//
// `--design` runs the whole design engine of docs/DESIGN_ENGINE.md (the one the browser
// page and `hea-zoo design` run, with the same defaults): candidates from the generator,
// repaired to the constraints, judged by the surrogate beside the model (`surrogate.onnx`,
// or --surrogate; without one the designs are not judged), selected and ranked. It prints
// the table `hea-zoo design` prints (notes on stderr), `--out` writes the CSV of
// `hea-zoo design --out`, and `--json` prints everything as one JSON object. Goals
// (docs/DESIGN_ENGINE.md, section 7): `--goal` (repeatable) NAME>=V, NAME<=V, NAME=LO:HI or
// NAME=V over the model's properties and the exact descriptors (density, vec, delta, dhmix,
// omega, tm: read from descriptors.json beside the model); `--maximize` / `--minimize` NAME
// (at most two objectives); `--target NAME=V` is then a point goal.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ort from "onnxruntime-node";
import * as engine from "../web/engine.js";

const USAGE = `usage: node generate.js --model FILE.onnx --target V1,V2 [--n N] [--seed S]
                        [--z Z.json] [--threshold T] [--json]
       node generate.js --design --model FILE.onnx --target V1,V2 [--n N] [--seed S]
                        [--candidates C] [--select diverse|closest] [--tolerance TOL]
                        [--allow A,B] [--exclude A,B] [--max-elements M]
                        [--bounds Al=0:0.1,W=0.2:0.5] [--min-fraction F]
                        [--surrogate FILE.onnx] [--chunk-size K] [--out FILE.csv] [--json]
                        [--goal 'NAME>=V' ...] [--maximize NAME] [--minimize NAME]
                        [--min-probability P]

  --model         exported hea_zoo generator (e.g. ../../exported/cvae.onnx)
  --target        target properties in the model's condition units, comma separated
                  (e.g. 80,40 for shear modulus 80 GPa, fracture toughness 40 MPa*m^0.5)
  --n             designs (default 5, with --design 20; ignored with --z)
  --seed          seed of the noise, an integer in [0, 4294967295] (default 0; with
                  --design drawn at random and printed, as hea-zoo design does)
  --z             JSON file: an array of rows of latent_dim numbers, used as the noise
  --threshold     formulas drop fractions below this (default: the model's metadata, 0.005)
  --design        run the design engine (judge, constrain, select) instead of printing draws
  --candidates    candidates drawn by --design (default max(100 n, 32000))
  --select        diverse (default) or closest
  --tolerance     relative error per property that counts as on target (default 0.05)
  --allow         only these elements;  --exclude: never these elements
  --max-elements  at most this many elements per alloy
  --bounds        per-element fraction bounds, SYMBOL=LO:HI, comma separated
  --min-fraction  smallest fraction of any element present (default 0.03)
  --surrogate     the surrogate (default: surrogate.onnx beside --model, if there is one)
  --out           with --design: also write every design to this CSV file
  --goal          with --design: a goal NAME>=V, NAME<=V, NAME=LO:HI or NAME=V (repeatable;
                  NAME a property or density, vec, delta, dhmix, omega, tm); then --target
                  is optional and may name some properties only (NAME=V,NAME=V)
  --maximize      with --design: the property or descriptor to maximize (--minimize: minimize);
                  at most two objectives (a Pareto front)
  --min-probability  designs meeting the goals with at least this probability come first (0.8)
  --setting       with --design: a fixed measurement setting NAME=VALUE for a surrogate exported
                  with settings (test_temperature=1000; repeatable)
  --json          print one JSON object instead of text`;

function fail(message, code = 2) {
  process.stderr.write(code === 2 ? `error: ${message}\n\n${USAGE}\n` : `error: ${message}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const args = { json: false, design: false, constraints: {}, goals: [], objectives: [], settings: {} };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case "--model": args.model = value(); break;
      case "--target": args.target = value(); break;
      case "-n": case "--n": args.n = Number(value()); break;
      case "--seed": args.seed = Number(value()); break;
      case "--z": args.z = value(); break;
      case "--threshold": args.threshold = Number(value()); break;
      case "--json": args.json = true; break;
      case "--goal": args.goals.push(value()); break;
      case "--maximize": args.objectives.push([value(), "max"]); break;
      case "--minimize": args.objectives.push([value(), "min"]); break;
      case "--min-probability": args.minProbability = Number(value()); break;
      case "--setting": {
        const [name, text] = value().split("=");
        if (!name || text === undefined) fail("--setting expects NAME=VALUE");
        args.settings[name.trim()] = Number(text);
        break;
      }
      case "--design": args.design = true; break;
      case "--candidates": args.candidates = Number(value()); break;
      case "--select": args.select = value(); break;
      case "--tolerance": args.tolerance = Number(value()); break;
      case "--chunk-size": args.chunkSize = Number(value()); break;
      case "--surrogate": args.surrogate = value(); break;
      case "--out": args.out = value(); break;
      case "--allow": args.constraints.allowed = value(); break;
      case "--exclude": args.constraints.excluded = value(); break;
      case "--max-elements": args.constraints.maxElements = Number(value()); break;
      case "--bounds": args.constraints.bounds = value(); break;
      case "--min-fraction": args.constraints.minFraction = Number(value()); break;
      case "-h": case "--help": process.stdout.write(USAGE + "\n"); process.exit(0); break;
      default: fail(`unknown argument ${JSON.stringify(flag)}`);
    }
  }
  if (!args.model) fail("--model is required");
  const goalMode = args.goals.length > 0 || args.objectives.length > 0;
  if (goalMode && !args.design) fail("--goal, --maximize and --minimize go with --design");
  if (!args.target && !goalMode) fail("--target is required");
  if (args.n === undefined) args.n = args.design ? engine.DEFAULT_N : 5;
  if (!Number.isInteger(args.n) || args.n < 1) fail(`--n must be a positive integer, got ${args.n}`);
  if (args.seed === undefined && !args.design) args.seed = 0;
  if (args.seed !== undefined) {
    try {
      engine.checkSeed(args.seed, "--seed");
    } catch (error) {
      fail(error.message);
    }
  }
  if (args.design && args.z) fail("--z and --design do not go together (the design draws its own noise)");
  if (args.out && !args.design) fail("--out goes with --design");
  return args;
}

function readZ(file, dim) {
  let rows;
  try {
    rows = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    fail(`cannot read --z ${file}: ${error.message}`);
  }
  if (!Array.isArray(rows) || rows.length === 0) fail(`--z ${file} must hold a non-empty array of rows`);
  rows.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== dim || !row.every(Number.isFinite)) {
      fail(`--z ${file}: row ${i} must be ${dim} finite numbers (the model's latent_dim), got ${JSON.stringify(row)}`);
    }
  });
  return rows;
}

function rowsOf(flat, n, width) {
  return Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * width, (i + 1) * width)));
}

async function openSession(file) {
  const options = { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 };
  return ort.InferenceSession.create(file, options);
}

/** The engine's generateFn, judgeFn and logProbFn over onnxruntime-node sessions. */
export function runners(generator, surrogate, nElements, nConditions, latentDim, logDensity = null) {
  // Generators return `composition` (a generator with more outputs names it so too).
  const composition = generator.outputNames.includes("composition") ? "composition" : generator.outputNames[0];
  const generateFn = async (z, condition, rows) => {
    const out = await generator.run({
      z: new ort.Tensor("float32", z, [rows, latentDim]),
      condition: new ort.Tensor("float32", condition, [rows, nConditions]),
    }, [composition]);
    return out[composition].data;
  };
  let judgeFn;
  if (surrogate) {
    // A calibrated interval where the export has one, else the ensemble spread.
    const calibrated = ["properties_lower", "properties_upper"].every((name) => surrogate.outputNames.includes(name));
    const wanted = calibrated ? ["properties", "properties_lower", "properties_upper"] : ["properties", "properties_std"];
    judgeFn = async (fractions, rows, settings) => {
      const feeds = { composition: new ort.Tensor("float32", fractions, [rows, nElements]) };
      // A surrogate exported with measurement settings takes them as a `settings` input.
      if (settings) feeds.settings = new ort.Tensor("float32", settings, [rows, settings.length / rows]);
      const out = await surrogate.run(feeds, wanted);
      return {
        mean: out.properties.data,
        std: out.properties_std && out.properties_std.data,
        lower: out.properties_lower && out.properties_lower.data,
        upper: out.properties_upper && out.properties_upper.data,
      };
    };
  }
  let logProbFn;
  if (logDensity) {
    const first = logDensity.outputNames[0];
    logProbFn = async (fractions, condition, rows) => {
      const out = await logDensity.run({
        composition: new ort.Tensor("float32", fractions, [rows, nElements]),
        condition: new ort.Tensor("float32", condition, [rows, nConditions]),
      }, [first]);
      return out[first].data;
    };
  }
  return { generateFn, judgeFn, logProbFn };
}

async function runDesign(args, meta, target) {
  const surrogatePath = args.surrogate || path.join(path.dirname(args.model), "surrogate.onnx");
  let surrogate = null;
  let smeta = null;
  if (fs.existsSync(surrogatePath)) {
    smeta = engine.onnxMetadata(fs.readFileSync(surrogatePath));
    if (smeta.kind !== "surrogate") fail(`${surrogatePath} is not a hea_zoo surrogate export (metadata kind=${JSON.stringify(smeta.kind)})`);
    if (JSON.stringify(smeta.elements) !== JSON.stringify(meta.elements)) {
      fail(`${surrogatePath} judges compositions over other elements than ${args.model} generates`);
    }
    if (JSON.stringify(smeta.property_names) !== JSON.stringify(meta.condition_names)) {
      fail(`${surrogatePath} predicts ${smeta.property_names} but ${args.model} is conditioned on ${meta.condition_names}`);
    }
    surrogate = await openSession(surrogatePath);
  } else if (args.surrogate) {
    fail(`no surrogate at ${args.surrogate}`);
  }
  let logDensity = null;
  if (meta.log_prob_model) {
    const file = path.join(path.dirname(args.model), String(meta.log_prob_model));
    if (!fs.existsSync(file)) fail(`${args.model}: metadata key log_prob_model names ${meta.log_prob_model}, which is not beside it`);
    logDensity = await openSession(file);
  }
  // The exact descriptors' element table (hea_zoo.data.descriptors), written beside the models.
  const table = path.join(path.dirname(args.model), "descriptors.json");
  const descriptors = fs.existsSync(table) ? JSON.parse(fs.readFileSync(table, "utf8")) : null;
  const generator = await openSession(args.model);
  const fns = runners(generator, surrogate, meta.elements.length, meta.condition_names.length, Number(meta.latent_dim), logDensity);
  const started = performance.now();
  let result;
  try {
    result = await engine.design({
      ...fns, metadata: meta, target, n: args.n, seed: args.seed,
      goals: args.goals, objectives: args.objectives, minProbability: args.minProbability, descriptors,
      candidates: args.candidates, select: args.select, tolerance: args.tolerance,
      constraints: args.constraints, chunkSize: args.chunkSize, surrogateName: surrogatePath,
      generatorPath: args.model, surrogateMetadata: smeta, settings: args.settings,
    });
  } catch (error) {
    fail(error.message, error instanceof engine.TargetError ? error.exitCode : 2);
  }
  result.seconds = (performance.now() - started) / 1000;
  result.model = path.basename(args.model);
  result.surrogate = surrogate ? path.basename(surrogatePath) : null;
  result.coverage = smeta && smeta.coverage !== undefined ? Number(smeta.coverage) : null;
  if (args.out) fs.writeFileSync(args.out, engine.designsCsv(result));
  result.table = engine.designsTable(result, path.basename(args.model, ".onnx"));
  if (args.json) {
    process.stdout.write(JSON.stringify(result) + "\n");
    return;
  }
  for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
  process.stdout.write(result.table + "\n");
  if (args.out) process.stdout.write(`wrote ${result.designs.length.toLocaleString("en-US")} designs to ${args.out}\n`);
}

export async function main(argv = process.argv.slice(2)) {
  const args = parseArgs(argv);
  if (!fs.existsSync(args.model)) fail(`no such model file: ${args.model}`);
  const meta = engine.onnxMetadata(fs.readFileSync(args.model));
  if (meta.kind !== "generator") {
    fail(`${args.model} is not a hea_zoo generator export (metadata kind=${JSON.stringify(meta.kind)})`);
  }
  const elements = meta.elements;
  const latentDim = Number(meta.latent_dim);
  const names = meta.condition_names;
  const units = meta.condition_units;
  if (args.design && (args.goals.length || args.objectives.length)) {
    // A goal request: --target NAME=V,... names point goals (or all values in condition order).
    let target;
    if (args.target && args.target.includes("=")) {
      target = {};
      for (const item of args.target.split(",")) {
        const [name, text] = item.split("=");
        target[name.trim()] = text === undefined || text.trim() === "" ? NaN : Number(text.trim());
      }
    } else if (args.target) {
      target = args.target.split(",").map((s) => (s.trim() === "" ? NaN : Number(s.trim())));
    }
    return runDesign(args, meta, target);
  }
  const target = args.target.split(",").map((s) => (s.trim() === "" ? NaN : Number(s.trim())));
  if (target.length !== names.length || !target.every(Number.isFinite)) {
    fail(`--target must be ${names.length} numbers: ${names.map((n, i) => `${n} [${units[i]}]`).join(", ")}; got ${JSON.stringify(args.target)}`);
  }
  if (args.design) return runDesign(args, meta, target);

  const threshold = args.threshold ?? Number(meta.composition_threshold ?? engine.DROP_THRESHOLD);
  const z = args.z
    ? Float32Array.from(readZ(args.z, latentDim).flat())
    : engine.noise(args.seed, 0, args.n, latentDim);
  const n = z.length / latentDim;
  const session = await openSession(args.model);
  const { generateFn } = runners(session, null, elements.length, names.length, latentDim);
  const condition = new Float32Array(n * names.length);
  for (let i = 0; i < n; i++) condition.set(target, i * names.length);
  const data = await generateFn(z, condition, n);
  const { k, ok } = engine.printedThousandths(data, elements.length, threshold);
  const formulas = Array.from({ length: n }, (_, i) => (ok[i] ? engine.formulaString(k.subarray(i * elements.length, (i + 1) * elements.length), elements) : ""));

  if (args.json) {
    process.stdout.write(
      JSON.stringify({
        model: path.basename(args.model),
        metadata: meta,
        target,
        condition_names: names,
        condition_units: units,
        seed: args.z ? null : args.seed,
        noise: args.z ? null : engine.NOISE_SPEC,
        z: rowsOf(z, n, latentDim),
        compositions: rowsOf(data, n, elements.length),
        formulas,
      }) + "\n",
    );
    return;
  }
  const described = names.map((name, i) => `${name} = ${target[i]} ${units[i]}`).join(", ");
  process.stdout.write(`${meta.model_class} '${meta.name}' v${meta.export_version} (hea_zoo ${meta.hea_zoo_version})\n`);
  process.stdout.write(`target: ${described}\n`);
  formulas.forEach((f) => process.stdout.write(`${f}\n`));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  });
}
