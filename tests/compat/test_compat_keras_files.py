"""Weight files across libraries: a `.weights.h5` written by nnkernels.keras loads in real
Keras 3 for the same architecture, and one written by Keras loads here (outputs agree);
the HDF5 layout itself is checked with h5py; `.weights.npz` keeps working."""
import numpy as np
import pytest

import nnkernels.keras as N
from keras_twin import KERAS_WARNINGS, close, need_keras, to_np

pytestmark = KERAS_WARNINGS
h5py = pytest.importorskip("h5py")
R = np.random.default_rng(8)


def sequential(K):
    return K.Sequential([K.Input((6, 6, 2)), K.layers.Conv2D(3, 3, activation="relu"), K.layers.BatchNormalization(),
                         K.layers.Flatten(), K.layers.Dense(4), K.layers.Dense(2)])


def functional(K):
    a = K.Input((5, 3), name="seq")
    b = K.Input((2,), name="side")
    h = K.layers.LSTM(4)(a)
    g = K.layers.GRU(3)(a)
    h = K.layers.Concatenate()([h, g, b])
    h = K.layers.Dense(4, activation="tanh")(h)
    return K.Model([a, b], K.layers.Dense(1)(K.layers.LayerNormalization()(h)))


def _x(name):
    if name == "sequential":
        return R.standard_normal((3, 6, 6, 2)).astype(np.float32)
    return [R.standard_normal((3, 5, 3)).astype(np.float32), R.standard_normal((3, 2)).astype(np.float32)]


def _perturbed(model):
    model.set_weights([w + (R.standard_normal(w.shape) * 0.2).astype(np.float32) + (0.5 if i == 5 else 0)
                       for i, w in enumerate(model.get_weights())])
    return model


@pytest.mark.parametrize("arch", ["sequential", "functional"])
@pytest.mark.parametrize("writer", ["ours", "keras"])
def test_weights_h5_loads_across_libraries(tmp_path, arch, writer):
    K = need_keras()
    build = globals()[arch]
    src, dst = (build(N), build(K)) if writer == "ours" else (build(K), build(N))
    _perturbed(src)
    path = str(tmp_path / "m.weights.h5")
    src.save_weights(path)
    dst.load_weights(path)
    x = _x(arch)
    a, b = (src, dst) if writer == "ours" else (dst, src)
    close(a.predict(x, verbose=0), to_np(b.predict(x, verbose=0)), 1e-5)


def test_weights_h5_layout_and_errors(tmp_path):
    m = _perturbed(sequential(N))
    path = str(tmp_path / "s.weights.h5")
    m.save_weights(path)
    with h5py.File(path, "r") as f:
        assert sorted(f["layers"]) == ["batch_normalization", "conv2d", "dense", "dense_1", "flatten"]
        assert f["layers/conv2d/vars/0"].shape == (3, 3, 2, 3)
        assert len(f["layers/batch_normalization/vars"]) == 4
        assert f["layers/dense_1/vars"].attrs["name"] == m.layers[-1].name
        np.testing.assert_array_equal(f["layers/dense/vars/0"][()], m.layers[3].kernel.numpy())
    m2 = sequential(N)
    m2.load_weights(path)
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = N.Sequential([N.Input((6, 6, 2)), N.layers.Conv2D(4, 3), N.layers.BatchNormalization(),
                          N.layers.Flatten(), N.layers.Dense(4), N.layers.Dense(2)])
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"layers/conv2d/vars/0 has shape \(3, 3, 2, 3\)"):
        other.load_weights(path)
    for a, b in zip(before, other.get_weights()):  # nothing changed
        np.testing.assert_array_equal(a, b)
    npz = str(tmp_path / "s.weights.npz")
    m.save_weights(npz)
    m3 = sequential(N)
    m3.load_weights(npz)
    x = _x("sequential")
    np.testing.assert_array_equal(m3.predict(x, verbose=0), m.predict(x, verbose=0))
    with pytest.raises(ValueError, match="must end with '.weights.h5' or '.weights.npz'"):
        m.save_weights(str(tmp_path / "m.h5"))
