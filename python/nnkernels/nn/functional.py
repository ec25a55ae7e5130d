"""Differentiable layer functions on Tensors (the `torch.nn.functional` names).

The kernel-backed ones are the Tensor versions of the ops of nnkernels.ops (each op's
`Function`, forward and backward side by side, is in ops/<family>.py); normalisations and the losses built from
elementwise pieces are light NumPy glue here.
"""
from __future__ import annotations

import numpy as np

from .. import _C
from .. import autograd as ag
from .. import ops
from ..autograd import Tensor, _make, _t  # noqa: F401
from ..ops.activations import gelu_tensor as gelu, leaky_relu_tensor as leaky_relu, relu_tensor as relu  # noqa: F401
from ..ops.activations import sigmoid_tensor as sigmoid, silu_tensor as silu, tanh_tensor as tanh  # noqa: F401
from ..ops.attention import scaled_dot_product_attention_tensor as scaled_dot_product_attention  # noqa: F401
from ..ops.conv import conv2d_tensor as conv2d, conv_transpose2d_tensor as conv_transpose2d  # noqa: F401
from ..ops.gemm import linear_tensor as linear  # noqa: F401
from ..ops.pool import adaptive_avg_pool2d_tensor as adaptive_avg_pool2d, avg_pool2d_tensor as avg_pool2d  # noqa: F401
from ..ops.pool import max_pool2d_tensor as max_pool2d  # noqa: F401
from ..ops.rnn import gru_tensor as gru, lstm_tensor as lstm  # noqa: F401
from ..ops.softmax import CrossEntropy
from ..ops.softmax import log_softmax_tensor as log_softmax, softmax_tensor as softmax  # noqa: F401

__all__ = ["linear", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
           "relu", "leaky_relu", "gelu", "sigmoid", "silu", "tanh", "softmax", "log_softmax", "dropout",
           "cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "embedding", "layer_norm", "batch_norm",
           "scaled_dot_product_attention", "lstm", "gru", "flatten", "one_hot", "pad"]


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    x = _t(x)
    if not training or p == 0:
        return x
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    mask = (ag.get_rng().random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1 - p)
    return _make(x.data * mask, (x,), lambda g: (g * mask,))


def pad(x, pad, mode="constant", value=0.0):
    """Constant padding like F.pad: `pad` lists (before, after) pairs starting from the LAST axis."""
    x = _t(x)
    if mode != "constant" or len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: need mode='constant' and an even-length pad of at most {2 * x.ndim} values, "
                         f"got mode={mode!r}, pad={tuple(pad)}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    sl = tuple(slice(a, a + n) for (a, _), n in zip(widths, x.shape))
    return _make(np.pad(x.data, widths, constant_values=value), (x,), lambda g: (g[sl],))


def flatten(x, start_dim=1, end_dim=-1):
    return ag.flatten(x, start_dim, end_dim)


