"""nnkernels.keras: the tf.keras program shapes, layers vs torch references (channels-last),
fit/evaluate/predict, progress output, callbacks, weights files and argument checks."""
import os
import re
import tracemalloc

import numpy as np
import pytest

import nnkernels as nk
import nnkernels.keras as keras
from nnkernels.keras import callbacks, layers, models, optimizers


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


R = np.random.default_rng(5)


def f32(*s):
    return R.standard_normal(s).astype(np.float32)


def issue_cnn():
    model = models.Sequential()
    model.add(layers.Conv2D(4, (3, 3), activation="relu", input_shape=(12, 12, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Flatten())
    model.add(layers.Dense(10, activation="softmax"))
    return model


def real_task(n=600):
    """MNIST-1D (generated locally) when installed, else a separable toy problem."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        x = f32(n, 40)
        return x, (x[:, :10].sum(1) > 0).astype(np.int64) + 2 * (x[:, 10:20].sum(1) > 0)
    args = get_dataset_args()
    args.num_samples = n
    d = make_dataset(args)
    return d["x"].astype(np.float32), d["y"]


@pytest.mark.parametrize("sec, text", [(2.4, "2s/step"), (0.015, "15ms/step"), (0.000722, "722us/step"),
                                       (3e-6, "3us/step")])
def test_progress_step_time_units(sec, text):
    from nnkernels.keras.models import _fmt_time
    assert _fmt_time(sec) == text


def test_issue_program_runs_and_prints(capsys):
    nk.manual_seed(0)
    x, y = f32(64, 12, 12, 1), R.integers(0, 10, 64)
    model = issue_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=32, validation_data=(x[:16], y[:16]))
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Training on CPU")
    assert out[1] == "Epoch 1/2" and out[3] == "Epoch 2/2"
    assert out[2].startswith("2/2 ━━━━━━━━━━━━━━━━━━━━ ")
    # The step time's unit depends on the machine's speed (Keras prints s, ms or us): accept any.
    assert re.search(r" \d+s \d+(s|ms|us)/step - accuracy: ", out[2]), out[2]
    assert " - loss: " in out[2] and " - val_loss: " in out[2]
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 2
    assert model.predict(x, verbose=0).shape == (64, 10)
    model.summary()
    s = capsys.readouterr().out
    assert "conv2d" in s and "(None, 10, 10, 4)" in s and "Total params: 1,050" in s


def test_progress_bar_tty_redraws_in_place():
    import io

    class TTY(io.StringIO):
        def isatty(self):
            return True
    s = TTY()
    bar = models.ProgressBar(3, 1, stream=s)
    bar._last = -1
    bar.update(1, {"loss": 1.0})
    bar.update(3, {"loss": 0.5}, final=True)
    text = s.getvalue()
    assert text.startswith("\r1/3 ") and "\r3/3 ━━━━━━━━━━━━━━━━━━━━ " in text and text.endswith("\n")


def test_training_loss_falls_on_real_data():
    nk.manual_seed(1)
    x, y = real_task()
    model = keras.Sequential([keras.Input((40,)), layers.Dense(64, activation="relu"), layers.Dense(10,
                                                                                                    activation="softmax")])
    model.compile(optimizer=optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=8, batch_size=32, verbose=0, validation_split=0.2)
    assert h.history["loss"][-1] < 0.8 * h.history["loss"][0]
    assert h.history["accuracy"][-1] > h.history["accuracy"][0]


def test_dense_conv_vs_torch_channels_last():
    torch = pytest.importorskip("torch")
    x = f32(2, 9, 8, 3)
    for strides, padding in (((1, 1), "valid"), ((2, 2), "same"), ((1, 1), "same")):
        conv = layers.Conv2D(5, (3, 2), strides=strides, padding=padding)
        y = conv(x).numpy()
        w, b = torch.tensor(conv.conv.weight.numpy()), torch.tensor(conv.conv.bias.numpy())
        xt = torch.tensor(x).permute(0, 3, 1, 2)
        if padding == "same":  # TensorFlow's rule: output ceil(n/s), odd padding pixel at the end
            ph = [max((-(-n // s) - 1) * s + k - n, 0) for n, k, s in ((9, 3, strides[0]), (8, 2, strides[1]))]
            xt = torch.nn.functional.pad(xt, (ph[1] // 2, ph[1] - ph[1] // 2, ph[0] // 2, ph[0] - ph[0] // 2))
        ref = torch.nn.functional.conv2d(xt, w, b, stride=strides).permute(0, 2, 3, 1).numpy()
        assert y.shape == ref.shape and rel(y, ref) < 1e-5
    d = layers.Dense(4, activation="tanh")
    v = f32(3, 7)
    out = d(v).numpy()
    ref = torch.tanh(torch.tensor(v) @ torch.tensor(d.kernel.numpy()) + torch.tensor(d.bias.numpy()))
    assert rel(out, ref.numpy()) < 1e-5


def test_pooling_and_shape_layers():
    torch = pytest.importorskip("torch")
    x = f32(2, 7, 6, 3)
    xt = torch.tensor(x).permute(0, 3, 1, 2)
    y = layers.MaxPooling2D((2, 2))(x).numpy()
    assert rel(y, torch.nn.functional.max_pool2d(xt, 2).permute(0, 2, 3, 1).numpy()) == 0
    assert layers.MaxPooling2D((2, 2), padding="same")(x).shape == (2, 4, 3, 3)
    a = layers.AveragePooling2D((2, 2), padding="same")(x).numpy()
    assert a.shape == (2, 4, 3, 3)
    assert np.allclose(a[:, 3, :, :], (x[:, 6, 0::2] + x[:, 6, 1::2]) / 2, atol=1e-6)  # edge averages real pixels
    assert rel(layers.GlobalAveragePooling2D()(x).numpy(), x.mean(axis=(1, 2))) < 1e-6
    assert layers.Reshape((6, 7, 3))(x).shape == (2, 6, 7, 3)
    assert layers.Flatten()(x).shape == (2, 126)
    t = layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    assert t.shape == (2, 14, 12, 4)
    assert layers.Conv2DTranspose(4, 3, strides=2)(x).shape == (2, 15, 13, 4)


def test_rnn_layers_vs_torch():
    torch = pytest.importorskip("torch")
    x = f32(3, 5, 4)
    for cls in ("LSTM", "GRU"):
        lay = getattr(layers, cls)(6, return_sequences=True, return_state=True)
        outs = lay(x)
        ref = getattr(torch.nn, cls)(4, 6, batch_first=True)
        ref.load_state_dict({k: torch.tensor(v) for k, v in lay.rnn.state_dict().items()})
        seq, hn = ref(torch.tensor(x))[:2]
        assert rel(outs[0].numpy(), seq.detach().numpy()) < 1e-5
        assert len(outs) == (3 if cls == "LSTM" else 2)
        assert rel(outs[1].numpy(), outs[0].numpy()[:, -1]) == 0
        assert getattr(layers, cls)(6)(x).shape == (3, 6)
    lstm = layers.LSTM(6)
    lstm(x)
    assert np.all(lstm.rnn.bias_ih_l0.numpy()[6:12] == 1)  # unit_forget_bias


def test_other_layers():
    x = f32(2, 5, 8)
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    o, s = mha(x, x, return_attention_scores=True)
    assert o.shape == (2, 5, 8) and s.shape == (2, 2, 5, 5)
    assert np.allclose(s.numpy().sum(-1), 1, atol=1e-5)
    assert rel(mha(x, x).numpy(), o.numpy()) < 1e-5  # fused attention kernel path agrees
    assert layers.Embedding(10, 3)(np.array([[1, 2], [9, 0]])).shape == (2, 2, 3)
    bn = layers.BatchNormalization()
    assert bn(x).shape == x.shape
    assert layers.LayerNormalization()(x).shape == x.shape
    assert layers.LeakyReLU(alpha=0.1).negative_slope == 0.1
    assert layers.LeakyReLU(negative_slope=0.2).negative_slope == 0.2
    assert layers.LeakyReLU().negative_slope == 0.3
    a, b = f32(2, 3), f32(2, 3)
    assert rel(layers.Add()([a, b]).numpy(), a + b) < 1e-7
    assert rel(layers.Multiply()([a, b]).numpy(), a * b) < 1e-7
    assert layers.Concatenate()([a, b]).shape == (2, 6)
    assert rel(layers.Dot(axes=1)([a, b]).numpy(), (a * b).sum(1, keepdims=True)) < 1e-6
    assert layers.Activation("relu")(a).numpy().min() >= 0
    drop = layers.Dropout(0.5)
    assert rel(drop(a).numpy(), a) == 0  # inference mode outside fit


def test_functional_api_multi_input():
    nk.manual_seed(2)
    i1, i2 = keras.Input((6,)), keras.Input((4,))
    h = layers.Concatenate()([layers.Dense(8, activation="relu")(i1), layers.Dense(8, activation="relu")(i2)])
    out = layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inputs=[i1, i2], outputs=out)
    a, b = f32(200, 6), f32(200, 4)
    y = ((a[:, 0] + b[:, 0]) > 0).astype(np.float32)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    h = model.fit([a, b], y, epochs=6, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert model.predict([a, b], verbose=0).shape == (200, 1)
    assert len(model.layers) == 4


def test_losses_and_optimizers_by_name():
    x = f32(64, 5)
    y = R.integers(0, 3, 64)
    for opt in ("sgd", "adam", "rmsprop", optimizers.SGD(0.05, momentum=0.9, nesterov=True), optimizers.AdamW()):
        for loss, yy in (("sparse_categorical_crossentropy", y),
                         ("categorical_crossentropy", keras.utils.to_categorical(y, 3))):
            m = keras.Sequential([layers.Dense(3, activation="softmax", input_shape=(5,))])
            m.compile(optimizer=opt if isinstance(opt, str) else type(opt)(), loss=loss, metrics=["accuracy"])
            loss_v, acc = m.evaluate(x, yy, verbose=0)
            assert loss_v > 0 and 0 <= acc <= 1
            m.fit(x, yy, verbose=0)
    m = keras.Sequential([layers.Dense(1, input_shape=(5,))])
    m.compile("adam", "mse", metrics=["mae"])
    assert set(m.fit(x, x[:, :1], epochs=2, verbose=0).history) == {"loss", "mae"}


def test_softmax_fusion_matches_plain_log():
    p = layers.Dense(4, activation="softmax")
    x, y = f32(6, 3), R.integers(0, 4, 6)
    out = p(x)
    fused = keras.losses.SparseCategoricalCrossentropy()(y, out).item()
    plain = -np.log(out.numpy()[np.arange(6), y]).mean()
    assert abs(fused - plain) < 1e-5


def test_save_load_round_trip(tmp_path):
    nk.manual_seed(3)
    x, y = f32(40, 12, 12, 1), R.integers(0, 10, 40)
    a = issue_cnn()
    a.compile("adam", "sparse_categorical_crossentropy")
    a.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "m.weights.npz")
    a.save_weights(path)
    b = issue_cnn()
    b.load_weights(path)
    np.testing.assert_array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))


def test_bad_weights_files_leave_model_unchanged(tmp_path):
    m = issue_cnn()
    before = [w.copy() for w in m.get_weights()]
    x = f32(4, 12, 12, 1)
    pred = m.predict(x, verbose=0)
    corrupt = tmp_path / "bad.weights.npz"
    corrupt.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError, match="not a readable"):
        m.load_weights(str(corrupt))
    other = keras.Sequential([layers.Dense(3, input_shape=(4,))])
    op = str(tmp_path / "other.weights.npz")
    other.save_weights(op)
    with pytest.raises(ValueError, match="does not match"):
        m.load_weights(op)
    wider = models.Sequential([layers.Conv2D(5, (3, 3), activation="relu", input_shape=(12, 12, 1)),
                               layers.MaxPooling2D((2, 2)), layers.Flatten(), layers.Dense(10, activation="softmax")])
    wp = str(tmp_path / "wider.weights.npz")
    wider.save_weights(wp)
    with pytest.raises(ValueError, match="shape"):
        m.load_weights(wp)
    truncated = tmp_path / "trunc.weights.npz"
    with open(wp, "rb") as fh:
        truncated.write_bytes(fh.read()[:200])
    with pytest.raises(ValueError):
        m.load_weights(str(truncated))
    with pytest.raises(FileNotFoundError):
        m.load_weights(str(tmp_path / "missing.weights.npz"))
    with pytest.raises(ValueError, match=".weights.npz"):
        m.save_weights(str(tmp_path / "model.h5"))
    for w, b in zip(m.get_weights(), before):
        np.testing.assert_array_equal(w, b)
    np.testing.assert_array_equal(m.predict(x, verbose=0), pred)


def test_callbacks(tmp_path):
    nk.manual_seed(4)
    x, y = f32(64, 5), R.integers(0, 2, 64)
    m = keras.Sequential([layers.Dense(2, activation="softmax", input_shape=(5,))])
    m.compile(optimizers.SGD(1e-9), "sparse_categorical_crossentropy")  # no progress -> early stop
    es = callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=1.0)
    ck = callbacks.ModelCheckpoint(str(tmp_path / "ck-{epoch:02d}.weights.npz"))
    h = m.fit(x, y, epochs=10, verbose=0, callbacks=[es, ck])
    assert len(h.history["loss"]) == 2
    assert sorted(os.listdir(tmp_path)) == ["ck-01.weights.npz", "ck-02.weights.npz"]
    best = callbacks.ModelCheckpoint(str(tmp_path / "best.weights.npz"), monitor="val_loss", save_best_only=True)
    m.compile("adam", "sparse_categorical_crossentropy")
    m.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[best])
    assert os.path.exists(tmp_path / "best.weights.npz")
    with pytest.raises(ValueError):
        callbacks.ModelCheckpoint(str(tmp_path / "x.h5"))


def test_memory_flat_over_epochs():
    x, y = f32(256, 8, 8, 1), R.integers(0, 10, 256)
    m = keras.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), layers.Flatten(),
                          layers.Dense(10, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    sizes = []
    cb = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: sizes.append(tracemalloc.get_traced_memory()[0]))
    tracemalloc.start()
    try:
        m.fit(x, y, epochs=8, batch_size=32, verbose=0, callbacks=[cb])
    finally:
        tracemalloc.stop()
    assert sizes[-1] - sizes[2] < 64 * 1024, sizes


@pytest.mark.parametrize("make", [lambda: layers.Dense(0), lambda: layers.Dense(3, activation="nope"),
                                  lambda: layers.Conv2D(-1, 3), lambda: layers.Conv2D(4, (3, 3, 3)),
                                  lambda: layers.Conv2D(4, 3, padding="full"), lambda: layers.Dropout(1.0),
                                  lambda: layers.LeakyReLU(alpha=0.1, negative_slope=0.1),
                                  lambda: layers.LSTM(4, activation="relu"), lambda: keras.Input((-1,)),
                                  lambda: layers.MaxPooling2D(0), lambda: layers.Dense(3, units_typo=2),
                                  lambda: layers.MultiHeadAttention(0, 4), lambda: layers.Embedding(0, 3),
                                  lambda: optimizers.Adam(-1.0),
                                  lambda: keras.Sequential().compile(optimizer="adagrad", loss="mse"),
                                  lambda: keras.Sequential().compile(optimizer="adam", loss="hinge_typo")])
def test_bad_arguments(make):
    with pytest.raises(ValueError):
        make()


def test_fit_checks():
    m = keras.Sequential([layers.Dense(2, input_shape=(3,))])
    with pytest.raises(RuntimeError, match="compile"):
        m.fit(f32(4, 3), np.zeros(4))
    m.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="samples"):
        m.fit(f32(4, 3), np.zeros(5))
    with pytest.raises(ValueError, match="labels"):
        m.fit(f32(4, 3), np.array([0, 1, 2, 7]), verbose=0)


# ------------------------------------------------ train_on_batch / trainable (Keras semantics)
def _binary_model(n_in=6):
    m = models.Sequential([layers.Dense(8, activation="relu", input_shape=(n_in,)),
                           layers.Dense(1, activation="sigmoid")])
    return m


def test_train_on_batch_returns_keras_values():
    nk.manual_seed(0)
    x, y = f32(32, 6), (R.random((32, 1)) > 0.5).astype(np.float32)
    m = _binary_model()
    m.compile(optimizer="adam", loss="binary_crossentropy")
    loss = m.train_on_batch(x, y)
    assert isinstance(loss, float)                      # no metrics: the loss alone
    m = _binary_model()
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    out = m.train_on_batch(x, y)
    assert isinstance(out, list) and len(out) == 2 and 0 <= out[1] <= 1
    logs = m.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    # per batch, not a running mean: test_on_batch of the same batch agrees with evaluate on it
    t = m.test_on_batch(x, y, return_dict=True)
    ev = m.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    assert abs(t["loss"] - ev["loss"]) < 1e-6 and abs(t["accuracy"] - ev["accuracy"]) < 1e-9
    assert isinstance(m.test_on_batch(x, y), list)


def test_trainable_is_frozen_at_compile_like_keras_gan():
    """The classic GAN: d compiled, then d.trainable = False, then gan = [g, d] compiled. d's
    own train_on_batch still trains d; gan's trains g only."""
    nk.manual_seed(0)
    g = models.Sequential([layers.Dense(6, input_shape=(3,))])
    d = _binary_model()
    d.compile(optimizer="adam", loss="binary_crossentropy")
    d.trainable = False
    assert all(not layer.trainable for layer in d.layers)            # propagated, as in Keras
    lines = []
    d.summary(print_fn=lines.append)
    assert "Trainable params: 0" in lines and "Non-trainable params: 65" in lines
    gan = models.Sequential([g, d])
    gan.compile(optimizer="adam", loss="binary_crossentropy")
    z, ones = f32(16, 3), np.ones((16, 1), np.float32)
    dw, gw = d.get_weights(), g.get_weights()
    gan.train_on_batch(z, ones)
    assert all((a == b).all() for a, b in zip(dw, d.get_weights()))  # d frozen inside gan
    assert any((a != b).any() for a, b in zip(gw, g.get_weights()))
    assert all(p.requires_grad for p in d.parameters())              # restored after the step
    d.train_on_batch(f32(16, 6), ones)
    assert any((a != b).any() for a, b in zip(dw, d.get_weights()))  # d still trains on its own


def test_history_plot(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x, y = f32(40, 6), R.integers(0, 2, 40)
    m = models.Sequential([layers.Dense(2, activation="softmax", input_shape=(6,))])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = m.fit(x, y, epochs=2, validation_data=(x, y), verbose=0)
    fig = h.plot(title="t")
    assert [a.get_title() for a in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2                               # training and validation
    fig.savefig(tmp_path / "h.png")
    plt.close(fig)
    with pytest.raises(ValueError, match="nothing logged"):
        h.plot("auc")


def test_progbar_averages_and_finishes():
    import io
    from nnkernels.keras.utils import Progbar
    bar = Progbar(4, verbose=2, stateful_metrics=["lr"])
    buf = io.StringIO()
    bar._bar.stream = buf
    for i, v in enumerate([1.0, 2.0, 3.0, 4.0]):
        bar.update(i + 1, [("loss", v), ("lr", 10.0 * v)])
    line = buf.getvalue()
    assert "4/4" in line and "loss: 2.5000" in line and "lr: 40.0000" in line
