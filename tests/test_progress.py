"""hea_zoo.progress: training progress in a few lines off a terminal and one bar on it,
timed step lines."""

from __future__ import annotations

import io

import numpy as np
import pytest


def test_training_progress_is_a_few_lines_off_a_terminal_and_one_bar_on_it():
    import keras

    from hea_zoo.progress import TrainingProgress, fit_arguments

    x = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    log = io.StringIO()
    history = model.fit(x, y, epochs=20, verbose=0, callbacks=[TrainingProgress("toy", stream=log)])
    lines = log.getvalue().splitlines()
    assert len(lines) == 5, lines  # epochs 4, 8, 12, 16 and the summary, not 20 lines
    assert lines[0].startswith("toy: epoch 4/20  loss ")
    assert lines[-1].startswith("toy: trained 20 epochs in ") and "final loss" in lines[-1]
    assert history.history["loss"][-1] < history.history["loss"][0]  # a real training

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    model.fit(x, y, epochs=10, verbose=0, callbacks=[TrainingProgress("toy", stream=screen)])
    text = screen.getvalue()
    assert text.count("\n") == 1 and "\r\033[K" in text  # redrawn in place, then one summary line
    assert "toy  epoch 10/10 [" + "#" * 30 + "] loss " in text
    assert text.split("\r\033[K")[-1].startswith("toy: trained 10 epochs in ")
    assert fit_arguments(0, "x") == {"verbose": 0, "callbacks": []}
    assert isinstance(fit_arguments("auto", "x")["callbacks"][0], TrainingProgress)
    with pytest.raises(ValueError, match="'auto', 0, 1 or 2"):
        fit_arguments(3, "x")


def test_steps_are_timed_lines():
    from hea_zoo.progress import Steps

    log = io.StringIO()
    steps = Steps(stream=log)
    steps("line: 20 conditions")
    Steps(enabled=False, stream=log)("hidden")
    assert log.getvalue().count("\n") == 1
    assert log.getvalue().startswith("[") and log.getvalue().rstrip().endswith("s] line: 20 conditions")
