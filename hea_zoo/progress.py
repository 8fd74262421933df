"""Progress a person can follow: one bar per training, timed steps for long runs.

Everything goes to stderr, so a command's stdout stays the result (a table, a path) and can
be piped. On a terminal a training shows one bar redrawn in place; in a log file or a CI
job it prints a few lines (about every 20 % of the epochs) and a summary.

Example:
    >>> from hea_zoo.progress import TrainingProgress
    >>> model.fit(x, y, epochs=300, verbose=0, callbacks=[TrainingProgress("cvae")])  # doctest: +SKIP
    cvae  epoch 120/300 [############..................] loss 0.0231  4.1 s
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping
from typing import IO, Any

import hea_zoo._tensorflow  # noqa: F401  (TensorFlow's start-up lines kept off the terminal)
import keras

__all__ = ["TrainingProgress", "Steps", "fit_arguments", "is_terminal"]

_BAR = 30
_REDRAW_SECONDS = 0.1
_LINES_OFF_TERMINAL = 5


def is_terminal(stream: IO[str] | None) -> bool:
    """True when `stream` is an interactive terminal."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def _format_logs(logs: Mapping[str, Any] | None, limit: int = 3) -> str:
    parts = []
    logs = dict(logs or {})
    ordered = [k for k in ("loss", "val_loss") if k in logs] + [k for k in logs if k not in ("loss", "val_loss")]
    for key in ordered:
        value = logs[key]
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(number):
            parts.append(f"{key} {number}")
        else:
            parts.append(f"{key} {number:.4g}")
        if len(parts) == limit:
            break
    return "  ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s"


class TrainingProgress(keras.callbacks.Callback):
    """A compact training progress display: one bar per `fit`, then a one-line summary.

    On a terminal the bar (epoch, losses, elapsed time and the time left) is redrawn in
    place at most ten times a second; elsewhere (a log file, a pipe, CI) a line is printed
    about every 20 % of the epochs, so a 300-epoch training takes 6 lines, not 300.
    Use it with ``verbose=0`` (Keras's own per-epoch lines off).

    Args:
        label: what is training (``"cvae"``), shown at the start of every line.
        stream: where to write (default: ``sys.stderr`` at the time of writing).
        lines: on a non-terminal, about how many progress lines to print.

    Example:
        >>> model.fit(x, y, epochs=300, verbose=0, callbacks=[TrainingProgress("cvae")])  # doctest: +SKIP
    """

    def __init__(self, label: str = "training", stream: IO[str] | None = None, lines: int = _LINES_OFF_TERMINAL):
        super().__init__()
        if int(lines) < 1:
            raise ValueError(f"`lines` must be a positive integer. Received: lines={lines}")
        self.label = str(label)
        self.stream = stream
        self.lines = int(lines)
        self._start = 0.0
        self._drawn = 0.0
        self._epochs = 0
        self._last_logs: dict[str, Any] = {}
        self._last_epoch = 0

    def _out(self) -> IO[str]:
        return self.stream if self.stream is not None else sys.stderr

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._drawn = 0.0
        self._epochs = int((self.params or {}).get("epochs") or 0)
        # Epochs in the unit a user asked for (passes over the training rows): a fit within
        # a step budget may run several passes per Keras epoch (`hea_zoo.models.training`).
        plan = getattr(self.model, "training_plan", None) if self.model is not None else None
        self._per_epoch = 1.0
        self._planned = self._epochs
        if isinstance(plan, dict) and plan.get("max_epochs") == self._epochs and plan.get("epochs"):
            self._per_epoch = float(plan.get("passes_per_epoch") or 1.0)
            self._planned = int(plan["epochs"])
        self._keras_epoch = 0
        self._last_epoch = 0
        self._last_logs = {}

    def _passes(self, keras_epochs: int) -> int:
        if keras_epochs >= self._epochs:
            return self._planned
        return min(self._planned, int(keras_epochs * self._per_epoch))

    def on_epoch_end(self, epoch, logs=None):
        self._keras_epoch = epoch + 1
        done = self._passes(epoch + 1)
        self._last_epoch, self._last_logs = done, dict(logs or {})
        out = self._out()
        elapsed = time.perf_counter() - self._start
        total = max(self._planned, done)
        if is_terminal(out):
            now = time.perf_counter()
            if done < total and now - self._drawn < _REDRAW_SECONDS:
                return
            self._drawn = now
            filled = int(_BAR * done / total)
            left = elapsed / done * (total - done)
            line = (
                f"{self.label}  epoch {done}/{total} [{'#' * filled}{'.' * (_BAR - filled)}] "
                f"{_format_logs(logs)}  {_duration(elapsed)}"
                + (f", {_duration(left)} left" if done < total else "")
            )
            out.write("\r\033[K" + line)
            out.flush()
            return
        every = max(1, math.ceil(max(self._epochs, 1) / self.lines))  # in Keras epochs: evenly spaced lines
        if self._keras_epoch % every == 0 and done < total:
            out.write(f"{self.label}: epoch {done}/{total}  {_format_logs(logs)}  ({_duration(elapsed)})\n")
            out.flush()

    def on_train_end(self, logs=None):
        out = self._out()
        if is_terminal(out):
            out.write("\r\033[K")
        elapsed = time.perf_counter() - self._start
        logs = self._last_logs or dict(logs or {})
        done = self._last_epoch
        what = f"{done} epoch{'' if done == 1 else 's'}"
        if done < self._planned:
            why = "the validation loss stopped improving" if getattr(self.model, "stop_training", False) else "stopped"
            what = f"{done} of {self._planned} epochs ({why})"
        out.write(f"{self.label}: trained {what} in {_duration(elapsed)}; final {_format_logs(logs, limit=6)}\n")
        out.flush()


def fit_arguments(verbose: int | str, label: str) -> dict[str, Any]:
    """``verbose`` and ``callbacks`` for ``fit`` from a hea_zoo ``verbose`` setting.

    Args:
        verbose: ``"auto"`` (a `TrainingProgress` bar/summary on stderr), ``0`` (silent),
            ``1`` or ``2`` (Keras's own progress output).
        label: the model's name in the progress lines.

    Raises:
        ValueError: any other value.
    """
    if verbose == "auto":
        return {"verbose": 0, "callbacks": [TrainingProgress(label)]}
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    return {"verbose": int(verbose), "callbacks": []}


class Steps:
    """Timed step messages for long runs (evaluate, export, reproduce), on stderr.

    ``steps("line: 20 conditions")`` prints ``[  12.3 s] line: 20 conditions``.
    A disabled instance prints nothing.

    Args:
        enabled: print or not.
        stream: where to write (default: ``sys.stderr`` at the time of writing).
    """

    def __init__(self, enabled: bool = True, stream: IO[str] | None = None):
        self.enabled = bool(enabled)
        self.stream = stream
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        """Seconds since this instance was made."""
        return time.perf_counter() - self.start

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        out = self.stream if self.stream is not None else sys.stderr
        out.write(f"[{self.elapsed:7.1f} s] {message}\n")
        out.flush()
