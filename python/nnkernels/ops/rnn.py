"""LSTM and GRU on the CPU kernels (csrc/rnn/): cells and whole sequences, with backward.

Semantics, weight layouts and gate orders are torch's (``torch.nn.LSTM``/``GRU``/
``LSTMCell``/``GRUCell``): LSTM gates i, f, g, o; GRU gates r, z, n with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``. One layer, one direction,
sequence-first ``x (T, B, I)``. ``w_ih (G*H, I)``, ``w_hh (G*H, H)``, biases ``(G*H,)``
or None, with G = 4 (LSTM) or 3 (GRU). float32 or float64 (mixed inputs promote).

The sequence functions run the whole time loop in C++: one GEMM for the input
projection of every step, one recurrent GEMM and one fused gate pass per step, and
backward through time likewise. With ``return_cache=True`` they also return an
opaque cache (the saved gates and states) that ``lstm_backward``/``gru_backward``
consume; do not modify ``x`` or ``y`` in place before calling the backward. Each op's
autograd `Function` (several outputs: one backward call receives the gradients of all
of them) and Tensor version follow the array ops.
"""
from __future__ import annotations

import numpy as np

from .. import _C
from ..core.function import Function, differentiable
from ..core.tensor import _t
from ._common import as_array, result_float_dtype

__all__ = ["lstm_cell", "lstm_cell_backward", "gru_cell", "gru_cell_backward",
           "lstm", "lstm_backward", "gru", "gru_backward", "RNNCache"]


class RNNCache:
    """What an ``lstm``/``gru`` forward saves for its backward (treat as opaque).

    kind: 'lstm' or 'gru'; x (T,B,I), h0 (B,H), c0 (B,H) or None, w_ih, w_hh: the
    inputs as the kernel saw them (contiguous, one dtype); y (T,B,H): the outputs;
    gates (T,B,G*H): activated gates; states (T,B,H): LSTM cell states c_1..c_T or
    GRU ``W_hn h_{t-1} + b_hn``.
    """
    __slots__ = ("kind", "x", "h0", "c0", "w_ih", "w_hh", "y", "gates", "states")

    def __init__(self, kind, x, h0, c0, w_ih, w_hh, y, gates, states):
        self.kind, self.x, self.h0, self.c0 = kind, x, h0, c0
        self.w_ih, self.w_hh, self.y, self.gates, self.states = w_ih, w_hh, y, gates, states

    @property
    def dtype(self):
        return self.x.dtype

    def __repr__(self):
        T, B, I = self.x.shape
        return f"RNNCache({self.kind}, T={T}, B={B}, I={I}, H={self.h0.shape[1]}, dtype={self.dtype})"


