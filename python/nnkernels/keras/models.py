"""Keras models: `Sequential`, the functional `Model(inputs, outputs)`, subclassed `Model`,
with compile / fit / evaluate / predict / summary / save_weights / load_weights.

The training step is the PyTorch one underneath: forward through the nn modules,
`loss.backward()`, `optimizer.step()`.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np

from .. import autograd as ag
from .._io import read_npz, write_npz
from ..autograd import Tensor
from ..ops._common import is_cupy
from . import callbacks as callbacks_mod
from . import compile_utils, data_adapters, saving
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from .layers.base import InputLayer, KerasTensor, Layer, _flat, _map

__all__ = ["Model", "Sequential", "load_model"]

WEIGHTS_FORMAT = "nnkernels.keras.weights/1"


# ----------------------------------------------------------------- progress bar
def _fmt_time(sec_per_step):
    if sec_per_step >= 1:
        return f"{sec_per_step:.0f}s/step"
    if sec_per_step >= 1e-3:
        return f"{sec_per_step * 1e3:.0f}ms/step"
    return f"{sec_per_step * 1e6:.0f}us/step"


def _fmt_logs(logs):
    keys = sorted(k for k in logs if not k.startswith("val_")) + sorted(k for k in logs if k.startswith("val_"))
    return "".join(f" - {k}: {logs[k]:.4f}" for k in keys)


class ProgressBar:
    """Keras-style progress line: `125/125 ━━━━━━━━━━━━━━━━━━━━ 2s 15ms/step - loss: 0.0951`.
    Redrawn in place on a terminal (verbose=1); otherwise printed once, at the end."""

    WIDTH = 20

    def __init__(self, target, verbose=1, stream=None):
        self.target, self.verbose = target, verbose
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self._last = 0.0

    def _bar(self, step):
        done = self.WIDTH if self.target == 0 else int(self.WIDTH * step / self.target)
        rest = self.WIDTH - done
        if self.tty and rest:
            return "━" * done + "\x1b[2m" + "━" * rest + "\x1b[0m"
        return "━" * done + " " * rest

    def update(self, step, logs, final=False):
        now = time.perf_counter()
        if self.verbose != 1 or not (self.tty or final):
            if final and self.verbose == 2:
                el = now - self.start
                self.stream.write(f"{self.target}/{self.target} - {el:.0f}s - {_fmt_time(el / max(step, 1))}"
                                  f"{_fmt_logs(logs)}\n")
                self.stream.flush()
            return
        if not final and now - self._last < 0.05:
            return
        self._last = now
        el = now - self.start
        per = el / max(step, 1)
        w = len(str(self.target))
        t = f"{el:.0f}s" if final else f"{per * (self.target - step):.0f}s"
        line = f"{step:>{w}}/{self.target} {self._bar(step)} {t} {_fmt_time(per)}{_fmt_logs(logs)}"
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K" + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _device_line(dev, ctx=None):
    """fit's first line: the device it trains on (and, under a process group, how the work is shared)."""
    from .. import get_num_threads, cpu_path
    per_rank = "" if ctx is None else " per rank"
    share = "" if ctx is None else f", {ctx.describe()}"
    if dev.type == "cuda":
        from .. import _cuda_ops
        index = dev.index or 0
        return f"Training on cuda:{index} ({_cuda_ops._k().device_name(index)}{share})"
    return f"Training on CPU (nnkernels {cpu_path()} kernels, {get_num_threads()} threads{per_rank}{share})"


def _device(device, what):
    """The device fit / evaluate / predict run on: 'cpu', 'cuda' (which must be usable: the error
    names what is missing) or 'auto' (the GPU when nk.cuda.is_available(), else the CPU)."""
    if device not in ("auto", "cpu", "cuda") and not (isinstance(device, str) and device.startswith("cuda:")):
        raise ValueError(f"{what}: device must be None, 'auto', 'cpu' or 'cuda', got {device!r}")
    dev = ag.device(device)
    if dev.type == "cuda":
        from .. import cuda
        cuda.require(f"{what}(device={str(device)!r})")
    return dev


