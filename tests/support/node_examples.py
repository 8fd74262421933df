"""The JavaScript examples from the tests: npm installs, the engine probe, the Node design.

The cross-language parity tests need Node.js, npm (and, for the page, Chromium) and the
examples' npm packages. `.ci/run` installs them all. In CI (the environment variable ``CI``
set, as `.ci/run` and CI services do) a missing one is a failure, so the parity tests cannot
pass by not running; elsewhere the tests install the npm packages themselves, or skip
with the reason when a tool is missing.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import ROOT

WEB = ROOT / "examples" / "web"
ONNX_NODE = ROOT / "examples" / "onnx_node"
PROBE = Path(__file__).resolve().parent / "engine_probe.mjs"
SERVER = Path(__file__).resolve().parent / "node_server.mjs"
NODE = shutil.which("node")
NPM = shutil.which("npm")
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Stops a test that cannot run here: a failure in CI, a skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI is set: the cross-language parity tests must run; .ci/run installs it)", pytrace=False)
    pytest.skip(reason)


def require(**tools: str | None) -> None:
    """`unavailable` unless every tool (name -> path found, or None) is present."""
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        unavailable(f"{' and '.join(missing)} not found on PATH (Debian: apt-get install -y chromium nodejs npm)")


def _has_modules(directory: Path, packages: tuple[str, ...]) -> bool:
    return all((directory / "node_modules" / name).is_dir() for name in packages)


def npm_install(directory: Path) -> None:
    """`npm install --ignore-scripts` from the committed lock file (install scripts would
    download binaries the packages already contain, or a browser this project never uses).
    In CI the packages must already be there (`.ci/run` runs ``npm ci --ignore-scripts``):
    a missing one fails the test instead of being installed here."""
    if IN_CI:
        unavailable(f"{directory.relative_to(ROOT) if directory.is_relative_to(ROOT) else directory}/node_modules is "
                    "missing: run npm ci --ignore-scripts there")  # fmt: skip
    require(npm=NPM)
    done = subprocess.run(
        [NPM, "install", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=directory, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        unavailable(f"npm install in {directory} failed:\n{done.stdout}\n{done.stderr}")


def onnx_node_example(tmp_path_factory) -> Path:
    """examples/onnx_node with onnxruntime-node installed: in place if already installed,
    otherwise in a temporary copy that keeps the layout (generate.js imports
    ../web/engine.js)."""
    if _has_modules(ONNX_NODE, ("onnxruntime-node",)):
        return ONNX_NODE
    if IN_CI:
        npm_install(ONNX_NODE)  # fails: CI installs the packages before the tests
    root = tmp_path_factory.mktemp("examples")
    copy, web = root / "onnx_node", root / "web"
    copy.mkdir()
    web.mkdir()
    for name in ("package.json", "package-lock.json", "generate.js"):
        shutil.copy(ONNX_NODE / name, copy / name)
    for name in ("package.json", "engine.js"):
        shutil.copy(WEB / name, web / name)
    npm_install(copy)
    return copy


def web_example() -> Path:
    """examples/web with onnxruntime-web and playwright-core installed in place (the page
    loads onnxruntime-web from examples/web/node_modules)."""
    if not _has_modules(WEB, ("onnxruntime-web", "playwright-core")):
        npm_install(WEB)
    return WEB


class NodeServer:
    """One `node tests/support/node_server.mjs` process answering requests one at a time
    (a JSON line each way), started on first use and kept for the test session: the engine
    probes and the Node example's `main(argv)` run in it without a Node start and an
    onnxruntime-node load per case."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.log = None

    def _start(self) -> None:
        require(node=NODE)
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [NODE, str(SERVER)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )  # fmt: skip

    def _stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()[-4000:]

    def ask(self, request: dict, timeout: float) -> dict:
        if self.process is None or self.process.poll() is not None:
            self._start()
        process = self.process
        process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline() if ready else ""
        if not line:
            # Timed out or died: a fresh process for the next request, this one fails.
            process.kill()
            process.wait()
            self.process = None
            why = f"no answer within {timeout} s" if not ready else f"exit {process.returncode}"
            raise AssertionError(f"node_server.mjs: {why} to {json.dumps(request)[:300]}:\n{self._stderr()}")
        answer = json.loads(line)
        assert "error" not in answer, f"node_server.mjs failed on {json.dumps(request)[:300]}:\n{answer['error']}"
        return answer

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_SERVER = NodeServer()
atexit.register(_SERVER.close)


def probe(tmp_path: Path, **request) -> dict:
    """Runs one operation of tests/support/engine_probe.mjs (examples/web/engine.js) in Node
    (in the session's Node server: `node tests/support/engine_probe.mjs REQUEST.json` runs
    the same operation from the command line)."""
    return _SERVER.ask({"probe": request}, timeout=120)["answer"]


