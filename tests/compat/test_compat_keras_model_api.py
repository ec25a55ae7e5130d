"""Keras model API, each program written once against `K` and run under nnkernels.keras and
real Keras 3 (same starting weights, plain SGD, no shuffling) with the results compared:
training= on layer calls, subclassed layers (build / add_weight) and models (fit before the
first call), functional models fed dicts with several outputs (loss lists/dicts,
loss_weights), EarlyStopping restoring the best weights, class_weight / sample_weight,
PyDataset and generators as data, custom metric functions, get_layer."""
import numpy as np
import pytest

import nnkernels.keras as N
from keras_twin import KERAS_WARNINGS, both_keras, close, to_np

pytestmark = KERAS_WARNINGS
R = np.random.default_rng(21)
X = R.standard_normal((24, 5)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0.5).astype(np.int64)
YR = (X[:, :2].sum(1, keepdims=True) * 0.5).astype(np.float32)


def seeded(model, seed=0):
    r = np.random.default_rng(seed)
    model.set_weights([(r.standard_normal(w.shape) * 0.4).astype(np.float32) for w in model.get_weights()])
    return model


def mlp(K, out=3, act="softmax"):
    return K.Sequential([K.Input((5,)), K.layers.Dense(8, activation="relu"), K.layers.Dense(out, activation=act)])