def _on(x, dev):
    """Arrays (or Tensors; lists / dicts of them) as arrays on `dev`, moved once; None stays None."""
    return None if x is None else _map(lambda a: ag._move(ag._as_data(a), dev), x)


def _fit_context():
    """Under an initialised process group of 2+ ranks: how fit and evaluate share the work
    (nnkernels.distributed.keras); None otherwise."""
    from ..distributed.keras import fit_context
    return fit_context()


# ------------------------------------------------------------------------ model
def _slice(x, idx):
    return _map(lambda a: a[idx], x)


def _length(x):
    return len(_flat(x)[0])


def _is_dataset_like(x):
    return not (isinstance(x, (np.ndarray, Tensor, list, tuple, dict)) or is_cupy(x))


def _validation(v):
    """validation_data as (x, y[, sample_weight]) or a dataset / generator of batches."""
    if isinstance(v, tuple):
        return data_adapters.unpack(v)
    return v, None, None


def _as_input(x, dev=None):
    """Model inputs as Tensors (float64 arrays as float32), on `dev` when given."""
    if isinstance(x, dict):
        return {k: _as_input(v, dev) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_as_input(a, dev) for a in x]
    if isinstance(x, Tensor):
        return x if dev is None else x.to(dev)
    a = x if is_cupy(x) else np.asarray(x)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    return Tensor(a if dev is None else ag._move(a, dev))


