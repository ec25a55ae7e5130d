"""Keras's weight layout and order: the same model built in real Keras 3 and in
nnkernels.keras, weights copied with get_weights/set_weights both ways, outputs agree;
BatchNormalization's moving statistics follow Keras (biased variance, momentum 0.99);
float64 NumPy references for the layouts without Keras."""
import numpy as np
import pytest

import nnkernels.keras as N
from keras_twin import KERAS_WARNINGS, close, need_keras, to_np

pytestmark = KERAS_WARNINGS

R = np.random.default_rng(11)

CASES = {
    "dense": (lambda L: [L.layers.Dense(4, activation="tanh"), L.layers.Dense(3)], (5,)),
    "conv2d": (lambda L: [L.layers.Conv2D(4, (3, 2), strides=2, padding="same"), L.layers.Conv2D(3, 3)], (9, 8, 2)),
    "conv1d": (lambda L: [L.layers.Conv1D(4, 3, padding="same")], (7, 2)),
    "conv2d_transpose": (lambda L: [L.layers.Conv2DTranspose(3, 3, strides=2, padding="same"),
                                    L.layers.Conv2DTranspose(2, 4, strides=2, padding="same"),
                                    L.layers.Conv2DTranspose(2, 3, padding="valid")], (4, 5, 2)),
    "lstm": (lambda L: [L.layers.LSTM(4, return_sequences=True), L.layers.LSTM(3)], (6, 2)),
    "gru": (lambda L: [L.layers.GRU(4, return_sequences=True), L.layers.GRU(3)], (6, 2)),
    "norms": (lambda L: [L.layers.BatchNormalization(), L.layers.LayerNormalization()], (6,)),
    "embedding": (lambda L: [L.layers.Embedding(10, 4), L.layers.Flatten(), L.layers.Dense(2)], (3,)),
}


def _model(L, name):
    fn, shape = CASES[name]
    return L.Sequential([L.Input(shape), *fn(L)]), shape


def _x(shape, name):
    if name == "embedding":
        return R.integers(0, 10, (3,) + shape)
    return R.standard_normal((3,) + shape).astype(np.float32)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("direction", ["keras_to_ours", "ours_to_keras"])
def test_weights_copy_across_and_outputs_agree(name, direction):
    K = need_keras()
    k, shape = _model(K, name)
    n, _ = _model(N, name)
    assert [w.shape for w in k.get_weights()] == [w.shape for w in n.get_weights()]
    assert n.count_params() == k.count_params()
    assert len(n.trainable_weights) == len(k.trainable_weights)
    assert [v.path.split("/")[-1] for v in n.weights] == [v.path.split("/")[-1] for v in k.weights]
    src, dst = (k, n) if direction == "keras_to_ours" else (n, k)
    w = [a + (R.standard_normal(a.shape) * 0.1).astype(np.float32) for a in src.get_weights()]
    if name == "norms":  # a positive moving variance
        w[3] = np.abs(w[3]) + 0.5
    src.set_weights(w)
    dst.set_weights(src.get_weights())
    x = _x(shape, name)
    close(n.predict(x, verbose=0), to_np(k.predict(x, verbose=0)), 1e-5)
    for a, b in zip(n.get_weights(), k.get_weights()):
        close(a, b, 0)


def test_batchnorm_training_statistics_match_keras():
    K = need_keras()
    x = R.standard_normal((8, 5)).astype(np.float32) * 3 + 1
    k, n = K.layers.BatchNormalization(momentum=0.9), N.layers.BatchNormalization(momentum=0.9)
    yk, yn = k(x, training=True), n(x, training=True)
    close(yn, to_np(yk), 1e-5)
    for a, b in zip(n.get_weights(), k.get_weights()):
        close(a, b, 1e-6)
    close(n(x), to_np(k(x)), 1e-5)  # inference: the moving statistics


