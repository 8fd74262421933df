"""`hea-zoo` as a user runs it: a subprocess, and the one-line error a mistake must give.

`run` starts a real process (the entry point, its imports and exit code). `call` runs the
same `hea_zoo.cli.main` inside the test process and returns what a process would have
(exit code, stdout, stderr): for tests of the command's parsing and messages, it saves the
start-up of a Python process (and of TensorFlow for the commands that train or load
models). Every command keeps at least one test through `run`.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

from tests.support import ROOT


def env(**extra) -> dict[str, str]:
    """The environment of a child process: this checkout's hea_zoo first, TensorFlow quiet."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore", **extra)


def run(*args: str, cwd=None, timeout=900) -> subprocess.CompletedProcess:
    """`hea-zoo ARGS` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "hea_zoo.cli", *args],
        capture_output=True, text=True, cwd=cwd, env=env(), timeout=timeout,
    )  # fmt: skip


def call(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """`hea_zoo.cli.main(ARGS)` in this process, with what a subprocess would give."""
    from hea_zoo.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        code = main([str(a) for a in args])
    return subprocess.CompletedProcess(["hea-zoo", *args], code, out.getvalue(), err.getvalue())


def start(*args: str, cwd=None) -> subprocess.Popen:
    """`hea-zoo ARGS` started in the background (for concurrent runs)."""
    return subprocess.Popen(
        [sys.executable, "-m", "hea_zoo.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env(),
    )  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    message = [line for line in proc.stderr.splitlines() if line and not line.startswith("usage:")]
    assert len(message) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in message[0], (fragment, message[0])
