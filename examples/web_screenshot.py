"""Refreshes docs/web_screenshot.png, the picture of the design page (examples/web).

    python examples/web_screenshot.py

The page is served by `python -m http.server` from the repository root, as docs say, and
driven in headless Chromium by tests/support/web_drive.mjs (the driver of
tests/serving/test_web.py): cae (the page default), shear modulus 60 GPa, fracture
toughness 35 MPa·m^1/2, 20 designs, seed 0, every other field at its default. Needs Node.js, npm and Chromium (Debian: ``apt-get install chromium
nodejs npm``); examples/web's npm packages are installed (``npm install --ignore-scripts``,
no browser download) when missing. Prints the time from the button press to the first
designs. The tests never write into docs/: this script is the one way to refresh it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from hea_zoo.files import write_bytes

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "examples" / "web"
DRIVER = REPO / "tests" / "support" / "web_drive.mjs"
OUT = REPO / "docs" / "web_screenshot.png"
FIELDS = {
    "target-0": 60, "target-1": 35, "n": 20, "seed": 0, "select": "diverse", "tolerance": 0.05,
    "candidates": "", "allowed": "", "excluded": "", "max-elements": "", "bounds": "", "min-fraction": "",
}  # fmt: skip


def _tool(name: str) -> str:
    path = "/usr/bin/chromium" if name == "chromium" and Path("/usr/bin/chromium").exists() else shutil.which(name)
    if path is None:
        sys.exit(f"{name} not found on PATH (Debian: apt-get install chromium nodejs npm)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    chromium, node, npm = _tool("chromium"), _tool("node"), _tool("npm")
    if not all((WEB / "node_modules" / p).is_dir() for p in ("onnxruntime-web", "playwright-core")):
        subprocess.run([npm, "install", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/examples/web/"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        with tempfile.TemporaryDirectory() as folder:
            shot = Path(folder) / "web_screenshot.png"
            request = {"url": url, "chromium": chromium, "playwright": str(WEB / "package.json"), "designs": [],
                       "bad": [], "screenshot": {"path": str(shot), "model": "cae", "fields": FIELDS}}  # fmt: skip
            (Path(folder) / "request.json").write_text(json.dumps(request))
            done = subprocess.run([node, str(DRIVER), str(Path(folder) / "request.json")], capture_output=True,
                                  text=True, timeout=180)  # fmt: skip
            if done.returncode != 0:
                sys.exit(f"driving the page failed:\n{done.stderr}")
            shown = json.loads(done.stdout)["screenshot"]
            if shown["state"] != "done":
                sys.exit(f"the page did not design: {shown.get('message')}")
            write_bytes(OUT, shot.read_bytes())
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"wrote {OUT.relative_to(REPO)}: {len(shown['rows'])} designs, first designs after {shown['ms']:.0f} ms")


if __name__ == "__main__":
    main()
