"""Keras losses: the functions give one value per sample, the classes reduce (mean by
default, 'sum', None) with from_logits / label_smoothing / sample_weight — checked against
real Keras 3 and against float64 NumPy formulas; custom loss functions in compile."""
import numpy as np
import pytest

import nnkernels.keras as N
from keras_twin import KERAS_WARNINGS, close, need_keras, to_np

pytestmark = KERAS_WARNINGS
R = np.random.default_rng(3)


def _probs(shape):
    e = np.exp(R.standard_normal(shape))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def _data():
    p = _probs((6, 4))
    y1h = np.eye(4, dtype=np.float32)[R.integers(0, 4, 6)]
    return {
        "categorical_crossentropy": (y1h, p),
        "sparse_categorical_crossentropy": (y1h.argmax(1), p),
        "binary_crossentropy": ((R.random((6, 3)) > 0.5).astype(np.float32), R.random((6, 3)).astype(np.float32)),
        "mean_squared_error": (R.standard_normal((6, 3)).astype(np.float32), R.standard_normal((6, 3)).astype(np.float32)),
        "mean_absolute_error": (R.standard_normal((6, 3)).astype(np.float32), R.standard_normal((6, 3)).astype(np.float32)),
        "huber": (R.standard_normal((6, 3)).astype(np.float32), 2 * R.standard_normal((6, 3)).astype(np.float32)),
        "kl_divergence": (_probs((6, 4)), p),
        "hinge": ((R.random((6, 3)) > 0.5).astype(np.float32), R.standard_normal((6, 3)).astype(np.float32)),
        "squared_hinge": ((R.random((6, 3)) > 0.5).astype(np.float32), R.standard_normal((6, 3)).astype(np.float32)),
        "categorical_hinge": (y1h, R.standard_normal((6, 4)).astype(np.float32)),
        "log_cosh": (R.standard_normal((6, 3)).astype(np.float32), 3 * R.standard_normal((6, 3)).astype(np.float32)),
        "poisson": (R.random((6, 3)).astype(np.float32), R.random((6, 3)).astype(np.float32) + 0.1),
        "cosine_similarity": (R.standard_normal((6, 3)).astype(np.float32), R.standard_normal((6, 3)).astype(np.float32)),
        "mean_absolute_percentage_error": (R.standard_normal((6, 3)).astype(np.float32) + 3,
                                           R.standard_normal((6, 3)).astype(np.float32)),
        "mean_squared_logarithmic_error": (R.random((6, 3)).astype(np.float32), R.random((6, 3)).astype(np.float32)),
    }


DATA = _data()


@pytest.mark.parametrize("name", sorted(DATA))
def test_loss_function_per_sample_matches_keras(name):
    K = need_keras()
    y, p = DATA[name]
    ours = getattr(N.losses, name)(y, p)
    ref = getattr(K.losses, name)(y, p)
    assert tuple(ours.shape) == tuple(ref.shape) == (6,)
    close(ours, to_np(ref), 2e-5)


@pytest.mark.parametrize("cls, kw, data", [
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "categorical_crossentropy"),
    ("CategoricalCrossentropy", {"from_logits": True}, "categorical_crossentropy"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_categorical_crossentropy"),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, "binary_crossentropy"),
    ("BinaryCrossentropy", {"from_logits": True}, "binary_crossentropy"),
    ("MeanSquaredError", {"reduction": "sum"}, "mean_squared_error"),
    ("MeanAbsoluteError", {"reduction": None}, "mean_absolute_error"),
    ("Huber", {"delta": 0.5}, "huber"),
])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_class_reduces_like_keras(cls, kw, data, weighted):
    K = need_keras()
    y, p = DATA[data]
    sw = R.random(6).astype(np.float32) if weighted else None
    ours = getattr(N.losses, cls)(**kw)(y, p, sample_weight=sw)
    ref = getattr(K.losses, cls)(**kw)(y, p, sample_weight=sw)
    close(ours, to_np(ref), 2e-5)


def test_per_sample_losses_numpy():
    y, p = (a.astype(np.float64) for a in DATA["categorical_crossentropy"])
    ref = -(y * np.log(p)).sum(1)
    out = N.losses.categorical_crossentropy(y, p.astype(np.float32)).numpy()
    assert out.shape == (6,) and np.allclose(out, ref, atol=1e-5)
    assert np.allclose(N.losses.sparse_categorical_crossentropy(y.argmax(1), p.astype(np.float32)).numpy(), ref,
                       atol=1e-5)
    cce = N.losses.CategoricalCrossentropy()(y, p.astype(np.float32))
    assert cce.shape == () and abs(float(cce.item()) - ref.mean()) < 1e-5
    a, b = (v.astype(np.float64) for v in DATA["mean_squared_error"])
    assert np.allclose(N.losses.mse(a, b.astype(np.float32)).numpy(), ((a - b) ** 2).mean(1), atol=1e-5)
    e = np.abs(a - b)
    hub = np.where(e <= 1, 0.5 * e * e, e - 0.5).mean(1)
    assert np.allclose(N.losses.huber(a, b.astype(np.float32)).numpy(), hub, atol=1e-5)
    seq = _probs((2, 5, 4))  # (N, T, C): one value per (sample, step)
    lab = R.integers(0, 4, (2, 5))
    v = N.losses.sparse_categorical_crossentropy(lab, seq).numpy()
    assert v.shape == (2, 5)
    assert np.allclose(v, -np.log(np.take_along_axis(seq.astype(np.float64), lab[..., None], -1)[..., 0]), atol=1e-5)


def test_custom_loss_functions_in_compile():
    x = R.standard_normal((16, 3)).astype(np.float32)
    y = R.standard_normal((16, 2)).astype(np.float32)

    def per_sample(y_true, y_pred):
        return N.ops.mean(N.ops.square(y_true - y_pred), axis=-1)

    def scalar(y_true, y_pred):
        return N.ops.mean(N.ops.square(y_true - y_pred))
    results = []
    for fn in (per_sample, scalar, "mse", N.losses.mean_squared_error, N.losses.MeanSquaredError()):
        N.utils.set_random_seed(0)
        m = N.Sequential([N.Input((3,)), N.layers.Dense(2)])
        m.compile("sgd", loss=fn)
        w = m.get_weights()
        results.append(m.evaluate(x, y, verbose=0, batch_size=16))
        ref = ((x.astype(np.float64) @ w[0] + w[1] - y) ** 2).mean()
        assert abs(results[-1] - ref) < 1e-5
    assert np.allclose(results, results[0], atol=1e-6)
