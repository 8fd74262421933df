"""`hea-zoo` as a user runs it: a subprocess, and the one-line error a mistake must give."""

from __future__ import annotations

import os
import subprocess
import sys


def run(*args: str, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "hea_zoo.cli", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout,
    )  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    message = [line for line in proc.stderr.splitlines() if line and not line.startswith("usage:")]
    assert len(message) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in message[0], (fragment, message[0])