def test_batchnorm_moving_statistics_numpy():
    x = R.standard_normal((16, 4, 4, 3)).astype(np.float32) * 2 + 0.5
    bn = N.layers.BatchNormalization()
    y = bn(x, training=True).numpy()
    x64 = x.astype(np.float64).reshape(-1, 3)
    mu, var = x64.mean(0), x64.var(0)  # the biased variance
    gamma, beta, mm, mv = bn.get_weights()
    assert np.allclose(mm, 0.01 * mu, atol=1e-6) and np.allclose(mv, 0.99 + 0.01 * var, atol=1e-6)
    assert np.allclose(y.reshape(-1, 3), (x64 - mu) / np.sqrt(var + 1e-3), atol=1e-5)
    assert [v.name for v in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [v.name for v in bn.trainable_weights] == ["gamma", "beta"]
    assert [v.name for v in bn.non_trainable_weights] == ["moving_mean", "moving_variance"]
    y2 = bn(x).numpy()  # inference
    assert np.allclose(y2.reshape(-1, 3), (x64 - mm) / np.sqrt(mv + 1e-3), atol=1e-5)


def test_dense_conv_lstm_gru_layouts_numpy():
    x = R.standard_normal((2, 5)).astype(np.float64)
    d = N.layers.Dense(3)
    d(x.astype(np.float32))
    assert d.kernel.shape == (5, 3) and d.bias.shape == (3,)
    assert np.allclose(d(x.astype(np.float32)).numpy(), x @ d.kernel.numpy() + d.bias.numpy(), atol=1e-6)
    c = N.layers.Conv2D(4, (3, 2))
    img = R.standard_normal((1, 5, 4, 2))
    out = c(img.astype(np.float32)).numpy()
    k = c.kernel.numpy().astype(np.float64)
    assert k.shape == (3, 2, 2, 4)
    ref = np.einsum("hwc,hwco->o", img[0, 1:4, 2:4], k) + c.bias.numpy()
    assert np.allclose(out[0, 1, 2], ref, atol=1e-5)
    # GRU, Keras's equations with its gate order z, r, h and reset_after bias (2, 3u)
    g = N.layers.GRU(3)
    seq = R.standard_normal((1, 4, 2))
    out = g(seq.astype(np.float32)).numpy()
    W, U, b = (a.astype(np.float64) for a in g.get_weights())
    assert W.shape == (2, 9) and U.shape == (3, 9) and b.shape == (2, 9)
    W = W + R.standard_normal(W.shape) * 0.3
    b = b + R.standard_normal(b.shape) * 0.3
    g.set_weights([W, U, b])
    out = g(seq.astype(np.float32)).numpy()
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h = np.zeros(3)
    for t in range(4):
        xi, hr = seq[0, t] @ W + b[0], h @ U + b[1]
        z, r = sig(xi[:3] + hr[:3]), sig(xi[3:6] + hr[3:6])
        hh = np.tanh(xi[6:] + r * hr[6:])
        h = z * h + (1 - z) * hh
    assert np.allclose(out[0], h, atol=1e-5)
    # LSTM, gate order i, f, c, o, one bias
    m = N.layers.LSTM(2)
    m(seq.astype(np.float32))
    W, U, b = (a.astype(np.float64) + R.standard_normal(a.shape) * 0.3 for a in m.get_weights())
    m.set_weights([W, U, b])
    out = m(seq.astype(np.float32)).numpy()
    h, cst = np.zeros(2), np.zeros(2)
    for t in range(4):
        a = seq[0, t] @ W + h @ U + b
        i, f, cc, o = sig(a[:2]), sig(a[2:4]), np.tanh(a[4:6]), sig(a[6:])
        cst = f * cst + i * cc
        h = o * np.tanh(cst)
    assert np.allclose(out[0], h, atol=1e-5)


def test_model_weights_order_and_trainable_split():
    m = N.Sequential([N.Input((4,)), N.layers.Dense(3), N.layers.BatchNormalization(), N.layers.Dense(2)])
    assert [v.path for v in m.weights] == [
        f"{m.layers[0].name}/kernel", f"{m.layers[0].name}/bias", f"{m.layers[1].name}/gamma",
        f"{m.layers[1].name}/beta", f"{m.layers[1].name}/moving_mean", f"{m.layers[1].name}/moving_variance",
        f"{m.layers[2].name}/kernel", f"{m.layers[2].name}/bias"]
    assert len(m.trainable_weights) == 6 and len(m.non_trainable_weights) == 2
    m.layers[0].trainable = False
    assert len(m.trainable_weights) == 4 and len(m.non_trainable_weights) == 4
    with pytest.raises(ValueError, match="set_weights: expected 8 arrays"):
        m.set_weights(m.get_weights()[:-1])