def run_generate(example_dir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`node generate.js ARGS` of the Node example, run as `main(ARGS)` in the session's
    Node server: its exit code, stdout and stderr as `subprocess.run` gives them. The
    tests that run the example's real command line call `subprocess.run` themselves."""
    command = [NODE, str(example_dir / "generate.js"), *args]
    answer = _SERVER.ask({"generate": str(example_dir / "generate.js"), "argv": list(args)}, timeout=timeout)
    return subprocess.CompletedProcess(command, answer["code"], answer["stdout"], answer["stderr"])


def node_design(example_dir: Path, model: Path, target, n, seed, *, candidates=None, select=None,
                tolerance=None, excluded=None, allowed=None, max_elements=None, bounds=None,
                min_fraction=None, surrogate=None, out=None, expect_error=False, cli=False):  # fmt: skip
    """`node generate.js --design --json` with the given options (None: the default); with
    `expect_error`, the first line of stderr of a run that must fail with exit code 5 (a
    request that cannot be met, as `hea-zoo design`). Run in the session's Node server
    (`run_generate`), or with `cli` as its own `node` command line."""
    args = ["--design", "--model", str(model), "--target", ",".join(repr(float(t)) for t in target), "--json"]
    for flag, value in (("--n", n), ("--seed", seed), ("--candidates", candidates), ("--select", select),
                        ("--tolerance", tolerance), ("--exclude", excluded), ("--allow", allowed),
                        ("--max-elements", max_elements), ("--bounds", bounds), ("--min-fraction", min_fraction),
                        ("--surrogate", str(surrogate) if surrogate else None), ("--out", str(out) if out else None)):  # fmt: skip
        if value is not None:
            args += [flag, value if isinstance(value, str) else repr(value)]
    if cli:
        done = subprocess.run([NODE, str(example_dir / "generate.js"), *args], capture_output=True, text=True, timeout=300)
    else:
        done = run_generate(example_dir, *args)
    if expect_error:
        assert done.returncode == 5, f"generate.js {' '.join(args)}: exit {done.returncode}, not 5:\n{done.stderr[:500]}"
        return done.stderr.splitlines()[0]
    assert done.returncode == 0, f"generate.js {' '.join(args)} failed:\n{done.stderr}"
    return json.loads(done.stdout)


def bounds_text(bounds: dict) -> str:
    return ",".join(f"{s}={lo!r}:{hi!r}" for s, (lo, hi) in bounds.items())


def interval_surrogate(source: Path, out: Path, z: float = 1.6448536269514722, coverage: float = 0.9) -> Path:
    """A copy of an exported surrogate that also outputs a calibrated-style interval,
    `properties_lower`/`properties_upper` = mean -/+ z * std, with metadata `coverage`
    (the outputs a later surrogate export adds)."""
    import onnx
    from onnx import helper, numpy_helper

    import numpy as np

    model = onnx.load(str(source))
    graph = model.graph
    # A surrogate exported calibrated has these outputs already: set them aside.
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name in ("properties_lower", "properties_upper"):
                node.output[i] = f"committed_{name}"
    for value in [o for o in graph.output if o.name in ("properties_lower", "properties_upper")]:
        graph.output.remove(value)
    graph.initializer.append(numpy_helper.from_array(np.array(z, np.float32), "interval_z"))
    graph.node.extend([
        helper.make_node("Mul", ["properties_std", "interval_z"], ["interval_half"]),
        helper.make_node("Sub", ["properties", "interval_half"], ["properties_lower"]),
        helper.make_node("Add", ["properties", "interval_half"], ["properties_upper"]),
    ])  # fmt: skip
    template = next(o for o in graph.output if o.name == "properties")
    for name in ("properties_lower", "properties_upper"):
        value = onnx.ValueInfoProto()
        value.CopyFrom(template)
        value.name = name
        graph.output.append(value)
    props = {p.key: p for p in model.metadata_props}
    props["outputs"].value = '["properties", "properties_std", "properties_lower", "properties_upper"]'
    if "coverage" in props:
        props["coverage"].value = str(coverage)
    else:
        entry = model.metadata_props.add()
        entry.key, entry.value = "coverage", str(coverage)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return out


def plain_surrogate(source: Path, out: Path) -> Path:
    """A copy of an exported surrogate without interval outputs and calibration metadata
    (as a surrogate exported before calibrated intervals existed)."""
    import onnx

    model = onnx.load(str(source))
    graph = model.graph
    for value in [o for o in graph.output if o.name in ("properties_lower", "properties_upper")]:
        graph.output.remove(value)
    keep = [p for p in model.metadata_props if p.key not in ("coverage", "calibration_size")]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for p in model.metadata_props:
        if p.key == "outputs":
            p.value = '["properties", "properties_std"]'
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return out
