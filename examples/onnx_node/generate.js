#!/usr/bin/env node
// Generate refractory high-entropy alloy designs with an exported hea_zoo generator.
//
//   node generate.js --model ../../exported/cvae.onnx --target 80,40 [--n 5] [--seed 0]
//                    [--z z.json] [--threshold 0.005] [--decimals 3] [--json]
//
// The model's inputs are `z` (standard-normal noise, [batch, latent_dim]) and `condition`
// (the target properties in physical units, [batch, n_conditions]); its output
// `composition` holds atomic fractions over the element list stored in the file's
// metadata_props. Noise comes from a seeded PRNG (mulberry32 + Box-Muller; `--seed`) or,
// for exact comparisons with other runtimes, from a JSON file of rows (`--z`). Formulas
// drop fractions below the threshold and renormalize, like hea_zoo.composition.to_formula.
// `--json` prints everything (metadata, z, raw fractions, formulas) as one JSON object.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const ort = require("onnxruntime-node");

const USAGE = `usage: node generate.js --model FILE.onnx --target V1,V2 [--n N] [--seed S]
                        [--z Z.json] [--threshold T] [--decimals D] [--json]

  --model      exported hea_zoo generator (e.g. ../../exported/cvae.onnx)
  --target     target properties in the model's condition units, comma separated
               (e.g. 80,40 for shear modulus 80 GPa, fracture toughness 40 MPa*m^0.5)
  --n          designs to generate (default 5; ignored with --z)
  --seed       PRNG seed of the noise (default 0)
  --z          JSON file: an array of rows of latent_dim numbers, used as the noise
  --threshold  formulas drop fractions below this (default: the model's metadata, 0.005)
  --decimals   decimals in formulas (default 3)
  --json       print one JSON object instead of text`;

function fail(message) {
  process.stderr.write(`error: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { n: 5, seed: 0, decimals: 3, json: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case "--model": args.model = value(); break;
      case "--target": args.target = value(); break;
      case "--n": args.n = Number(value()); break;
      case "--seed": args.seed = Number(value()); break;
      case "--z": args.z = value(); break;
      case "--threshold": args.threshold = Number(value()); break;
      case "--decimals": args.decimals = Number(value()); break;
      case "--json": args.json = true; break;
      case "-h": case "--help": process.stdout.write(USAGE + "\n"); process.exit(0); break;
      default: fail(`unknown argument ${JSON.stringify(flag)}`);
    }
  }
  if (!args.model) fail("--model is required");
  if (!args.target) fail("--target is required");
  if (!Number.isInteger(args.n) || args.n < 1) fail(`--n must be a positive integer, got ${args.n}`);
  if (!Number.isInteger(args.seed) || args.seed < 0) fail(`--seed must be a nonnegative integer, got ${args.seed}`);
  if (!Number.isInteger(args.decimals) || args.decimals < 0) fail(`--decimals must be a nonnegative integer, got ${args.decimals}`);
  return args;
}

// ---------------------------------------------------------------- ONNX metadata_props
// onnxruntime-node does not expose a model's custom metadata, so read ModelProto field 14
// (repeated StringStringEntryProto {1: key, 2: value}) straight from the protobuf bytes.

function readVarint(buf, pos) {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error("truncated varint in ONNX file");
    const byte = buf[pos++];
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return [value, pos];
  }
}

function* protoFields(buf, start = 0, end = buf.length) {
  let pos = start;
  while (pos < end) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      [, pos] = readVarint(buf, pos);
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else if (wire === 2) {
      let length;
      [length, pos] = readVarint(buf, pos);
      yield { field, start: pos, end: pos + length };
      pos += length;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire} in ONNX file`);
    }
  }
}

function readOnnxMetadata(file) {
  const buf = fs.readFileSync(file);
  const out = {};
  for (const f of protoFields(buf)) {
    if (f.field !== 14) continue;
    let key = "";
    let value = "";
    for (const g of protoFields(buf, f.start, f.end)) {
      const text = buf.toString("utf8", g.start, g.end);
      if (g.field === 1) key = text;
      else if (g.field === 2) value = text;
    }
    // Lists are stored as JSON, scalars as plain strings.
    out[key] = value.startsWith("[") || value.startsWith("{") ? JSON.parse(value) : value;
  }
  return out;
}

// ------------------------------------------------------------------------- noise
function mulberry32(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function standardNormalRows(n, dim, seed) {
  const uniform = mulberry32(seed);
  const rows = [];
  let spare = null;
  for (let i = 0; i < n; i++) {
    const row = [];
    for (let j = 0; j < dim; j++) {
      if (spare !== null) {
        row.push(spare);
        spare = null;
        continue;
      }
      const u1 = 1 - uniform(); // (0, 1]
      const u2 = uniform();
      const r = Math.sqrt(-2 * Math.log(u1));
      row.push(r * Math.cos(2 * Math.PI * u2));
      spare = r * Math.sin(2 * Math.PI * u2);
    }
    rows.push(row.map(Math.fround));
  }
  return rows;
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

// ---------------------------------------------------------------------- formulas
function toFormula(fractions, elements, threshold, decimals) {
  const kept = Array.from(fractions, (v) => (v >= threshold ? v : 0));
  const total = kept.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return "";
  let formula = "";
  kept.forEach((v, j) => {
    if (v > 0) {
      let text = (v / total).toFixed(decimals);
      if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
      formula += elements[j] + text;
    }
  });
  return formula;
}

// -------------------------------------------------------------------------- main
async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(args.model)) fail(`no such model file: ${args.model}`);
  const meta = readOnnxMetadata(args.model);
  if (meta.kind !== "generator") {
    fail(`${args.model} is not a hea_zoo generator export (metadata kind=${JSON.stringify(meta.kind)})`);
  }
  const elements = meta.elements;
  const latentDim = Number(meta.latent_dim);
  const names = meta.condition_names;
  const units = meta.condition_units;
  const target = args.target.split(",").map((s) => Number(s.trim()));
  if (target.length !== names.length || !target.every(Number.isFinite)) {
    fail(`--target must be ${names.length} numbers: ${names.map((n, i) => `${n} [${units[i]}]`).join(", ")}; got ${JSON.stringify(args.target)}`);
  }
  const threshold = args.threshold ?? Number(meta.composition_threshold ?? 0.005);
  const z = args.z ? readZ(args.z, latentDim) : standardNormalRows(args.n, latentDim, args.seed);
  const n = z.length;

  const session = await ort.InferenceSession.create(args.model);
  const feeds = {
    z: new ort.Tensor("float32", Float32Array.from(z.flat()), [n, latentDim]),
    condition: new ort.Tensor(
      "float32",
      Float32Array.from(Array.from({ length: n }, () => target).flat()),
      [n, target.length],
    ),
  };
  const result = await session.run(feeds);
  const data = result.composition.data;
  const compositions = [];
  for (let i = 0; i < n; i++) {
    compositions.push(Array.from(data.subarray(i * elements.length, (i + 1) * elements.length)));
  }
  const formulas = compositions.map((row) => toFormula(row, elements, threshold, args.decimals));

  if (args.json) {
    process.stdout.write(
      JSON.stringify({
        model: path.basename(args.model),
        metadata: meta,
        target,
        condition_names: names,
        condition_units: units,
        seed: args.z ? null : args.seed,
        z,
        compositions,
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

main().catch((error) => {
  process.stderr.write(`error: ${error.message}\n`);
  process.exit(1);
});