class Model(Layer):
    """`Model(inputs, outputs)` (functional API) or a subclass defining `call(self, x)`."""

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.compiled, self.stop_training, self.history = False, False, None
        self.optimizer = self.loss = None
        self._metrics = []
        self._nodes = None
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("Model: give both inputs and outputs (functional API)")
            self._init_graph(inputs, outputs)

    # -- functional graph
    def _init_graph(self, inputs, outputs):
        ins = _flat(inputs)
        if not all(isinstance(t, KerasTensor) for t in ins + _flat(outputs)):
            raise ValueError("Model: inputs and outputs must be keras.Input(...) / layer outputs")
        self._inputs, self._outputs = inputs, outputs
        nodes, seen = [], set()

        def visit(t):
            n = t.node
            if n is None or id(n) in seen:
                return
            seen.add(id(n))
            for p in n.inputs():
                visit(p)
            nodes.append(n)
        for o in _flat(outputs):
            visit(o)
        reachable = {id(t) for n in nodes for t in n.inputs()} | {id(o) for o in _flat(outputs)}
        for t in ins:
            if id(t) not in reachable:
                raise ValueError(f"Model: input {t.name} is not connected to the outputs")
        self._nodes = nodes
        self._layer_list = []
        for n in nodes:
            if all(n.layer is not l for l in self._layer_list):
                self._layer_list.append(n.layer)
                setattr(self, f"{len(self._layer_list) - 1}_{n.layer.name}", n.layer)
        self.built = True

    @property
    def layers(self):
        if self._nodes is not None:
            return list(self._layer_list)
        return [m for m in self.children() if isinstance(m, Layer)]

    def get_layer(self, name=None, index=None):
        """The layer called `name`, or the one at position `index` of `model.layers`."""
        if (name is None) == (index is None):
            raise ValueError("get_layer: give exactly one of name= or index=")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range for {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"get_layer: no layer named {name!r}; the layers are {[l.name for l in layers]}")

    def call(self, inputs):
        if self._nodes is None:
            raise NotImplementedError("Model subclasses must define call(self, inputs)")
        vals = {}
        ins = _flat(self._inputs)
        if isinstance(inputs, dict):
            names = [kt.name for kt in ins]
            if sorted(names) != sorted(inputs):
                raise ValueError(f"{self.name}: the input dict's keys {sorted(inputs)} must be the Input names "
                                 f"{names}")
            inputs = [inputs[k] for k in names]
        xs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if len(xs) != len(ins):
            raise ValueError(f"{self.name}: expected {len(ins)} inputs, got {len(xs)}")
        for kt, x in zip(ins, xs):
            if tuple(x.shape[1:]) != tuple(s if s is not None else x.shape[1 + i]
                                           for i, s in enumerate(kt.shape[1:])):
                raise ValueError(f"{self.name}: input {kt.name} expects shape {kt.shape}, got {tuple(x.shape)}")
            vals[id(kt)] = x
        for n in self._nodes:
            args = _map(lambda t: vals[id(t)] if isinstance(t, KerasTensor) else t, n.args)
            out = n.layer(*args, **n.kwargs)
            for kt, o in zip(n.outputs, out if isinstance(out, (list, tuple)) else [out]):
                vals[id(kt)] = o
        return _map(lambda t: vals[id(t)], self._outputs)

    def __call__(self, *args, training=None, **kwargs):
        """model(x) runs in inference mode unless training=True (or inside fit); Tensors out."""
        if any(isinstance(t, KerasTensor) for t in _flat(args)):
            return super().__call__(*args, **kwargs)
        return super().__call__(_as_input(args[0]), *args[1:], training=training, **kwargs)

    def _forward(self, x):
        return Layer.__call__(self, x)

    def build(self, input_shape):
        """A subclassed model builds by running `call` once on zeros of `input_shape`."""
        if self._nodes is not None or type(self).call is Model.call:
            return
        def zeros(s):
            if all(d is None or isinstance(d, (int, np.integer)) for d in s):
                return Tensor(np.zeros(tuple(1 if d is None else d for d in s), np.float32))
            return _map_shapes(zeros, s)

        def _map_shapes(fn, s):
            return {k: fn(v) for k, v in s.items()} if isinstance(s, dict) else [fn(v) for v in s]
        self._built_by_call(zeros(input_shape))

    def _built_by_call(self, x):
        object.__setattr__(self, "built", True)
        was = self.training
        self.train(False)
        try:
            with ag.no_grad():
                self._run_call(x, (), {})
        finally:
            self.train(was)

    def _ensure_model_built(self, x):
        """Build from a batch (all the model's layers, so an optimizer sees every weight)."""
        if not self.built:
            self._ensure_built(_map(lambda t: tuple(t.shape), x))
        if self._nodes is None and not isinstance(self, Sequential) and not all(
                l.built for l in self.modules() if isinstance(l, Layer)):
            self._built_by_call(_map(lambda t: t[:1], x))

    # -- compile / fit
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, run_eagerly=None,
                jit_compile=None, weighted_metrics=None, **kwargs):
        """optimizer, loss (one, or a list / dict by output name for several outputs),
        metrics (a list, a list of lists or a dict for several outputs), loss_weights."""
        self.optimizer = optimizers_mod.get(optimizer)
        if loss is None:
            raise ValueError("compile: a loss is needed to train ('sparse_categorical_crossentropy', 'mse', ...)")
        self.loss = loss
        self._compile_args = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights}
        names = self.output_names if self._nodes is not None and len(_flat(self._outputs)) > 1 else None
        self._compiled_loss = compile_utils.CompiledLoss(loss, loss_weights, names)
        self._compiled_metrics = compile_utils.CompiledMetrics(metrics, names, self._compiled_loss.losses)
        # Keras: the `trainable` values at compile time hold for this model's training until it
        # is compiled again (a GAN's discriminator frozen only inside the combined model).
        self._frozen_at_compile = [m for m in self.modules() if isinstance(m, Layer) and not m.trainable]
        self.compiled = True

    @property
    def output_names(self):
        """The names of the functional model's outputs: their layers' names."""
        if self._nodes is None:
            return [self.name]
        return [t.node.layer.name if t.node is not None else t.name for t in _flat(self._outputs)]

    @property
    def metrics_names(self):
        if not self.compiled:
            return []
        return ["loss"] + self._compiled_loss.loss_names() + self._compiled_metrics.names

    def _check_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"{what}: call model.compile(optimizer=..., loss=...) first")

    def _trainable_params(self):
        """The weights this model trains: those outside the layers frozen when it was compiled."""
        frozen = {id(p) for layer in getattr(self, "_frozen_at_compile", ()) for p in layer.parameters()}
        return [p for p in self.parameters() if p.requires_grad and getattr(p, "trainable", True)
                and id(p) not in frozen]

    @contextlib.contextmanager
    def _compiled_trainable_state(self):
        """During a training step the frozen-at-compile weights record no gradient; restored after."""
        frozen = {id(p) for layer in getattr(self, "_frozen_at_compile", ()) for p in layer.parameters()}
        held = [p for p in self.parameters() if id(p) in frozen and p.requires_grad]
        for p in held:
            p.requires_grad = False
        try:
            yield
        finally:
            for p in held:
                p.requires_grad = True

    def _use_device(self, device, what):
        """The device `what` runs on; the weights (and the optimizer's slots) moved there once.
        None: where the weights are (the CPU unless a fit(device=...) or model.to moved them)."""
        if device is None:
            p = next(iter(self.parameters()), None)
            return ag.device("cpu") if p is None else p.device
        dev = _device(device, what)
        self.to(dev)
        if self.optimizer is not None:
            self.optimizer._to(dev)
        return dev

    def _bind_optimizer(self):
        if not self.optimizer.built:
            self.optimizer.build(self._trainable_params())

    def _loss_value(self, y, out, sample_weight=None):
        """(total loss, {'<output>_loss': value} for several outputs)."""
        return self._compiled_loss(y, out, sample_weight)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of one batch (a scalar Tensor); override it to add terms (fit
        trains on, and logs as 'loss', what it returns)."""
        loss, self._loss_parts = self._loss_value(y, y_pred, sample_weight)
        return loss

    def train_step(self, data):
        """One optimizer step on a batch `(x, y[, sample_weight])`; returns the batch's logs
        {'loss': value, ...}. Override it for custom training logic in fit (the compiled
        metrics are updated from the outputs of `self(x)` kept in `_step_out`)."""
        x, y, sw = data_adapters.unpack(data)
        self.optimizer.zero_grad()
        out = self._forward(x)
        loss = self.compute_loss(x=x, y=y, y_pred=out, sample_weight=sw)
        parts = self.__dict__.pop("_loss_parts", {})
        loss.backward()
        self.optimizer.step()
        self._step_out = out
        return {"loss": loss, **parts}

    def _step_logs(self, logs, y, out, trackers, n):
        """Fold one batch into the epoch's running means (loss terms) and metrics; the logs as
        Python floats (on a GPU the values stay there and come back in one copy per step)."""
        for k, v in logs.items():
            trackers.setdefault(k, metrics_mod.Mean(k)).update_state(ag._as_data(v), n)
        if y is not None and out is not None:
            self._compiled_metrics.update(y, out, self.output_names)
        return self._results(trackers)

    def _results(self, trackers):
        """{name: float} of the running means and the compiled metrics (one device-to-host copy)."""
        slots = [m for _, m in self._compiled_metrics.slots]
        values = metrics_mod.host_results(list(trackers.values()) + slots)
        return dict(zip(list(trackers) + [m.name for m in slots], values))

    def _returned(self, logs, return_dict):
        if return_dict:
            return logs
        keys = [k for k in self.metrics_names if k in logs] + [k for k in logs if k not in self.metrics_names]
        return logs["loss"] if len(keys) == 1 else [logs[k] for k in keys]

    def _batch_weights(self, y, sample_weight, class_weight):
        if class_weight is None:
            return sample_weight
        if isinstance(y, (list, tuple, dict)):
            raise ValueError("class_weight: only for a model with one output (use sample_weight)")
        cw = data_adapters.class_sample_weight(y, class_weight)
        return cw if sample_weight is None else cw * np.asarray(ag._move(ag._as_data(sample_weight), ag.device("cpu")),
                                                                np.float32)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch. Like Keras: returns that batch's loss (a float), or
        `[loss, *metrics]` when compiled with metrics, or a dict with return_dict=True."""
        self._check_compiled("train_on_batch")
        self._ensure_model_built(_as_input(x))
        dev = self._use_device(None, "train_on_batch")
        xb = _as_input(x, dev)
        self._bind_optimizer()
        self.train(True)
        self._compiled_metrics.reset()
        sw = self._batch_weights(y, sample_weight, class_weight)
        y, sw = _on(y, dev), _on(sw, dev)
        with self._compiled_trainable_state():
            logs = self.train_step((xb, y, sw))
            out = self.__dict__.pop("_step_out", None)
        self.train(False)
        return self._returned(self._step_logs(logs, y, out, {}, 1), return_dict)

    def test_step(self, data):
        x, y, sw = data_adapters.unpack(data)
        out = self._forward(x)
        loss = self.compute_loss(x=x, y=y, y_pred=out, sample_weight=sw, training=False)
        parts = self.__dict__.pop("_loss_parts", {})
        self._step_out = out
        return {"loss": loss, **parts}

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) of one batch in inference mode, returned as train_on_batch does."""
        self._check_compiled("test_on_batch")
        self._ensure_model_built(_as_input(x))
        dev = self._use_device(None, "test_on_batch")
        xb = _as_input(x, dev)
        y, sample_weight = _on(y, dev), _on(sample_weight, dev)
        was = self.training
        self.train(False)
        self._compiled_metrics.reset()
        try:
            with ag.no_grad():
                logs = self.test_step((xb, y, sample_weight))
                out = self.__dict__.pop("_step_out", None)
        finally:
            self.train(was)
        return self._returned(self._step_logs(logs, y, out, {}, 1), return_dict)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None, class_weight=None,
            sample_weight=None, device=None, **kwargs):
        """Train for `epochs` on arrays, a PyDataset or a generator of batches; returns a
        History whose `.history` holds the per-epoch logs. `device` (an nnkernels addition):
        'auto' (the GPU when nk.cuda.is_available(), else the CPU), 'cpu' or 'cuda'; the weights
        and the optimizer's state move there and stay; None trains where the weights are."""
        self._check_compiled("fit")
        batch_size = batch_size or 32
        verbose = 1 if verbose == "auto" else verbose
        if not 0 <= validation_split < 1:
            raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split}")
        data = data_adapters.adapter(x, y, sample_weight, batch_size, shuffle, steps_per_epoch)
        if isinstance(data, data_adapters.ArrayBatches):
            if y is None and not _is_dataset_like(x):
                raise ValueError("fit: y is needed with array inputs")
            if validation_split and validation_data is None:
                k = int(data.n * (1 - validation_split))
                validation_data = (_slice(x, slice(k, None)), _slice(y, slice(k, None)))
                cut = slice(0, k)
                data = data_adapters.adapter(_slice(x, cut), _slice(y, cut),
                                             None if sample_weight is None else _slice(sample_weight, cut),
                                             batch_size, shuffle, steps_per_epoch)
        elif validation_split:
            raise ValueError("fit: validation_split needs array inputs; give validation_data instead")
        self._ensure_model_built(_as_input(data.first()))
        self._bind_optimizer()
        dev = self._use_device(device, "fit")
        self.history = callbacks_mod.History()
        cbs = list(callbacks or []) + [self.history]  # last, as in Keras: it sees what the others log
        dist = _fit_context()  # data parallel under a process group: batch_size is per rank
        if dist is not None:
            if not isinstance(data, data_adapters.ArrayBatches):
                raise ValueError("fit: under a process group the data must be arrays")
            verbose = verbose if dist.is_chief else 0
            cbs = dist.callbacks(cbs)
        for cb in cbs:
            cb.set_model(self)
        self.stop_training = False
        if verbose:
            print(_device_line(dev, dist))
        for cb in cbs:
            cb.on_train_begin()
        steps = data.steps if dist is None else dist.steps(data.n, batch_size)
        loss_mean = metrics_mod.Mean("loss")
        if dist is not None:
            dist.begin(self)
        try:
            for epoch in range(initial_epoch, epochs):
                for cb in cbs:
                    cb.on_epoch_begin(epoch)
                if verbose:
                    print(f"Epoch {epoch + 1}/{epochs}")
                bar = ProgressBar(steps or 0, verbose)
                trackers = {"loss": loss_mean}
                loss_mean.reset_state()
                self._compiled_metrics.reset()
                self.train(True)
                logs, step = {}, 0
                if dist is None:
                    batches = data.epoch()
                else:
                    order = dist.same_order(ag.get_rng().permutation(data.n) if shuffle else np.arange(data.n))
                    batches = (data.take(dist.shard(order, s, batch_size)) for s in range(steps))
                for step, (xb, yb, swb) in enumerate(batches, 1):
                    for cb in cbs:
                        cb.on_train_batch_begin(step - 1)
                    n = _length(xb)
                    with self._compiled_trainable_state():
                        if n:
                            swb = _on(self._batch_weights(yb, swb, class_weight), dev)
                            yb = _on(yb, dev)
                            blogs = self.train_step((_as_input(xb, dev), yb, swb))
                            out = self.__dict__.pop("_step_out", None)
                        else:  # an uneven last step left this rank no sample: it still joins the allreduce
                            self.optimizer.zero_grad()
                            dist.empty_step()
                            self.optimizer.step()
                    if n:
                        logs = self._step_logs(blogs, yb, out, trackers, n)
                    for cb in cbs:
                        cb.on_train_batch_end(step - 1, logs)
                    if steps and step < steps:
                        bar.update(step, logs)
                if dist is not None:
                    dist.reduce_metrics(list(trackers.values()) + [m for _, m in self._compiled_metrics.slots])
                    logs = self._results(trackers)
                if validation_data is not None:
                    vx, vy, vsw = _validation(validation_data)
                    vals = self.evaluate(vx, vy, batch_size=batch_size, verbose=0, sample_weight=vsw,
                                         return_dict=True, device=dev)
                    logs.update({"val_" + k: v for k, v in vals.items()})
                bar.target = steps or step
                bar.update(bar.target, logs, final=True)
                for cb in cbs:
                    cb.on_epoch_end(epoch, logs)
                if dist is not None:
                    self.stop_training = dist.any(self.stop_training)
                if self.stop_training:
                    break
        finally:
            if dist is not None:
                dist.end()
        self.train(False)
        for cb in cbs:
            cb.on_train_end()
        return self.history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 return_dict=False, device=None, **kwargs):
        """Loss (and metrics) over the data in inference mode; a scalar, a list, or a dict.
        `device` as in fit."""
        self._check_compiled("evaluate")
        batch_size = batch_size or 32
        verbose = 1 if verbose == "auto" else verbose
        dist = _fit_context()  # under a process group: each rank evaluates its share, totals are summed
        data = data_adapters.adapter(x, y, sample_weight, batch_size, False, steps, "evaluate")
        if isinstance(data, data_adapters.ArrayBatches):
            if y is None:
                raise ValueError("evaluate: y is needed with array inputs")
            if dist is not None:
                mine = dist.local_slice(data.n)
                data = data_adapters.adapter(_slice(x, mine), _slice(y, mine),
                                             None if sample_weight is None else _slice(sample_weight, mine),
                                             batch_size, False, steps, "evaluate")
                verbose = verbose if dist.is_chief else 0
        self._ensure_model_built(_as_input(data.first()))
        dev = self._use_device(device, "evaluate")
        trackers = {"loss": metrics_mod.Mean("loss")}
        self._compiled_metrics.reset()
        bar = ProgressBar(data.steps or 0, verbose)
        was = self.training
        self.train(False)
        logs = {}
        with ag.no_grad():
            step = 0
            for step, (xb, yb, swb) in enumerate(data.epoch(), 1):
                n = _length(xb)
                if n:
                    yb = _on(yb, dev)
                    blogs = self.test_step((_as_input(xb, dev), yb, _on(swb, dev)))
                    out = self.__dict__.pop("_step_out", None)
                    logs = self._step_logs(blogs, yb, out, trackers, n)
        self.train(was)
        if dist is not None:
            dist.reduce_metrics(list(trackers.values()) + [m for _, m in self._compiled_metrics.slots])
        logs = self._results(trackers)
        bar.target = data.steps or step
        bar.update(bar.target, logs, final=True)
        return self._returned(logs, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, device=None, **kwargs):
        """Outputs for x as NumPy arrays (also after training on a GPU), computed batch by batch
        in inference mode. `device` as in fit."""
        batch_size = batch_size or 32
        verbose = 1 if verbose == "auto" else verbose
        data = data_adapters.adapter(x, None, None, batch_size, False, steps, "predict")
        self._ensure_model_built(_as_input(data.first()))
        dev = self._use_device(device, "predict")
        outs = []
        was = self.training
        self.train(False)
        with ag.no_grad():
            for xb, _, _ in data.epoch():
                o = self._forward(_as_input(xb, dev))
                outs.append(_map(lambda t: np.array(t.numpy()), o))
        self.train(was)
        bar = ProgressBar(len(outs), verbose)
        bar.update(len(outs), {}, final=True)
        if outs and isinstance(outs[0], dict):
            return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}
        if outs and isinstance(outs[0], (list, tuple)):
            return [np.concatenate([o[i] for o in outs]) for i in range(len(outs[0]))]
        return np.concatenate(outs) if outs else np.zeros((0,))

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=_length(x), verbose=0)

    # -- weights
    def _weight_items(self):
        """(key, Tensor) for every parameter and float buffer, keyed by layer position."""
        items = []
        for i, layer in enumerate(self.layers):
            for name, p in layer.named_parameters():
                items.append((f"{i:03d}.{type(layer).__name__}/{name}", p))
            for name, b in layer.named_buffers():
                if np.issubdtype(b.dtype, np.floating):
                    items.append((f"{i:03d}.{type(layer).__name__}/{name}", b))
        return items

    def _check_built(self, what):
        if not self.built or (self._nodes is None and not all(l.built for l in self.layers)):
            raise ValueError(f"{what}: the model is not built yet; call it on data, fit it, or give the first "
                             "layer an input_shape")

    def save_weights(self, filepath, overwrite=True):
        """Write every weight to `filepath`, atomically: '.weights.h5' is Keras 3's HDF5 layout
        (real Keras loads it; needs h5py), '.weights.npz' nnkernels' own NumPy archive."""
        filepath = os.fspath(filepath)
        if not filepath.endswith((".weights.npz", ".weights.h5")):
            raise ValueError(f"save_weights: filepath must end with '.weights.h5' or '.weights.npz', got {filepath!r}")
        self._check_built("save_weights")
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"save_weights: {filepath} exists and overwrite=False")
        if filepath.endswith(".h5"):
            saving.save_weights_h5(self, filepath)
            return
        arrays = {k: np.asarray(t.numpy()) for k, t in self._weight_items()}
        arrays["__format__"] = np.array(WEIGHTS_FORMAT)
        write_npz(filepath, arrays)  # temporary file in the same directory, then os.replace

    def load_weights(self, filepath, skip_mismatch=False):
        """Read weights saved by save_weights (or by Keras, for a '.weights.h5' file). The whole file is checked (format, names, shapes)
        before any weight changes: on error the model is left exactly as it was."""
        filepath = os.fspath(filepath)
        if not os.path.exists(filepath):
            raise FileNotFoundError(f"load_weights: no such file {filepath!r}")
        self._check_built("load_weights")
        if filepath.endswith(".h5"):
            saving.load_weights_h5(self, filepath)
            return
        data = read_npz(filepath, "load_weights")
        if str(data.pop("__format__", "")) != WEIGHTS_FORMAT:
            raise ValueError(f"load_weights: {filepath} is not an nnkernels Keras weights file "
                             f"(expected format {WEIGHTS_FORMAT!r})")
        items = self._weight_items()
        own = {k for k, _ in items}
        missing, extra = sorted(own - set(data)), sorted(set(data) - own)
        if missing or extra:
            raise ValueError(f"load_weights: {filepath} does not match this model: missing {missing[:5]}"
                             f"{'...' if len(missing) > 5 else ''}, unexpected {extra[:5]}"
                             f"{'...' if len(extra) > 5 else ''}")
        for k, t in items:
            if data[k].shape != t.shape:
                raise ValueError(f"load_weights: {k} has shape {data[k].shape} in {filepath}, the model has {t.shape}")
            if not np.issubdtype(data[k].dtype, np.number):
                raise ValueError(f"load_weights: {k} has non-numeric dtype {data[k].dtype}")
        for k, t in items:
            t.data[...] = ag._move(data[k], t.device)

    def save(self, filepath, overwrite=True, **kwargs):
        """The whole model in a '.keras' zip (config.json: architecture and compile arguments,
        model.weights.h5: weights, plus the optimizer's state), for keras.models.load_model.
        Sequential and functional models made of nnkernels.keras layers."""
        filepath = os.fspath(filepath)
        if not filepath.endswith(".keras"):
            raise ValueError(f"Model.save: filepath must end with '.keras' (use save_weights for weights only), "
                             f"got {filepath!r}")
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"Model.save: {filepath} exists and overwrite=False")
        self._check_built("save")
        saving.save_model(self, filepath)

    # -- summary
    def summary(self, print_fn=None):
        p = print_fn or print
        rows = []
        for layer in self.layers:
            shape = layer.output_shape
            rows.append((f"{layer.name} ({type(layer).__name__})", "?" if shape is None else str(shape),
                         f"{layer.count_params():,}"))
        w = [max(28, max((len(r[0]) for r in rows), default=0) + 2), 26, 12]
        line = "_" * sum(w)
        p(f'Model: "{self.name}"')
        p(line)
        p(f"{'Layer (type)':<{w[0]}}{'Output Shape':<{w[1]}}{'Param #':>{w[2]}}")
        p("=" * sum(w))
        for i, r in enumerate(rows):
            p(f"{r[0]:<{w[0]}}{r[1]:<{w[1]}}{r[2]:>{w[2]}}")
            if i + 1 < len(rows):
                p("")
        p("=" * sum(w))
        trainable = sum(v.data.size for v in self.trainable_weights)
        frozen = sum(v.data.size for v in self.non_trainable_weights)
        p(f"Total params: {trainable + frozen:,}")
        p(f"Trainable params: {trainable:,}")
        p(f"Non-trainable params: {frozen:,}")
        p(line)


