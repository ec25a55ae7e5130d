"""Training-step rows: one step (forward, backward, Adam) of whole models, nnkernels.keras
against the same architecture in PyTorch eager, same batch, same threads.

- CNN of the issue: Conv2D(32, 3x3, relu) on 28x28x1, MaxPooling2D(2), Flatten, Dense(10, softmax), batch 64.
- LSTM text classifier: Embedding(10000, 64), LSTM(64), Dense(1, sigmoid), sequences of 80 tokens, batch 64.

Work is the model's multiply-add count x 2 x 3 (forward + two backward products), so the
GFLOP/s column is comparable between the two frameworks; the ratio is what matters.
"""
from __future__ import annotations

from typing import List

import numpy as np

from . import Row, try_torch

B, T, V, E, H = 64, 80, 10000, 64, 64


def _cnn_keras():
    from ..keras import layers, models
    m = models.Sequential([layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
                           layers.MaxPooling2D((2, 2)), layers.Flatten(), layers.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return m


def _cnn_torch(torch):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 13 * 13, 10))


def _lstm_keras():
    from ..keras import layers, models
    m = models.Sequential([layers.Embedding(V, E, input_shape=(T,)), layers.LSTM(H), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy")
    return m


class _LSTMTorch:
    def __init__(self, torch):
        nn = torch.nn
        self.emb, self.rnn, self.fc = nn.Embedding(V, E), nn.LSTM(E, H, batch_first=True), nn.Linear(H, 1)
        self.params = list(self.emb.parameters()) + list(self.rnn.parameters()) + list(self.fc.parameters())

    def __call__(self, x):
        y, _ = self.rnn(self.emb(x))
        return self.fc(y[:, -1])


def _torch_step(torch, model, params, lossf, x, y):
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        opt.zero_grad()
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def checks():
    """The Keras CNN's loss equals PyTorch's on copied weights (HWC flatten order matched)."""
    torch = try_torch()
    if torch is None:
        return []
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    m = _cnn_keras()
    ours = m.evaluate(x, y, verbose=0)
    conv, dense = m.layers[0].conv, m.layers[3]
    xt = torch.tensor(x).permute(0, 3, 1, 2)
    h = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(
        xt, torch.tensor(conv.weight.numpy()), torch.tensor(conv.bias.numpy()))), 2)
    logits = h.permute(0, 2, 3, 1).flatten(1) @ torch.tensor(dense.kernel.numpy()) + torch.tensor(dense.bias.numpy())
    ref = float(torch.nn.functional.cross_entropy(logits, torch.tensor(y)))
    return [("keras CNN loss vs torch", abs(ours - ref) / abs(ref), 1e-5)]


def rows(quick: bool = False) -> List[Row]:
    torch = try_torch()
    rng = np.random.default_rng(0)
    out = []

    x = rng.standard_normal((B, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, B)
    m = _cnn_keras()
    m.train_on_batch(x, y)
    flops = 6.0 * B * (26 * 26 * 32 * 9 + 32 * 13 * 13 * 10)
    peers = {}
    if torch is not None:
        tm = _cnn_torch(torch)
        peers["torch"] = _torch_step(torch, tm, list(tm.parameters()), torch.nn.CrossEntropyLoss(),
                                     torch.tensor(x).permute(0, 3, 1, 2).contiguous(), torch.tensor(y))
    out.append(Row("train", "keras CNN step b64", flops, "GFLOP/s", lambda: m.train_on_batch(x, y), peers))

    tok = rng.integers(0, V, (B, T))
    lab = rng.integers(0, 2, B).astype(np.float32)
    lm = _lstm_keras()
    lm.train_on_batch(tok, lab)
    flops = 6.0 * B * T * (4 * H * (E + H)) + 6.0 * B * H
    peers = {}
    if torch is not None:
        tl = _LSTMTorch(torch)
        peers["torch"] = _torch_step(torch, tl, tl.params, torch.nn.BCEWithLogitsLoss(), torch.tensor(tok),
                                     torch.tensor(lab[:, None]))
    out.append(Row("train", "keras LSTM text step b64 T80", flops, "GFLOP/s", lambda: lm.train_on_batch(tok, lab),
                   peers))
    return out
