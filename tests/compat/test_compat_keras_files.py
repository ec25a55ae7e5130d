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


def _two_input_model():
    a, b = N.Input((4,), name="a"), N.Input((3, 2), name="b")
    h = N.layers.Concatenate()([N.layers.Dense(5, activation="relu")(a), N.layers.Flatten()(b)])
    h = N.layers.Dropout(0.1)(N.layers.BatchNormalization()(h))
    return N.Model([a, b], [N.layers.Dense(3, activation="softmax", name="cls")(h), N.layers.Dense(1, name="reg")(h)])


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_model_save_load_keras_zip_resumes_training(tmp_path, kind):
    import zipfile
    xs = R.standard_normal((16, 4)).astype(np.float32)
    xb = R.standard_normal((16, 3, 2)).astype(np.float32)
    yc, yr = R.integers(0, 3, 16), R.standard_normal((16, 1)).astype(np.float32)
    if kind == "sequential":
        m = N.Sequential([N.Input((4,)), N.layers.Dense(6, activation="tanh"), N.layers.BatchNormalization(),
                          N.layers.Dense(3, activation="softmax")])
        m.compile(N.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
        x, y = xs, yc
    else:
        m = _two_input_model()
        m.compile(N.optimizers.Adam(0.01), loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.3}, metrics={"cls": ["accuracy"]})
        x, y = [xs, xb], {"cls": yc, "reg": yr}
    m.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    path = str(tmp_path / "m.keras")
    m.save(path)
    assert {"config.json", "metadata.json", "model.weights.h5"} <= set(zipfile.ZipFile(path).namelist())
    m2 = N.models.load_model(path)
    assert [l.name for l in m2.layers] == [l.name for l in m.layers]
    p1, p2 = m.predict(x, verbose=0), m2.predict(x, verbose=0)
    for a, b in zip(p1 if isinstance(p1, list) else [p1], p2 if isinstance(p2, list) else [p2]):
        np.testing.assert_array_equal(a, b)
    # the optimizer state came along: one more epoch gives the same weights in both
    N.utils.set_random_seed(3)  # the same dropout masks in both
    h1 = m.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    N.utils.set_random_seed(3)
    h2 = m2.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert h1.history == h2.history
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="must end with '.keras'"):
        m.save(str(tmp_path / "m.h5"))


def test_model_save_refuses_subclassed_and_callables(tmp_path):
    class Net(N.Model):
        def __init__(self):
            super().__init__()
            self.d = N.layers.Dense(2)

        def call(self, x):
            return self.d(x)
    net = Net()
    net(np.zeros((1, 3), np.float32))
    with pytest.raises(NotImplementedError, match="subclassed models cannot be saved whole"):
        net.save(str(tmp_path / "n.keras"))
    m = N.Sequential([N.Input((3,)), N.layers.Dense(2, activation=lambda t: t)])
    with pytest.raises(ValueError, match="cannot be saved in a config"):
        m.save(str(tmp_path / "f.keras"))