def test_training_kwarg_dropout_and_batchnorm():
    x = np.ones((200, 50), np.float32)
    d = N.layers.Dropout(0.5)
    y = d(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.3 < (y == 0).mean() < 0.7
    assert np.array_equal(d(x).numpy(), x) and np.array_equal(d(x, training=False).numpy(), x)
    bn = N.layers.BatchNormalization()
    xb = R.standard_normal((16, 3)).astype(np.float32) * 4 + 2
    assert abs(float(bn(xb, training=True).numpy().mean())) < 1e-4
    _, _, mm, mv = bn.get_weights()
    assert np.allclose(bn(xb, training=False).numpy(), (xb - mm) / np.sqrt(mv + 1e-3), atol=1e-5)
    m = N.Sequential([N.Input((50,)), N.layers.Dropout(0.5)])
    assert np.array_equal(m(x).numpy(), x) and not np.array_equal(m(x, training=True).numpy(), x)


def _subclassed(K):
    class Scale(K.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
            self.b = self.add_weight(shape=(1,), initializer="zeros", trainable=False, name="b")

        def call(self, x, training=None):
            self.seen = training
            return x * self.w + self.b

    class Net(K.Model):
        def __init__(self):
            super().__init__()
            self.scale = Scale()
            self.hidden = K.layers.Dense(8, activation="tanh")
            self.drop = K.layers.Dropout(0.0)
            self.out = K.layers.Dense(1)

        def call(self, x, training=None):
            return self.out(self.drop(self.hidden(self.scale(x)), training=training))
    return Net, Scale


def program_subclassed(K):
    Net, _ = _subclassed(K)
    K.utils.set_random_seed(0)
    model = Net()
    model.compile(optimizer=K.optimizers.SGD(0.05), loss="mse")
    model(X[:1])
    seeded(model, 4)
    shapes = [w.shape for w in model.get_weights()]
    h = model.fit(X, YR, epochs=3, batch_size=8, shuffle=False, verbose=0)
    seen_fit = model.scale.seen
    p = model.predict(X, verbose=0)
    return shapes, h.history["loss"], to_np(p), seen_fit, model.scale.seen, len(model.trainable_weights), \
        len(model.non_trainable_weights)


def test_subclassed_model_and_layer_match_keras():
    ours, ref = both_keras(program_subclassed)
    assert ours[0] == ref[0]
    close(ours[1], ref[1], 1e-5)
    close(ours[2], ref[2], 1e-5)
    assert ours[3:] == ref[3:] == (True, False, 5, 1)


def test_subclassed_model_fits_before_first_call_and_summarises(capsys):
    Net, _ = _subclassed(N)
    model = Net()
    model.compile(optimizer="adam", loss="mse")
    h = model.fit(X, YR, epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2 and model.count_params() == 5 + 1 + 5 * 8 + 8 + 8 + 1
    model.summary()
    out = capsys.readouterr().out
    assert "dense" in out and "(None, 8)" in out and "Total params: 63" in out


def program_functional(K, as_dict):
    a, b = K.Input((3,), name="a"), K.Input((2,), name="b")
    h = K.layers.Dense(4, activation="relu")(K.layers.Concatenate()([a, b]))
    o1 = K.layers.Dense(3, activation="softmax", name="cls")(h)
    o2 = K.layers.Dense(1, name="reg")(h)
    model = K.Model({"a": a, "b": b} if as_dict else [a, b], [o1, o2])
    seeded(model, 2)
    if as_dict:
        model.compile(K.optimizers.SGD(0.1), loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                      loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"], "reg": ["mae"]})
        x, y = {"a": X[:, :3], "b": X[:, 3:]}, {"cls": Y, "reg": YR}
    else:
        model.compile(K.optimizers.SGD(0.1), loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                      metrics=[["accuracy"], ["mae"]])
        x, y = [X[:, :3], X[:, 3:]], [Y, YR]
    h = model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    ev = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    lst = model.evaluate(x, y, batch_size=8, verbose=0)
    return h.history, ev, lst, [to_np(p) for p in model.predict(x, verbose=0)]


@pytest.mark.parametrize("as_dict", [False, True])
def test_functional_dict_inputs_several_outputs_match_keras(as_dict):
    ours, ref = both_keras(program_functional, as_dict)
    assert sorted(ours[0]) == sorted(ref[0]) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae"]
    for k in ref[0]:
        close(ours[0][k], ref[0][k], 2e-5)
    for k in ref[1]:
        close(ours[1][k], ref[1][k], 2e-5)
    close(ours[2], ref[2], 2e-5)
    for a, b in zip(ours[3], ref[3]):
        close(a, b, 2e-5)


def program_early_stopping(K):
    model = seeded(mlp(K, 1, None), 3)
    model.compile(K.optimizers.SGD(0.05), "mse")
    seen = []
    keep = K.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(model.get_weights()))
    es = K.callbacks.EarlyStopping(monitor="loss", mode="max", patience=10, restore_best_weights=True)
    h = model.fit(X, YR, epochs=4, batch_size=8, shuffle=False, verbose=0, callbacks=[keep, es])
    return h.history["loss"], model.get_weights(), seen


def test_early_stopping_restores_best_weights_without_stopping():
    ours, ref = both_keras(program_early_stopping)
    close(ours[0], ref[0], 1e-5)
    assert len(ours[0]) == 4  # it ran every epoch; the best (highest loss, mode='max') is the first
    for a, b, first in zip(ours[1], ref[1], ours[2][0]):
        close(a, b, 1e-5)
        close(a, first, 0)


def program_weights(K, kind):
    model = seeded(mlp(K), 5)
    model.compile(K.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    kw = {"class_weight": {0: 1.0, 1: 2.0, 2: 0.5}} if kind == "class" else {
        "sample_weight": np.linspace(0.2, 2.0, len(X)).astype(np.float32)}
    h = model.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0, **kw)
    return h.history["loss"], model.get_weights()


@pytest.mark.parametrize("kind", ["class", "sample"])
def test_class_and_sample_weights_match_keras(kind):
    ours, ref = both_keras(program_weights, kind)
    close(ours[0], ref[0], 1e-5)
    for a, b in zip(ours[1], ref[1]):
        close(a, b, 1e-5)


def program_datasets(K, kind):
    class Batches(K.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return X[i * 8:(i + 1) * 8], Y[i * 8:(i + 1) * 8]

    def gen():
        while True:
            for i in range(3):
                yield X[i * 8:(i + 1) * 8], Y[i * 8:(i + 1) * 8]

    def accuracy_fn(y_true, y_pred):
        return K.ops.cast(K.ops.equal(K.ops.cast(K.ops.reshape(y_true, (-1,)), "int64"),
                                      K.ops.argmax(y_pred, axis=-1)), "float32")
    model = seeded(mlp(K), 6)
    model.compile(K.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=[accuracy_fn])
    if kind == "pydataset":
        h = model.fit(Batches(), epochs=2, verbose=0, shuffle=False)
        ev = model.evaluate(Batches(), verbose=0, return_dict=True)
    elif kind == "generator":
        h = model.fit(gen(), epochs=2, steps_per_epoch=3, verbose=0, shuffle=False)
        ev = model.evaluate(gen(), steps=3, verbose=0, return_dict=True)
    else:
        h = model.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        ev = model.evaluate(X, Y, batch_size=8, verbose=0, return_dict=True)
    return h.history, ev


@pytest.mark.parametrize("kind", ["arrays", "pydataset", "generator"])
def test_pydataset_generator_and_metric_function_match_keras(kind):
    ours, ref = both_keras(program_datasets, kind)
    assert sorted(ours[0]) == sorted(ref[0]) == ["accuracy_fn", "loss"]
    for k in ref[0]:
        close(ours[0][k], ref[0][k], 1e-5)
    for k in ref[1]:
        close(ours[1][k], ref[1][k], 1e-5)
    arrays = program_datasets(N, "arrays")
    close(ours[0]["loss"], arrays[0]["loss"], 1e-6)


def test_get_layer_and_weights_errors():
    m = mlp(N)
    assert m.get_layer(index=1) is m.layers[1] and m.get_layer(m.layers[0].name) is m.layers[0]
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        m.get_layer("nope")
    with pytest.raises(ValueError, match="exactly one"):
        m.get_layer()
    m.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"class_weight: no weight for class\(es\) \[2\]"):
        m.fit(X, Y, class_weight={0: 1.0, 1: 1.0}, verbose=0)
