"""Training extras against real Keras 3: learning-rate schedules (ExponentialDecay,
CosineDecay with warm-up, PiecewiseConstantDecay) inside an optimizer, the callbacks
LearningRateScheduler, ReduceLROnPlateau and CSVLogger — same starting weights, plain SGD,
no shuffling, histories compared; the schedule formulas against float64 NumPy."""
import csv
import math

import numpy as np
import pytest

import nnkernels.keras as N
from keras_twin import KERAS_WARNINGS, both_keras, close

pytestmark = KERAS_WARNINGS
R = np.random.default_rng(9)
X = R.standard_normal((32, 4)).astype(np.float32)
Y = (X @ np.array([[0.5], [-1.0], [0.3], [0.0]], np.float32) + 0.1).astype(np.float32)


def model(K, lr):
    m = K.Sequential([K.Input((4,)), K.layers.Dense(6, activation="tanh"), K.layers.Dense(1)])
    r = np.random.default_rng(1)
    m.set_weights([(r.standard_normal(w.shape) * 0.5).astype(np.float32) for w in m.get_weights()])
    m.compile(K.optimizers.SGD(lr), "mse")
    return m


SCHEDULES = {
    "exponential": lambda S: S.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5),
    "exponential_staircase": lambda S: S.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5, staircase=True),
    "cosine": lambda S: S.CosineDecay(0.1, decay_steps=10, alpha=0.1),
    "cosine_warmup": lambda S: S.CosineDecay(0.01, decay_steps=8, warmup_target=0.1, warmup_steps=4),
    "piecewise": lambda S: S.PiecewiseConstantDecay([3, 7], [0.1, 0.05, 0.01]),
}


def program_schedule(K, name):
    sched = SCHEDULES[name](K.optimizers.schedules)
    m = model(K, sched)
    h = m.fit(X, Y, epochs=4, batch_size=8, shuffle=False, verbose=0)
    return h.history["loss"], [float(sched(s)) for s in range(14)]


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedules_match_keras(name):
    ours, ref = both_keras(program_schedule, name)
    close(ours[1], ref[1], 1e-6)
    close(ours[0], ref[0], 1e-5)


def test_schedule_formulas_numpy():
    S = N.optimizers.schedules
    assert abs(S.ExponentialDecay(0.1, 4, 0.5)(6) - 0.1 * 0.5 ** 1.5) < 1e-12
    assert abs(S.ExponentialDecay(0.1, 4, 0.5, staircase=True)(6) - 0.05) < 1e-12
    assert abs(S.CosineDecay(1.0, 10, alpha=0.2)(5) - (0.8 * 0.5 * (1 + math.cos(math.pi / 2)) + 0.2)) < 1e-12
    assert S.CosineDecay(1.0, 10)(25) == 0.0
    assert [S.PiecewiseConstantDecay([2], [1.0, 0.5])(s) for s in (0, 2, 3)] == [1.0, 1.0, 0.5]
    opt = N.optimizers.SGD(S.PiecewiseConstantDecay([1], [0.1, 0.01]))
    assert opt.learning_rate == 0.1
    with pytest.raises(ValueError, match="len\\(values\\) == len\\(boundaries\\) \\+ 1"):
        S.PiecewiseConstantDecay([1, 2], [0.1])


def program_callbacks(K, path):
    m = model(K, 0.05)
    sched = K.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch >= 1 else lr)
    h1 = m.fit(X, Y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=[sched])
    m = model(K, 0.3)
    plateau = K.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0, cooldown=1,
                                            min_lr=0.05)
    log = K.callbacks.CSVLogger(path)
    h2 = m.fit(X, Y, epochs=6, batch_size=8, shuffle=False, verbose=0, callbacks=[plateau, log],
               validation_data=(X[:8], Y[:8]))
    with open(path) as f:
        rows = list(csv.reader(f))
    return h1.history, h2.history, rows


def test_lr_callbacks_and_csv_logger_match_keras(tmp_path):
    ours, ref = both_keras(program_callbacks, str(tmp_path / "log.csv"))
    for a, b in zip(ours[:2], ref[:2]):
        assert sorted(a) == sorted(b)
        for k in b:
            close(a[k], b[k], 1e-5)
    assert ours[1]["learning_rate"] == pytest.approx([0.3, 0.3, 0.15, 0.075, 0.05, 0.05])  # before each cut
    assert ours[2][0] == ref[2][0] == ["epoch", "learning_rate", "loss", "val_loss"]
    assert len(ours[2]) == len(ref[2]) == 7
    for ra, rb in zip(ours[2][1:], ref[2][1:]):
        close([float(v) for v in ra], [float(v) for v in rb], 1e-5)
