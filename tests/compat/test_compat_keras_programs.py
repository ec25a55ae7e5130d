"""Tutorial-style Keras programs, each written once against `K` and run under real Keras 3
(torch backend) and under nnkernels.keras — only the import differs — on tiny synthetic
data with the same starting weights (seeded, copied with set_weights); histories,
evaluations, predictions and return types are compared. Programs with dropout compare what
does not depend on the random masks."""
import numpy as np
import pytest

from keras_twin import KERAS_WARNINGS, both_keras, close, to_np

pytestmark = KERAS_WARNINGS
R = np.random.default_rng(2024)
IMG = R.random((48, 8, 8, 1)).astype(np.float32)
LAB = (IMG[:, :4].mean((1, 2, 3)) > IMG[:, 4:].mean((1, 2, 3))).astype(np.int64) + 2 * (IMG[:, :, :4].mean(
    (1, 2, 3)) > 0.5).astype(np.int64)
TXT = R.integers(1, 30, (40, 7))
TXT_Y = (TXT[:, :3].sum(1) > 45).astype(np.float32)


def seed(model, s=0, scale=0.3):
    r = np.random.default_rng(s)
    model.set_weights([(r.standard_normal(w.shape) * scale).astype(np.float32) if w.ndim else w
                       for w in model.get_weights()])
    return model


def hist_close(a, b, tol=1e-4):
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    for k in b:
        close(a[k], b[k], tol)


