"""The process that runs the fuzz cases of tests/test_fuzz.py, one call per request.

It reads length-prefixed pickled cases on stdin and answers on its own copy of stdout
(fd 1 itself is pointed at stderr, so nothing the library prints can corrupt the
replies). A case that crashes the process (SIGSEGV, a sanitizer abort) kills only this
worker: the test sees the pipe close, reports the case with the worker's stderr, and
starts a fresh worker. The same module builds the argument views in the parent, so the
NumPy reference sees exactly the values the op saw.
"""
from __future__ import annotations

import os
import pickle
import struct
import sys

import numpy as np

# ---- array layouts: the same values, laid out in memory in different ways ---------------

LAYOUTS = ("c", "f", "t", "strided", "neg", "readonly", "unaligned")


def make_layout(base: np.ndarray, layout: str) -> np.ndarray:
    """A view holding `base`'s values with the memory layout `layout`."""
    base = np.asarray(base)
    if layout == "c" or base.ndim == 0:
        return np.array(base, order="C")
    if layout == "f":
        return np.asfortranarray(base)
    if layout == "t":  # column-major memory seen through a transpose of a C array
        return np.ascontiguousarray(base.T).T
    if layout == "strided":  # every other element of a buffer twice as wide
        buf = np.zeros(base.shape[:-1] + (2 * base.shape[-1],), base.dtype)
        buf[..., ::2] = base
        return buf[..., ::2]
    if layout == "neg":  # negative stride on the last axis
        return np.ascontiguousarray(base[..., ::-1])[..., ::-1]
    if layout == "readonly":
        a = np.array(base)
        a.flags.writeable = False
        return a
    if layout == "unaligned":  # data pointer one byte off the item size
        if base.dtype.itemsize == 1 or base.dtype.kind == "O":
            return np.array(base)
        raw = np.zeros(base.nbytes + 1, np.uint8)
        a = np.frombuffer(raw.data, base.dtype, count=base.size, offset=1).reshape(base.shape)
        np.copyto(a, base)
        return a
    raise ValueError(layout)


def materialize(spec, made):
    """Turn an argument spec into the value passed to the op.

    ("arr", base, layout): an array view; ("alias", key): the very object built for the
    argument `key` (aliasing out=); ("val", v): a plain value; ("list", [specs]).
    """
    kind = spec[0]
    if kind == "arr":
        return make_layout(spec[1], spec[2])
    if kind == "alias":
        return made[spec[1]]
    if kind == "val":
        return spec[1]
    if kind == "list":
        return [materialize(s, made) for s in spec[1]]
    raise ValueError(kind)


def build_args(case):
    made = {}
    args = []
    for i, s in enumerate(case["args"]):
        made[i] = materialize(s, made)
        args.append(made[i])
    kwargs = {}
    for k, s in case.get("kwargs", {}).items():
        made[k] = materialize(s, made)
        kwargs[k] = made[k]
    return args, kwargs


# ---- entry points above the ops (nn, nn.functional, keras) ------------------------------

def _entries():
    import nnkernels as nk
    import nnkernels.nn as nn
    import nnkernels.nn.functional as F

    def nn_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        return nn.CrossEntropyLoss(weight=weight, ignore_index=ignore_index, reduction=reduction,
                                   label_smoothing=label_smoothing)(nk.tensor(x), t).data

    def nn_nll(x, t, weight=None, ignore_index=-100, reduction="mean"):
        return nn.NLLLoss(weight=weight, ignore_index=ignore_index, reduction=reduction)(nk.tensor(x), t).data

    def f_one_hot(t, num_classes=-1):
        return F.one_hot(t, num_classes).data

    def nn_linear(x, w, b):
        layer = nn.Linear(w.shape[1], w.shape[0], dtype=w.dtype)
        layer.weight.data = np.array(w)
        layer.bias.data = np.array(b)
        return layer(nk.tensor(x)).data

    def nn_conv2d(x, w, stride=1, padding=0, dilation=1, groups=1):
        layer = nn.Conv2d(w.shape[1] * groups, w.shape[0], w.shape[2:], stride=stride, padding=padding,
                          dilation=dilation, groups=groups, bias=False, dtype=w.dtype)
        layer.weight.data = np.array(w)
        return layer(nk.tensor(x)).data

    def nn_maxpool_backward(x, k, stride=None, padding=0):
        t = nk.tensor(x, requires_grad=True)
        y = nn.MaxPool2d(k, stride, padding)(t)
        y.sum().backward()
        return y.data, t.grad

    def keras_predict(x, labels=None):
        from nnkernels.keras import layers, models
        model = models.Sequential([layers.Conv2D(3, 3, activation="relu", input_shape=(6, 6, 2)),
                                   layers.MaxPooling2D(), layers.Flatten(), layers.Dense(4)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        y = model.predict(x, verbose=0)
        if labels is not None:
            model.fit(x, labels, epochs=1, batch_size=2, verbose=0)
        return y

    def rnn_tampered_backward(kind, field, new):
        rng = np.random.default_rng(0)
        G = 4 if kind == "lstm" else 3
        x = rng.standard_normal((3, 2, 4)).astype(np.float32)
        w_ih = rng.standard_normal((G * 5, 4)).astype(np.float32)
        w_hh = rng.standard_normal((G * 5, 5)).astype(np.float32)
        if kind == "lstm":
            y, _, _, cache = nk.lstm(x, None, None, w_ih, w_hh, return_cache=True)
            setattr(cache, field, new)
            return nk.lstm_backward(y, None, None, cache)
        y, _, cache = nk.gru(x, None, w_ih, w_hh, return_cache=True)
        setattr(cache, field, new)
        return nk.gru_backward(y, None, cache)

    return {k: v for k, v in locals().items() if callable(v) and not k.startswith("_") and k not in
            ("nk", "nn", "F")}


def resolve(name):
    if name.startswith("entry:"):
        return _entries()[name[6:]]
    import importlib
    mod, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(mod), attr)


def plain(r):
    """The op's result as NumPy arrays / Python values (Tensors unwrapped), picklable."""
    if isinstance(r, (tuple, list)):
        return [plain(e) for e in r]
    if hasattr(r, "data") and type(r).__name__ == "Tensor":
        return np.array(r.data)
    if isinstance(r, np.ndarray):
        return np.array(r)
    if type(r).__name__ == "RNNCache":
        return None
    return r


def run_case(case):
    import nnkernels as nk
    nk.set_cpu_path(case.get("path", nk.cpu_path()))
    nk.set_num_threads(case.get("threads", 1))
    args, kwargs = build_args(case)
    try:
        r = resolve(case["fn"])(*args, **kwargs)
    except Exception as e:  # reported to the parent, which decides if this type is acceptable
        return ("raised", type(e).__name__, str(e)[:2000])
    return ("ok", plain(r))


def _read(f):
    head = f.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    return pickle.loads(f.read(n))


def _write(f, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(struct.pack("<Q", len(data)) + data)
    f.flush()


def main():
    import warnings
    warnings.simplefilter("ignore")  # NumPy warnings on NaN input are not failures here
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    import nnkernels  # noqa: F401  (import once, before the first case)
    _write(replies, ("ready",))
    while True:
        case = _read(requests)
        if case is None:
            return
        _write(replies, run_case(case))


if __name__ == "__main__":
    main()
