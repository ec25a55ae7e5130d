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
        layer._load_own_weights(arrays)


# ------------------------------------------------------------------ .keras files
def _encode(v, what):
    """A config value as JSON: layers nested as {'class_name', 'config'}, tuples as lists."""
    from .layers.base import Layer
    if isinstance(v, Layer):
        return {"__layer__": serialize_layer(v)}
    if isinstance(v, (list, tuple)):
        return [_encode(e, what) for e in v]
    if isinstance(v, dict):
        return {str(k): _encode(e, what) for k, e in v.items()}
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise ValueError(f"Model.save: {what}: {v!r} cannot be saved in a config (give activations, "
                     "initializers, losses and metrics by name)")


def _decode(v, custom):
    if isinstance(v, dict) and "__layer__" in v:
        return deserialize_layer(v["__layer__"], custom)
    if isinstance(v, list):
        return [_decode(e, custom) for e in v]
    if isinstance(v, dict):
        return {k: _decode(e, custom) for k, e in v.items()}
    return v


def serialize_layer(layer):
    cfg = layer.get_config()
    return {"module": "nnkernels.keras.layers", "class_name": type(layer).__name__,
            "config": _encode(cfg, f"layer {layer.name}")}


def _layer_class(name, custom):
    from . import layers
    cls = (custom or {}).get(name) or getattr(layers, name, None)
    if cls is None:
        raise ValueError(f"load_model: unknown layer class {name!r}; pass it in custom_objects={{{name!r}: cls}}")
    return cls


def deserialize_layer(d, custom=None):
    cls = _layer_class(d["class_name"], custom)
    return cls.from_config(_decode(d["config"], custom))


def _model_config(model):
    from .layers.base import KerasTensor, _map
    from .models import Sequential
    if isinstance(model, Sequential):
        shape = None if model._in_shape is None else list(model._in_shape)
        return {"class_name": "Sequential", "config": {"name": model.name, "input_shape": shape,
                                                          "layers": [serialize_layer(l) for l in model.layers]}}
    if model._nodes is None:
        raise NotImplementedError("Model.save: subclassed models cannot be saved whole (their code is the "
                                  "architecture); use save_weights('m.weights.h5') and rebuild the model in code")
    ids = {}
    for i, t in enumerate(_flat_inputs(model)):
        ids[id(t)] = f"input:{i}"
    nodes = []
    for j, n in enumerate(model._nodes):
        def ref(t):
            return {"__tensor__": ids[id(t)]} if isinstance(t, KerasTensor) else t
        nodes.append({"layer": n.layer.name, "args": _encode(_map(ref, n.args), "node"),
                      "kwargs": _encode(_map(ref, n.kwargs), "node")})
        for k, t in enumerate(n.outputs):
            ids[id(t)] = f"node:{j}:{k}"
    inputs = _map(lambda t: {"name": t.name, "shape": list(t.shape[1:]), "dtype": t.dtype}, model._inputs)
    return {"class_name": "Functional", "config": {
        "name": model.name, "layers": [serialize_layer(l) for l in model.layers], "nodes": nodes,
        "inputs": inputs, "outputs": _map(lambda t: {"__tensor__": ids[id(t)]}, model._outputs)}}


def _flat_inputs(model):
    from .layers.base import _flat
    return _flat(model._inputs)


def _build_model(cfg, custom):
    from .layers.base import Input, _flat
    from .models import Model, Sequential
    c = cfg["config"]
    if cfg["class_name"] == "Sequential":
        layers = [deserialize_layer(d, custom) for d in c["layers"]]
        model = Sequential(([Input(tuple(c["input_shape"]))] if c["input_shape"] is not None else []) + layers,
                           name=c["name"])
        return model
    layers = {d["config"]["name"]: deserialize_layer(d, custom) for d in c["layers"]}

    def is_spec(v):
        return isinstance(v, dict) and "shape" in v and "name" in v

    def make_inputs(v):
        if is_spec(v):
            return Input(tuple(v["shape"]), name=v["name"], dtype=v["dtype"])
        if isinstance(v, dict):
            return {k: make_inputs(e) for k, e in v.items()}
        return [make_inputs(e) for e in v]
    inputs = make_inputs(c["inputs"])
    tensors = {f"input:{i}": t for i, t in enumerate(_flat(inputs))}

    def resolve(v):
        if isinstance(v, dict) and "__tensor__" in v:
            return tensors[v["__tensor__"]]
        if isinstance(v, list):
            return [resolve(e) for e in v]
        if isinstance(v, dict):
            return {k: resolve(e) for k, e in v.items()}
        return v
    for j, n in enumerate(c["nodes"]):
        out = layers[n["layer"]](*resolve(n["args"]), **resolve(n["kwargs"]))
        for k, t in enumerate(out if isinstance(out, (list, tuple)) else [out]):
            tensors[f"node:{j}:{k}"] = t
    outputs = resolve(c["outputs"])
    return Model(inputs, outputs, name=c["name"])


def save_model(model, filepath):
    import json
    import tempfile
    import zipfile
    from .. import autograd as ag
    cfg = _model_config(model)
    compile_cfg = None
    if model.compiled:
        args = model._compile_args
        compile_cfg = {"optimizer": {"class_name": type(model.optimizer).__name__,
                                     "config": _encode(model.optimizer.get_config(), "optimizer")},
                       **{k: _encode(v, f"compile {k}") for k, v in args.items()}}
    cfg["compile_config"] = compile_cfg
    meta = {"keras_version": "3 (nnkernels.keras)", "format": "nnkernels.keras.model/1"}
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(filepath))) as tmp:
        save_weights_h5(model, os.path.join(tmp, "model.weights.h5"))
        opt = model.optimizer if model.compiled and model.optimizer.built else None
        if opt is not None:
            ag.save({"state": opt._host_state_dict(), "iterations": opt.iterations}, os.path.join(tmp, "optimizer"))
        part = os.path.join(tmp, "model.keras")
        with zipfile.ZipFile(part, "w") as z:
            z.writestr("metadata.json", json.dumps(meta))
            z.writestr("config.json", json.dumps(cfg))
            z.write(os.path.join(tmp, "model.weights.h5"), "model.weights.h5")
            if opt is not None:
                z.write(os.path.join(tmp, "optimizer"), "optimizer.state")
        os.replace(part, filepath)


def load_model(filepath, custom_objects=None, compile=True):
    import json
    import tempfile
    import zipfile
    from .. import autograd as ag
    from . import optimizers
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"load_model: no such file {filepath!r}")
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(filepath) as z:
            names = z.namelist()
            if "config.json" not in names or "model.weights.h5" not in names:
                raise ValueError(f"load_model: {filepath} is not a .keras model file (no config.json / "
                                 "model.weights.h5)")
            cfg = json.loads(z.read("config.json"))
            z.extractall(tmp)
        model = _build_model(cfg, custom_objects)
        load_weights_h5(model, os.path.join(tmp, "model.weights.h5"))
        cc = cfg.get("compile_config")
        if compile and cc:
            opt_cls = getattr(optimizers, cc["optimizer"]["class_name"])
            model.compile(opt_cls(**cc["optimizer"]["config"]), loss=_decode(cc["loss"], custom_objects),
                          metrics=_decode(cc["metrics"], custom_objects),
                          loss_weights=_decode(cc["loss_weights"], custom_objects))
            state_path = os.path.join(tmp, "optimizer.state")
            if os.path.exists(state_path):
                st = ag.load(state_path)
                model._bind_optimizer()
                model.optimizer._opt.load_state_dict(st["state"])
                model.optimizer.iterations = int(st["iterations"])
    return model
