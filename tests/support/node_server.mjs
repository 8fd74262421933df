// One Node process answering many requests of the Python tests, so a test file pays for
// starting Node and loading onnxruntime-node once instead of once per case.
//
//   node tests/support/node_server.mjs
//
// Reads one JSON request per line on stdin and writes one JSON answer per line on stdout,
// in order:
//   {"probe": REQUEST}             -> {"answer": ...}   an operation of engine_probe.mjs
//   {"generate": FILE, "argv": [...]} -> {"code", "stdout", "stderr"}
//       FILE's exported main(argv) (examples/onnx_node/generate.js) run as its command line
//       runs it: its stdout and stderr captured, process.exit(code) ending the run with that
//       code, an uncaught error ending it as the command line does (exit 1, "error: ...").
// A request that throws answers {"error": message}.

import readline from "node:readline";
import { pathToFileURL } from "node:url";
import { ops } from "./engine_probe.mjs";

const realExit = process.exit.bind(process);
const realOut = process.stdout.write;
const realErr = process.stderr.write;

class Exit {
  constructor(code) {
    this.code = code;
  }
}

// Through the stream (not fs.writeSync on fd 1: a pipe fuller than its buffer would fail
// with EAGAIN), waiting until the answer is handed over.
function reply(answer) {
  return new Promise((resolve) => realOut.call(process.stdout, JSON.stringify(answer) + "\n", resolve));
}

const mains = new Map();

async function generate(file, argv) {
  if (!mains.has(file)) mains.set(file, (await import(pathToFileURL(file).href)).main);
  const main = mains.get(file);
  let stdout = "";
  let stderr = "";
  process.stdout.write = (chunk) => { stdout += chunk; return true; };
  process.stderr.write = (chunk) => { stderr += chunk; return true; };
  process.exit = (code = 0) => { throw new Exit(code); };
  let code = 0;
  try {
    await main(argv);
  } catch (error) {
    if (error instanceof Exit) code = error.code;
    else {
      stderr += `error: ${error.message}\n`;
      code = 1;
    }
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
    process.exit = realExit;
  }
  return { code, stdout, stderr };
}

async function answer(line) {
  const request = JSON.parse(line);
  try {
    if (request.probe) return { answer: ops[request.probe.op](request.probe) };
    if (request.generate) return await generate(request.generate, request.argv);
    return { error: `unknown request ${line.slice(0, 200)}` };
  } catch (error) {
    return { error: error instanceof Exit ? `exit ${error.code}` : String(error && error.stack || error) };
  }
}

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  if (!line.trim()) return;
  queue = queue.then(() => answer(line)).then(reply);
});
lines.on("close", () => queue.then(() => realExit(0)));