def _class_targets(op, target, C, ignore_index=None):
    """Integer class indices as int64, each in [0, C) unless it equals ignore_index (never
    wrapped around like a NumPy index); TypeError/ValueError naming op and target."""
    t = ag._as_data(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {t.dtype}")
    t = t.astype(np.int64)
    valid = t if ignore_index is None else t[t != ignore_index]
    if valid.size:
        lo, hi = int(valid.min()), int(valid.max())
        if lo < 0 or hi >= C:
            extra = "" if ignore_index is None else f" (or ignore_index={ignore_index})"
            raise ValueError(f"{op}: target values must be in [0, {C}){extra} for {C} classes, "
                             f"got {lo if lo < 0 else hi}")
    return t


def _float_input(op, input):
    """Losses take float log-probabilities / logits (torch refuses integer input too)."""
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must hold floats, got dtype {input.dtype}")


def _class_weight(op, weight, C, dtype):
    """A class-weight vector of exactly C entries, as `dtype` (None stays None)."""
    if weight is None:
        return None
    w = ag._as_data(weight)
    if w.shape != (C,):
        raise ValueError(f"{op}: weight must have shape ({C},), one entry per class, got shape {w.shape}")
    return w.astype(dtype)


def _weighted_mean(total, wsum):
    """total / wsum; NaN (as torch) when every target was ignored, without a NumPy warning."""
    return total / wsum if wsum != 0 else total * float("nan")


def one_hot(t, num_classes=-1):
    """Integer class indices (...) -> int64 one-hot (..., num_classes); negative indices and
    indices >= num_classes are refused (torch's rule), never wrapped around."""
    t = ag._as_data(t)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: t must hold integer class indices, got dtype {t.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be an int >= 0 or -1 (inferred), got {num_classes!r}")
    t = t.astype(np.int64)
    if num_classes == -1:
        if t.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty t; pass num_classes")
        n = int(t.max()) + 1
    else:
        n = int(num_classes)
    _class_targets("one_hot", t, max(n, 0))
    return Tensor(np.eye(n, dtype=np.int64)[t])


# ------------------------------------------------------------------- losses
def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """torch.nn.functional.cross_entropy. input (N, C) logits [or (N, C, d...)], target (N,) [(N, d...)]
    class indices or (N, C) [(N, C, d...)] class probabilities; weight (C,) per class; ignore_index
    (index targets only); label_smoothing mixes the target with the uniform distribution.
    'mean' divides by the summed weights of the kept targets (index targets) or by N (probabilities).
    `cross_entropy(x, t, 'sum', 0.1)` (reduction and label_smoothing positional) is still accepted."""
    op = "cross_entropy"
    if isinstance(weight, str):  # the older positional form: (input, target, reduction, label_smoothing)
        weight, reduction = None, weight
        if size_average is not None:
            label_smoothing, size_average = size_average, None
    if size_average is not None or reduce is not None:  # torch's deprecated pair
        reduction = "none" if reduce is False else ("mean" if size_average is not False else "sum")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    input = _t(input)
    _float_input(op, input)
    tgt = ag._as_data(target)
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C) or (N, C, d...) logits, got shape {input.shape}")
    C = input.shape[1]
    probs = np.issubdtype(tgt.dtype, np.floating)
    if input.ndim == 2 and weight is None and not probs:
        t = _class_targets(op, tgt, C, ignore_index)
        if t.shape != (input.shape[0],):
            raise ValueError(f"{op}: target has shape {t.shape}, expected ({input.shape[0]},) for input of "
                             f"shape {input.shape}")
        if not (t == ignore_index).any():  # the fused kernel: log-softmax, pick, smooth, reduce in one pass
            return CrossEntropy.apply(input, t, reduction, label_smoothing)
    if input.ndim > 2:  # (N, C, d...) -> (N*d..., C), the per-element loss back to (N, d...)
        perm = (0,) + tuple(range(2, input.ndim)) + (1,)
        x2 = input.permute(perm).reshape(-1, C)
        t2 = np.moveaxis(tgt, 1, -1).reshape(-1, C) if probs else tgt.reshape(-1)
        loss, den = _ce_rows(op, x2, t2, weight, ignore_index, label_smoothing, probs)
        loss = loss.reshape((input.shape[0],) + input.shape[2:])
    else:
        loss, den = _ce_rows(op, input, tgt, weight, ignore_index, label_smoothing, probs)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else _weighted_mean(loss.sum(), den)


def _ce_rows(op, x, t, weight, ignore_index, eps, probs):
    """Per-row cross-entropy of (M, C) logits, and what 'mean' divides the sum by."""
    M, C = x.shape
    w = _class_weight(op, weight, C, x.dtype)
    lp = log_softmax(x, axis=1)
    if probs:  # torch: sum_c w_c * p_c * -log_softmax_c, p smoothed towards 1/C; 'mean' divides by M
        if t.shape != (M, C):
            raise ValueError(f"{op}: probability target has shape {t.shape}, expected {(M, C)}")
        p = t.astype(x.dtype)
        if eps:
            p = p * (1 - eps) + eps / C
        return -(lp * Tensor(p if w is None else p * w)).sum(axis=1), float(M)
    t = _class_targets(op, t, C, ignore_index)
    if t.shape != (M,):
        raise ValueError(f"{op}: target has shape {t.shape}, expected ({M},) for input of shape {x.shape}")
    keep = t != ignore_index
    safe, wt = _kept_weights(t, keep, w, C, x.dtype)
    loss = -lp[np.arange(M), safe] * Tensor(wt)  # ignored rows: weight 0 (loss 0 with 'none', as torch)
    if eps:  # torch: (1-eps) * nll + eps/C * sum_c w_c * -lp_c, ignored rows 0, same 'mean' divisor
        cw = np.ones(C, x.dtype) if w is None else w
        smooth = (lp * Tensor(cw)).sum(axis=1) * Tensor(keep.astype(x.dtype) / -C)
        loss = (1 - eps) * loss + eps * smooth
    return loss, float(wt.sum())


def nll_loss(input, target, reduction="mean", *, weight=None, ignore_index=-100):
    """input (N, C) log-probabilities, target (N,) class indices in [0, C) (or ignore_index);
    weight (C,) per-class weights ('mean' divides by the weights of the kept targets)."""
    input = _t(input)
    _float_input("nll_loss", input)
    if input.ndim != 2:
        raise ValueError(f"nll_loss: input must be 2-D (N, C), got shape {input.shape}")
    N, C = input.shape
    tgt = _class_targets("nll_loss", target, C, ignore_index)
    if tgt.shape != (N,):
        raise ValueError(f"nll_loss: target has shape {tgt.shape}, expected ({N},) for input of shape {input.shape}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"nll_loss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    w = _class_weight("nll_loss", weight, C, input.dtype)
    keep = tgt != ignore_index
    if w is None and keep.all():
        return _reduce(-input[np.arange(N), tgt], reduction)
    safe, wt = _kept_weights(tgt, keep, w, C, input.dtype)
    wl = -input[np.arange(N), safe] * Tensor(wt)  # ignored rows: weight 0 (loss 0 with 'none', as torch)
    if reduction == "mean":
        return _weighted_mean(wl.sum(), float(wt.sum()))
    return wl.sum() if reduction == "sum" else wl


def _kept_weights(tgt, keep, w, C, dtype):
    """(targets with ignored entries set to class 0, per-row weight: w[target], 0 if ignored)."""
    safe = np.where(keep, tgt, 0)
    wt = (np.ones(C, dtype) if w is None else w)[safe] * keep.astype(dtype)
    return safe, wt


def mse_loss(input, target, reduction="mean"):
    d = _t(input) - _t(target, _t(input))
    return _reduce(d * d, reduction)


def binary_cross_entropy(input, target, reduction="mean"):
    """input probabilities in [0, 1]; log terms clamped at -100 like torch."""
    p, t = _t(input), _t(target, _t(input))
    lp = ag.clamp(ag.log(p), -100, None)
    l1p = ag.clamp(ag.log(1 - p), -100, None)
    return _reduce(-(t * lp + (1 - t) * l1p), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """torch's: -w [pw * t * log sigmoid(x) + (1 - t) * log(1 - sigmoid(x))], computed stably as
    (1 - t) x + (1 + (pw - 1) t) softplus(-x); weight broadcasts over the loss, pos_weight over
    the last (class) axis. `f(x, t, 'sum')` (reduction positional) is still accepted."""
    if isinstance(weight, str):
        weight, reduction = None, weight
    x = _t(input)
    t = ag._as_data(target).astype(x.dtype)
    if t.shape != x.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: target has shape {t.shape}, input {x.shape}")
    xd = x.data
    sp = np.maximum(-xd, 0) + np.log1p(np.exp(-np.abs(xd)))  # softplus(-x) = -log sigmoid(x)
    s = ops.sigmoid(xd)
    if pos_weight is None:
        loss, grad = (1 - t) * xd + sp, s - t
    else:
        c = 1 + (ag._as_data(pos_weight).astype(x.dtype) - 1) * t
        loss, grad = (1 - t) * xd + c * sp, (1 - t) - c * (1 - s)
    out = _make(loss.astype(x.dtype, copy=False), (x,), lambda g: (g * grad,))
    if weight is not None:
        out = out * Tensor(ag._as_data(weight).astype(x.dtype))
    return _reduce(out, reduction)


# ----------------------------------------------------------- embedding / norms
def embedding(input, weight, padding_idx=None):
    """input int indices (...), weight (V, D) -> (..., D); the padding_idx row gets no gradient."""
    idx = ag._as_data(input).astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= weight.shape[0]):
        raise IndexError(f"embedding: index out of range [0, {weight.shape[0]}) (min {idx.min()}, max {idx.max()})")

    def backward(g):
        # rows summed per index (a scatter-add in C++; NumPy's reduceat is slow when most differ)
        if type(g) is np.ndarray and g.dtype in (np.float32, np.float64):
            pad = -1 if padding_idx is None else padding_idx % weight.shape[0]
            return (_C.embedding_backward(idx, np.ascontiguousarray(g), weight.shape[0], pad),)
        xp = ag.array_module(g)                       # CuPy, or a dtype the kernel lacks
        gw = xp.zeros(weight.shape, g.dtype)
        xp.add.at(gw, idx.reshape(-1), g.reshape(-1, weight.shape[1]))
        if padding_idx is not None:
            gw[padding_idx] = 0
        return (gw,)
    return _make(weight.data[idx], (weight,), backward)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing `normalized_shape` axes, then scale and shift."""
    x = _t(x)
    k = len(tuple(normalized_shape)) if not isinstance(normalized_shape, int) else 1
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = x.data.mean(axis=axes, keepdims=True)
    xc = x.data - mu
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=axes, keepdims=True) + eps)
    xhat = (xc * rstd).astype(x.dtype)

    def backward(g):
        n = int(np.prod(x.shape[-k:]))
        gh = g * weight.data if weight is not None else g
        gx = rstd / n * (n * gh - gh.sum(axis=axes, keepdims=True) - xhat * (gh * xhat).sum(axis=axes, keepdims=True))
        lead = tuple(range(x.ndim - k))
        out = [gx]
        if weight is not None:
            out.append((g * xhat).sum(axis=lead))
        if bias is not None:
            out.append(g.sum(axis=lead))
        return tuple(out)
    y = xhat
    if weight is not None:
        y = y * weight.data
    if bias is not None:
        y = y + bias.data
    parents = (x,) + tuple(p for p in (weight, bias) if p is not None)
    return _make(y, parents, backward)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """x (N, C) or (N, C, ...); statistics per channel (axis 1). Updates running stats in training."""
    x = _t(x)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        n = x.data.size // x.shape[1]
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input {x.shape}")
        mu = x.data.mean(axis=axes)
        var = x.data.var(axis=axes)
        if running_mean is not None:
            running_mean.data *= 1 - momentum
            running_mean.data += momentum * mu
            running_var.data *= 1 - momentum
            running_var.data += momentum * var * n / (n - 1)
    else:
        mu, var = running_mean.data, running_var.data
    rstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype).reshape(shape)
    xhat = (x.data - mu.reshape(shape).astype(x.dtype)) * rstd
    w = weight.data.reshape(shape) if weight is not None else 1.0

    def backward(g):
        gh = g * w
        if training:
            n = x.data.size // x.shape[1]
            gx = rstd / n * (n * gh - gh.sum(axis=axes, keepdims=True)
                             - xhat * (gh * xhat).sum(axis=axes, keepdims=True))
        else:
            gx = gh * rstd
        out = [gx]
        if weight is not None:
            out.append((g * xhat).sum(axis=axes))
        if bias is not None:
            out.append(g.sum(axis=axes))
        return tuple(out)
    y = xhat * w
    if bias is not None:
        y = y + bias.data.reshape(shape)
    parents = (x,) + tuple(p for p in (weight, bias) if p is not None)
    return _make(y.astype(x.dtype, copy=False), parents, backward)