def _c(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


def _check_params(op, G, I, w_ih, w_hh, b_ih, b_hh):
    """H from the weights; ValueError naming the argument on any mismatch."""
    gname = "4*hidden_size" if G == 4 else "3*hidden_size"
    if w_ih.ndim != 2 or w_ih.shape[0] % G:
        raise ValueError(f"{op}: w_ih must be 2-D ({gname}, input_size), got shape {w_ih.shape}")
    H = w_ih.shape[0] // G
    if w_ih.shape[1] != I:
        raise ValueError(f"{op}: w_ih has shape {w_ih.shape}, expected ({G * H}, {I}): its second "
                         f"dimension must equal the input size {I} of x")
    if w_hh.shape != (G * H, H):
        raise ValueError(f"{op}: w_hh has shape {w_hh.shape}, expected ({G * H}, {H}) "
                         f"({gname}, hidden_size) for hidden_size {H} from w_ih {w_ih.shape}")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and b.shape != (G * H,):
            raise ValueError(f"{op}: {name} has shape {b.shape}, expected ({G * H},)")
    return H


def _check_state(op, name, s, B, H):
    if s is not None and s.shape != (B, H):
        raise ValueError(f"{op}: {name} has shape {s.shape}, expected (batch, hidden_size) = {(B, H)}")


def _arrays(op, **kw):
    return {k: (None if v is None else as_array(v, k, op)) for k, v in kw.items()}


# ---- sequences ------------------------------------------------------------------

def _prepare_seq(op, G, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    for name, v in (("x", x), ("w_ih", w_ih), ("w_hh", w_hh)):
        if v is None:
            raise TypeError(f"{op}: {name} is required (an array), got None")
    a = _arrays(op, x=x, h0=h0, c0=c0, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh)
    dtype = result_float_dtype(op, **a)
    x = a["x"]
    if x.ndim != 3:
        raise ValueError(f"{op}: x must be 3-D (seq_len, batch, input_size), got shape {x.shape}")
    T, B, I = x.shape
    H = _check_params(op, G, I, a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"])
    _check_state(op, "h0", a["h0"], B, H)
    _check_state(op, "c0", a["c0"], B, H)
    out = {k: (None if v is None else _c(v, dtype)) for k, v in a.items()}
    for k in ("h0", "c0"):
        if out[k] is None:
            out[k] = np.zeros((B, H), dtype)
    for k in ("b_ih", "b_hh"):
        if out[k] is None:
            out[k] = np.zeros((G * H,), dtype)
    return dtype, T, B, I, H, out


def lstm(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, return_cache=False):
    """One-layer LSTM over a sequence, like ``torch.nn.LSTM`` (seq-first, one direction).

    x (T, B, I); h0, c0 (B, H) or None (zeros); w_ih (4H, I); w_hh (4H, H); b_ih, b_hh
    (4H,) or None. Returns ``(y, hT, cT)`` with y (T, B, H) = h_1..h_T, or
    ``(y, hT, cT, cache)`` with ``return_cache=True`` (for ``lstm_backward``).
    """
    dtype, T, B, I, H, a = _prepare_seq("lstm", 4, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    y = np.empty((T, B, H), dtype)
    gates = np.empty((T, B, 4 * H), dtype)
    cs = np.empty((T, B, H), dtype)
    if T and B and H:
        bias = a["b_ih"] + a["b_hh"]
        _C.lstm_forward(a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"], bias, y, gates, cs)
        hT, cT = y[-1].copy(), cs[-1].copy()
    else:
        hT, cT = a["h0"].copy(), a["c0"].copy()
    if not return_cache:
        return y, hT, cT
    return y, hT, cT, RNNCache("lstm", a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"], y, gates, cs)


def _check_cache(op, cache, kind):
    """Every array of the cache checked against the others before the kernel reads them
    (a replaced array of another shape would be read out of bounds): returns T, B, I, H."""
    if not isinstance(cache, RNNCache) or cache.kind != kind:
        raise TypeError(f"{op}: cache must be the cache returned by {kind}(..., return_cache=True), "
                        f"got {type(cache).__name__}")
    G = 4 if kind == "lstm" else 3
    names = ["x", "h0", "w_ih", "w_hh", "y", "gates", "states"] + (["c0"] if kind == "lstm" else [])
    for name in names:
        a = getattr(cache, name)
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{op}: cache.{name} must be a numpy.ndarray, got {type(a).__name__}")
    x, h0 = cache.x, cache.h0
    if x.ndim != 3:
        raise ValueError(f"{op}: cache.x must be 3-D (seq_len, batch, input_size), got shape {x.shape}")
    if h0.ndim != 2:
        raise ValueError(f"{op}: cache.h0 must be 2-D (batch, hidden_size), got shape {h0.shape}")
    T, B, I = x.shape
    H = h0.shape[1]
    want = {"h0": (B, H), "c0": (B, H), "w_ih": (G * H, I), "w_hh": (G * H, H), "y": (T, B, H),
            "gates": (T, B, G * H), "states": (T, B, H)}
    dt = x.dtype
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{op}: cache.x has unsupported dtype {dt} (float32 or float64 expected)")
    for name in names:
        a = getattr(cache, name)
        if name != "x" and a.shape != want[name]:
            raise ValueError(f"{op}: cache.{name} has shape {a.shape}, expected {want[name]} for cache.x "
                             f"{x.shape} and cache.h0 {h0.shape}")
        if a.dtype != dt:
            raise TypeError(f"{op}: cache.{name} has dtype {a.dtype}, expected {dt} (the dtype of cache.x)")
        if not (a.flags.c_contiguous and a.flags.aligned):
            raise ValueError(f"{op}: cache.{name} must be C-contiguous and aligned (as the forward saved it)")
    return T, B, I, H


def _grad(op, name, g, shape, dtype):
    if g is None:
        return None
    g = as_array(g, name, op)
    result_float_dtype(op, **{name: g})
    if g.shape != tuple(shape):
        raise ValueError(f"{op}: {name} has shape {g.shape}, expected {tuple(shape)}")
    return _c(g, dtype)


def lstm_backward(grad_y, grad_hT, grad_cT, cache):
    """Gradients of ``lstm`` from its cache: ``(gx, gh0, gc0, gw_ih, gw_hh, gb_ih, gb_hh)``.

    grad_y (T, B, H), grad_hT and grad_cT (B, H); any of them may be None (zero).
    gb_ih equals gb_hh (both biases enter the gates as a sum); both are returned even
    when the layer had no biases.
    """
    op = "lstm_backward"
    T, B, I, H = _check_cache(op, cache, "lstm")
    dt = cache.dtype
    gy = _grad(op, "grad_y", grad_y, (T, B, H), dt)
    ghT = _grad(op, "grad_hT", grad_hT, (B, H), dt)
    gcT = _grad(op, "grad_cT", grad_cT, (B, H), dt)
    gx = np.empty((T, B, I), dt)
    gh0 = np.empty((B, H), dt)
    gc0 = np.empty((B, H), dt)
    gw_ih = np.empty((4 * H, I), dt)
    gw_hh = np.empty((4 * H, H), dt)
    gb = np.empty((4 * H,), dt)
    if T and B and H:
        _C.lstm_backward(cache.x, cache.h0, cache.c0, cache.w_ih, cache.w_hh, cache.y, cache.gates,
                         cache.states, gy, ghT, gcT, gx, gh0, gc0, gw_ih, gw_hh, gb)
    else:
        gx[...] = 0
        gw_ih[...] = 0
        gw_hh[...] = 0
        gb[...] = 0
        gh0[...] = 0 if ghT is None else ghT
        gc0[...] = 0 if gcT is None else gcT
    return gx, gh0, gc0, gw_ih, gw_hh, gb, gb.copy()


def gru(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, return_cache=False):
    """One-layer GRU over a sequence, like ``torch.nn.GRU`` (seq-first, one direction).

    x (T, B, I); h0 (B, H) or None (zeros); w_ih (3H, I); w_hh (3H, H); b_ih, b_hh (3H,)
    or None. Returns ``(y, hT)`` or ``(y, hT, cache)`` with ``return_cache=True``.
    """
    dtype, T, B, I, H, a = _prepare_seq("gru", 3, x, h0, None, w_ih, w_hh, b_ih, b_hh)
    y = np.empty((T, B, H), dtype)
    gates = np.empty((T, B, 3 * H), dtype)
    hn = np.empty((T, B, H), dtype)
    if T and B and H:
        _C.gru_forward(a["x"], a["h0"], a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"], y, gates, hn)
        hT = y[-1].copy()
    else:
        hT = a["h0"].copy()
    if not return_cache:
        return y, hT
    return y, hT, RNNCache("gru", a["x"], a["h0"], None, a["w_ih"], a["w_hh"], y, gates, hn)


def gru_backward(grad_y, grad_hT, cache):
    """Gradients of ``gru`` from its cache: ``(gx, gh0, gw_ih, gw_hh, gb_ih, gb_hh)``.

    grad_y (T, B, H) and grad_hT (B, H) may be None (zero).
    """
    op = "gru_backward"
    T, B, I, H = _check_cache(op, cache, "gru")
    dt = cache.dtype
    gy = _grad(op, "grad_y", grad_y, (T, B, H), dt)
    ghT = _grad(op, "grad_hT", grad_hT, (B, H), dt)
    gx = np.empty((T, B, I), dt)
    gh0 = np.empty((B, H), dt)
    gw_ih = np.empty((3 * H, I), dt)
    gw_hh = np.empty((3 * H, H), dt)
    gb_ih = np.empty((3 * H,), dt)
    gb_hh = np.empty((3 * H,), dt)
    if T and B and H:
        _C.gru_backward(cache.x, cache.h0, cache.w_ih, cache.w_hh, cache.y, cache.gates, cache.states,
                        gy, ghT, gx, gh0, gw_ih, gw_hh, gb_ih, gb_hh)
    else:
        for g in (gx, gw_ih, gw_hh, gb_ih, gb_hh):
            g[...] = 0
        gh0[...] = 0 if ghT is None else ghT
    return gx, gh0, gw_ih, gw_hh, gb_ih, gb_hh


# ---- cells (a sequence of one step) ------------------------------------------------

def _prepare_cell(op, x, states):
    """x (B, I) or unbatched (I,); states (B, H)/(H,) or None. Returns x as (1, B, I),
    the states as (B, H) or None, and whether the input was unbatched."""
    x = as_array(x, "x", op)
    if x.ndim not in (1, 2):
        raise ValueError(f"{op}: x must be 2-D (batch, input_size) or 1-D (input_size,), got shape {x.shape}")
    unbatched = x.ndim == 1
    out = []
    for name, s in states:
        if s is not None:
            s = as_array(s, name, op)
            if s.ndim != x.ndim:
                raise ValueError(f"{op}: {name} has shape {s.shape} but x has shape {x.shape}: expected "
                                 f"{'(hidden_size,)' if unbatched else '(batch, hidden_size)'}")
            if unbatched:
                s = s[None]
        out.append(s)
    return (x[None, None] if unbatched else x[None]), out, unbatched


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step, like ``torch.nn.LSTMCell``: returns ``(h1, c1)``.

    x (B, I); h, c (B, H) or None (zeros); unbatched (I,) / (H,) inputs give (H,) outputs.
    """
    x3, (h, c), unb = _prepare_cell("lstm_cell", x, (("h", h), ("c", c)))
    try:
        _, h1, c1 = lstm(x3, h, c, w_ih, w_hh, b_ih, b_hh)
    except (ValueError, TypeError) as e:
        raise type(e)(str(e).replace("lstm:", "lstm_cell:").replace("h0", "h").replace("c0", "c")) from None
    return (h1[0], c1[0]) if unb else (h1, c1)


def lstm_cell_backward(grad_h1, grad_c1, x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """Gradients of ``lstm_cell``: ``(gx, gh, gc, gw_ih, gw_hh, gb_ih, gb_hh)``.

    grad_h1, grad_c1 (B, H) or None (zero). Recomputes the step's gates.
    """
    x3, (h, c), unb = _prepare_cell("lstm_cell_backward", x, (("h", h), ("c", c)))
    try:
        *_, cache = lstm(x3, h, c, w_ih, w_hh, b_ih, b_hh, return_cache=True)
    except (ValueError, TypeError) as e:
        raise type(e)(str(e).replace("lstm:", "lstm_cell_backward:").replace("h0", "h")
                         .replace("c0", "c")) from None
    B, H = cache.h0.shape
    gh1 = _grad("lstm_cell_backward", "grad_h1", grad_h1, (H,) if unb else (B, H), cache.dtype)
    gc1 = _grad("lstm_cell_backward", "grad_c1", grad_c1, (H,) if unb else (B, H), cache.dtype)
    if unb:
        gh1 = None if gh1 is None else gh1[None]
        gc1 = None if gc1 is None else gc1[None]
    gx, gh, gc, gw_ih, gw_hh, gb_ih, gb_hh = lstm_backward(None, gh1, gc1, cache)
    gx = gx[0]
    if unb:
        gx, gh, gc = gx[0], gh[0], gc[0]
    return gx, gh, gc, gw_ih, gw_hh, gb_ih, gb_hh


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step, like ``torch.nn.GRUCell``: returns h1.

    x (B, I); h (B, H) or None (zeros); unbatched (I,) / (H,) inputs give an (H,) output.
    """
    x3, (h,), unb = _prepare_cell("gru_cell", x, (("h", h),))
    try:
        _, h1 = gru(x3, h, w_ih, w_hh, b_ih, b_hh)
    except (ValueError, TypeError) as e:
        raise type(e)(str(e).replace("gru:", "gru_cell:").replace("h0", "h")) from None
    return h1[0] if unb else h1


def gru_cell_backward(grad_h1, x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """Gradients of ``gru_cell``: ``(gx, gh, gw_ih, gw_hh, gb_ih, gb_hh)``.

    grad_h1 (B, H) or None (zero). Recomputes the step's gates.
    """
    x3, (h,), unb = _prepare_cell("gru_cell_backward", x, (("h", h),))
    try:
        *_, cache = gru(x3, h, w_ih, w_hh, b_ih, b_hh, return_cache=True)
    except (ValueError, TypeError) as e:
        raise type(e)(str(e).replace("gru:", "gru_cell_backward:").replace("h0", "h")) from None
    B, H = cache.h0.shape
    gh1 = _grad("gru_cell_backward", "grad_h1", grad_h1, (H,) if unb else (B, H), cache.dtype)
    if unb and gh1 is not None:
        gh1 = gh1[None]
    gx, gh, gw_ih, gw_hh, gb_ih, gb_hh = gru_backward(None, gh1, cache)
    gx = gx[0]
    if unb:
        gx, gh = gx[0], gh[0]
    return gx, gh, gw_ih, gw_hh, gb_ih, gb_hh


# ---- autograd: one Function per op, and its Tensor version (nk.<op> for Tensors) ----------

class LSTM(Function):
    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        y, hT, cT, ctx.cache = lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh, return_cache=True)
        return y, hT, cT

    @staticmethod
    def backward(ctx, gy, ghT, gcT):
        return lstm_backward(gy, ghT, gcT, ctx.cache)


class GRU(Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        y, hT, ctx.cache = gru(x, h0, w_ih, w_hh, b_ih, b_hh, return_cache=True)
        return y, hT

    @staticmethod
    def backward(ctx, gy, ghT):
        return gru_backward(gy, ghT, ctx.cache)


class LSTMCell(Function):
    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, b_ih, b_hh):
        ctx.save_for_backward(x, h, c, w_ih, w_hh, b_ih, b_hh)
        return lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh)

    @staticmethod
    def backward(ctx, gh1, gc1):
        return lstm_cell_backward(gh1, gc1, *ctx.saved_tensors)


class GRUCell(Function):
    @staticmethod
    def forward(ctx, x, h, w_ih, w_hh, b_ih, b_hh):
        ctx.save_for_backward(x, h, w_ih, w_hh, b_ih, b_hh)
        return gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)

    @staticmethod
    def backward(ctx, gh1):
        return gru_cell_backward(gh1, *ctx.saved_tensors)


@differentiable(lstm)
def lstm_tensor(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """One layer, one direction. x (T, B, I), h0/c0 (B, G) -> y (T, B, G), hT, cT (B, G)."""
    return LSTM.apply(_t(x), _t(h0), _t(c0), w_ih, w_hh, b_ih, b_hh)


@differentiable(gru)
def gru_tensor(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """One layer, one direction. x (T, B, I), h0 (B, G) -> y (T, B, G), hT (B, G)."""
    return GRU.apply(_t(x), _t(h0), w_ih, w_hh, b_ih, b_hh)


@differentiable(lstm_cell)
def lstm_cell_tensor(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step on Tensors -> (h1, c1); h, c may be None (zeros)."""
    return LSTMCell.apply(_t(x), h, c, w_ih, w_hh, b_ih, b_hh)


@differentiable(gru_cell)
def gru_cell_tensor(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step on Tensors -> h1; h may be None (zeros)."""
    return GRUCell.apply(_t(x), h, w_ih, w_hh, b_ih, b_hh)