class Sequential(Model):
    """A stack of layers: `Sequential([...])` or `.add(layer)`; the first layer may carry
    `input_shape=`, or an `Input(shape)` may come first; otherwise built on the first data."""

    def __init__(self, layers=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        object.__setattr__(self, "_seq", [])
        self._shape = self._in_shape = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._seq)

    def add(self, layer):
        if isinstance(layer, KerasTensor):
            if self._seq:
                raise ValueError("Sequential.add: an Input can only come first")
            self._shape = self._in_shape = layer.shape[1:]
            return
        if isinstance(layer, InputLayer):
            self._shape = self._in_shape = layer.input_shape_arg
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a keras layer, got {type(layer).__name__}")
        if not self._seq and self._shape is None and layer.input_shape_arg is not None:
            self._shape = self._in_shape = layer.input_shape_arg
        self._seq.append(layer)
        setattr(self, f"{len(self._seq) - 1}_{layer.name}", layer)
        if self._shape is not None:
            self._shape = layer(KerasTensor(self._shape)).shape[1:]
            self.built = True

    def pop(self):
        layer = self._seq.pop()
        delattr(self, f"{len(self._seq)}_{layer.name}")
        return layer

    def build(self, input_shape):
        """Build every layer for inputs of `input_shape` (batch axis first, e.g. (None, 784))."""
        shape = self._in_shape = tuple(input_shape)[1:]
        for layer in self._seq:
            shape = layer(KerasTensor(shape)).shape[1:]
        self._shape = shape
        self.built = True

    def _ensure_built(self, shapes):
        if not all(layer.built for layer in self._seq):
            self.build(shapes)
        self.built = True

    def call(self, x):
        for layer in self._seq:
            x = layer(x)
        return x


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved by `model.save('m.keras')`: architecture, weights, and (compile=True) its
    compile arguments and optimizer state. `custom_objects` maps names to your own layer classes."""
    return saving.load_model(os.fspath(filepath), custom_objects, compile)
