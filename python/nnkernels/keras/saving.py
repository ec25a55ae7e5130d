"""Keras 3 weight files (`.weights.h5`, HDF5 through h5py) and whole-model files (`.keras`).

A `.weights.h5` file holds, per layer, a group `<path>/vars` with datasets `0`, `1`, ... (the
layer's weights in Keras's order and layout) and the layer's name as an attribute; a model's
layers sit under `layers/<key>`, where the key is the layer's class name in snake case,
numbered `_1`, `_2`, ... among layers of the same class (Keras's own naming), and an RNN
layer's weights under `<path>/cell/vars`. So real Keras loads a file written here for the
same architecture, and the other way round.
"""
from __future__ import annotations

import os
import re

import numpy as np

from .layers.base import _snake

__all__ = ["save_weights_h5", "load_weights_h5", "snake_case"]


def snake_case(name):
    """Keras's class-name-to-key rule: 'BatchNormalization' -> 'batch_normalization', 'LSTM' -> 'lstm'."""
    return _snake(re.sub(r"\W+", "", name))


def _h5py(what):
    try:
        import h5py
    except ImportError as e:
        raise ImportError(f"{what}: .weights.h5 files need h5py: pip install h5py "
                          "(or the extra: pip install 'nnkernels[keras]')") from e
    return h5py


def _keyed(layers):
    """(key, layer) with Keras's container keys: snake-case class name, then _1, _2, ..."""
    used, out = {}, []
    for layer in layers:
        key = snake_case(getattr(layer, "_keras_class", type(layer).__name__))
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        out.append((key, layer))
    return out


class _InputStub:
    """A functional model's Input, which Keras keeps as an InputLayer without weights."""
    _keras_class = "InputLayer"

    def __init__(self, name):
        self.name = name


def _entries(layer, path=""):
    """[(group path, layer name, weights, layer)] for `layer` and everything inside it, in Keras's places."""
    from .layers.base import Layer, _flat
    from .models import Model
    join = (lambda *p: "/".join(x for x in p if x))
    if isinstance(layer, _InputStub):
        return [(join(path, "vars"), layer.name, [], layer)]
    own = layer._own_weights()
    if getattr(layer, "_keras_cell", False):
        out = [(join(path, "vars"), layer.name, [], layer),
               (join(path, "cell", "vars"), f"{layer.name}_cell", own, layer)]
    else:
        out = [(join(path, "vars"), layer.name, own, layer)]
    if isinstance(layer, Model) and (layer._nodes is not None or hasattr(layer, "_seq")):
        kids = list(layer.layers)
        if layer._nodes is not None:
            kids = [_InputStub(t.name) for t in _flat(layer._inputs)] + kids
        for key, sub in _keyed(kids):
            out += _entries(sub, join(path, "layers", key))
    else:
        for attr, sub in layer.named_children():
            if isinstance(sub, Layer) and sub in layer._sublayers():
                out += _entries(sub, join(path, attr))
    return out


def save_weights_h5(model, filepath):
    h5py = _h5py("save_weights")
    tmp = f"{filepath}.tmp{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            for path, name, weights, _ in _entries(model):
                g = f.require_group(path)
                g.attrs["name"] = name
                for i, w in enumerate(weights):
                    g.create_dataset(str(i), data=np.asarray(w.numpy()))
        os.replace(tmp, filepath)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_weights_h5(model, filepath):
    """Read every group first and check names and shapes; only then change the weights."""
    h5py = _h5py("load_weights")
    plan = []
    with h5py.File(filepath, "r") as f:
        for path, _, weights, layer in _entries(model):
            if not weights:
                continue
            if path not in f:
                raise ValueError(f"load_weights: {filepath} has no group {path!r} (the weights of a layer of "
                                 "this model); was it saved from the same architecture?")
            g = f[path]
            if len(g) != len(weights):
                raise ValueError(f"load_weights: {path} in {filepath} holds {len(g)} arrays, the layer has "
                                 f"{len(weights)}")
            arrays = [np.asarray(g[str(i)]) for i in range(len(weights))]
            for i, (a, w) in enumerate(zip(arrays, weights)):
                if a.shape != tuple(w.shape):
                    raise ValueError(f"load_weights: {path}/{i} has shape {a.shape} in {filepath}, the model "
                                     f"has {tuple(w.shape)}")
            plan.append((layer, arrays))
    for layer, arrays in plan:
        layer._set_own_weights(arrays)