def mlp_digits(K):
    model = K.Sequential([K.Input((8, 8, 1)), K.layers.Flatten(), K.layers.Dense(16, activation="relu"),
                          K.layers.Dense(4, activation="softmax")])
    seed(model)
    model.compile(optimizer=K.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(IMG, LAB, epochs=3, batch_size=16, validation_split=0.25, shuffle=False, verbose=0)
    return h.history, model.evaluate(IMG, LAB, verbose=0), model.predict(IMG[:5], verbose=0)


def cnn_digits(K):
    y = K.utils.to_categorical(LAB, 4)
    model = K.Sequential([K.Input((8, 8, 1)), K.layers.Conv2D(4, 3, activation="relu", padding="same"),
                          K.layers.MaxPooling2D(), K.layers.Conv2D(6, 3, activation="relu"),
                          K.layers.GlobalAveragePooling2D(), K.layers.Dense(4, activation="softmax")])
    seed(model, 1)
    model.compile(optimizer=K.optimizers.RMSprop(1e-2), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    h = model.fit(IMG, y, epochs=2, batch_size=16, shuffle=False, verbose=0, validation_data=(IMG[:16], y[:16]))
    return h.history, model.evaluate(IMG, y, verbose=0, return_dict=True), model.predict(IMG[:4], verbose=0)


def lstm_text(K):
    model = K.Sequential([K.Input((7,)), K.layers.Embedding(30, 8), K.layers.LSTM(6),
                          K.layers.Dense(1, activation="sigmoid")])
    seed(model, 2)
    model.compile(optimizer=K.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    h = model.fit(TXT, TXT_Y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    return h.history, model.evaluate(TXT, TXT_Y, verbose=0), model.predict(TXT[:4], verbose=0)


def bigru_text(K):
    inp = K.Input((7,))
    h = K.layers.Embedding(30, 6)(inp)
    h = K.layers.Bidirectional(K.layers.GRU(5, return_sequences=True))(h)
    h = K.layers.GlobalMaxPooling1D()(h)
    model = K.Model(inp, K.layers.Dense(1, activation="sigmoid")(h))
    seed(model, 3)
    model.compile(K.optimizers.SGD(0.1, momentum=0.9), K.losses.BinaryCrossentropy(label_smoothing=0.1))
    h = model.fit(TXT, TXT_Y, epochs=3, batch_size=10, shuffle=False, verbose=0)
    return h.history, model.predict(TXT[:4], verbose=0)


def two_inputs(K):
    text, num = K.Input((7,), name="text"), K.Input((3,), name="num")
    t = K.layers.GlobalAveragePooling1D()(K.layers.Embedding(30, 4)(text))
    n = K.layers.Dense(4, activation="relu")(num)
    out = K.layers.Dense(1)(K.layers.Concatenate()([t, n]))
    model = K.Model(inputs=[text, num], outputs=out)
    seed(model, 4)
    model.compile(optimizer="adam", loss="huber", metrics=["mae"])
    nums = R.standard_normal((40, 3)).astype(np.float32) if False else np.linspace(-1, 1, 120).reshape(40, 3)
    target = (TXT_Y + nums[:, :1].ravel()).astype(np.float32)
    h = model.fit({"text": TXT, "num": nums.astype(np.float32)}, target, epochs=3, batch_size=8, shuffle=False,
                  verbose=0)
    return h.history, model.predict([TXT[:3], nums[:3].astype(np.float32)], verbose=0)


def subclassed_custom_loss(K):
    class Regressor(K.Model):
        def __init__(self):
            super().__init__()
            self.hidden = K.layers.Dense(8, activation="tanh")
            self.out = K.layers.Dense(1)

        def call(self, x):
            return self.out(self.hidden(x))

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            loss = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
            return loss + 0.01 * K.ops.sum(K.ops.square(self.hidden.kernel))
    x = IMG.reshape(48, -1)[:, :6]
    y = x.sum(1, keepdims=True) * 0.3
    model = Regressor()
    model(x[:1])
    seed(model, 5)
    model.compile(optimizer=K.optimizers.SGD(0.05), loss="mse")
    h = model.fit(x, y, epochs=3, batch_size=12, shuffle=False, verbose=0)
    return h.history, model.predict(x[:4], verbose=0)


def transfer_frozen(K):
    base = K.Sequential([K.Input((8, 8, 1)), K.layers.Conv2D(4, 3, activation="relu"), K.layers.Flatten()],
                        name="base")
    seed(base, 6)
    frozen = [w.copy() for w in base.get_weights()]
    base.trainable = False
    model = K.Sequential([base, K.layers.Dense(8, activation="relu"), K.layers.BatchNormalization(),
                          K.layers.Dense(4, activation="softmax")])
    model(IMG[:1])
    head = model.get_weights()[len(frozen):]
    r = np.random.default_rng(7)
    model.set_weights(frozen + [(r.standard_normal(w.shape) * 0.3).astype(np.float32) + (1.0 if i == 5 else 0)
                                for i, w in enumerate(head)])
    model.compile(K.optimizers.Adam(5e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(IMG, LAB, epochs=2, batch_size=16, shuffle=False, verbose=0)
    unchanged = all(np.array_equal(a, b) for a, b in zip(base.get_weights(), frozen))
    return h.history, unchanged, len(model.trainable_weights), len(model.non_trainable_weights), \
        model.predict(IMG[:3], verbose=0)


def callbacks_program(K, tmp):
    model = K.Sequential([K.Input((8, 8, 1)), K.layers.Flatten(), K.layers.Dense(4, activation="softmax")])
    seed(model, 8)
    model.compile(K.optimizers.SGD(0.5), "sparse_categorical_crossentropy", metrics=["accuracy"])
    cbs = [K.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True),
           K.callbacks.ModelCheckpoint(f"{tmp}/best.weights.h5", monitor="val_loss", save_best_only=True,
                                       save_weights_only=True),
           K.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)]
    h = model.fit(IMG[:32], LAB[:32], epochs=12, batch_size=8, shuffle=False, verbose=0,
                  validation_data=(IMG[32:], LAB[32:]), callbacks=cbs)
    final = model.evaluate(IMG[32:], LAB[32:], verbose=0)
    model.load_weights(f"{tmp}/best.weights.h5")
    return h.history, final, model.evaluate(IMG[32:], LAB[32:], verbose=0)


def gan_steps(K):
    g = K.Sequential([K.Input((3,)), K.layers.Dense(6, activation="relu"), K.layers.Dense(4, activation="tanh")])
    d = K.Sequential([K.Input((4,)), K.layers.Dense(5), K.layers.LeakyReLU(0.2),
                      K.layers.Dense(1, activation="sigmoid")])
    seed(g, 9)
    seed(d, 10)
    d.compile(K.optimizers.Adam(1e-2, beta_1=0.5), "binary_crossentropy", metrics=["accuracy"])
    d.trainable = False
    z_in = K.Input((3,))
    gan = K.Model(z_in, d(g(z_in)))
    gan.compile(K.optimizers.Adam(1e-2, beta_1=0.5), "binary_crossentropy")
    r = np.random.default_rng(11)
    real = r.standard_normal((8, 4)).astype(np.float32) * 0.5
    out = []
    for _ in range(3):  # trainable toggled around each step: Keras 3 reads it at every step
        z = r.standard_normal((8, 3)).astype(np.float32)
        fake = g.predict(z, verbose=0)
        d.trainable = True
        out.append(d.train_on_batch(np.concatenate([real, fake]), np.r_[np.ones(8), np.zeros(8)].astype(np.float32)))
        d.trainable = False
        out.append(gan.train_on_batch(z, np.ones(8, np.float32)))
    return out, g.predict(real[:2, :3], verbose=0)


def regression_bn(K):
    x = IMG.reshape(48, -1)[:, :10]
    y = np.stack([x[:, :5].sum(1), x[:, 5:].mean(1)], 1).astype(np.float32)
    model = K.Sequential([K.Input((10,)), K.layers.Dense(8), K.layers.BatchNormalization(),
                          K.layers.Activation("relu"), K.layers.Dense(2)])
    seed(model, 12)
    w = model.get_weights()
    w[5] = np.abs(w[5]) + 1.0  # moving variance
    model.set_weights(w)
    model.compile(K.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    h = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    return h.history, model.get_weights()[4:6], model.predict(x[:3], verbose=0)


PROGRAMS = {"mlp_digits": mlp_digits, "cnn_digits": cnn_digits, "lstm_text": lstm_text, "bigru_text": bigru_text,
            "two_inputs": two_inputs, "subclassed_custom_loss": subclassed_custom_loss,
            "transfer_frozen": transfer_frozen, "gan_steps": gan_steps, "regression_bn": regression_bn}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_matches_keras(name):
    ours, ref = both_keras(PROGRAMS[name])
    for a, b in zip(ours, ref):
        if isinstance(b, dict):
            hist_close(a, b)
        elif isinstance(b, (bool, int)):
            assert a == b
        elif isinstance(b, list) and b and isinstance(b[0], (list, float)):  # train_on_batch results
            assert [type(v) for v in a] == [type(v) for v in b]
            for u, v in zip(a, b):
                close(u, v, 1e-4)
        else:  # outputs after training: the float32 rounding of two libraries adds up
            close(a, to_np(b), 1e-3)


def test_callbacks_program_matches_keras(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    from keras_twin import need_keras, nkeras
    ours, ref = callbacks_program(nkeras, tmp_path / "a"), callbacks_program(need_keras(), tmp_path / "b")
    hist_close(ours[0], ref[0])
    assert len(ours[0]["loss"]) < 12  # it stopped early
    close(ours[1], ref[1], 1e-4)
    close(ours[2], ref[2], 1e-4)
    close(ours[1], ours[2], 1e-6)  # restored best = the checkpointed best
