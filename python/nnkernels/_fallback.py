"""TEMPORARY NumPy stand-ins for ops that are not merged into `nnkernels.ops` yet.

The autograd layer resolves every kernel through `autograd.kernel(name)`, which
returns `nnkernels.ops.<name>` when it exists and the function of the same name here
otherwise. Each function follows the agreed signature (BRIEF.md) so that the real
kernels replace these without any change above. Once every op below exists in
`nnkernels.ops`, delete this module. Plain float64-safe NumPy, written for clarity.

Shapes: N batch, C channels, H W image, K out channels, R S kernel, P Q output,
T time, B batch (rnn), I input features, G hidden size, L S_ query/key length, D head dim.
"""
from __future__ import annotations

import math

import numpy as np

from . import ops


def _mm(a, b):
    return ops.matmul(a, b)


# --------------------------------------------------------------------- activations
def relu(x):
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def relu_backward(g, x):
    return g * (x > 0)


def leaky_relu(x, negative_slope=0.01):
    return np.where(x > 0, x, x * x.dtype.type(negative_slope))


def leaky_relu_backward(g, x, negative_slope=0.01):
    return np.where(x > 0, g, g * g.dtype.type(negative_slope))


def sigmoid(x):
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x))).astype(x.dtype, copy=False)


def sigmoid_backward(g, y):
    return g * y * (1 - y)


def tanh(x):
    return np.tanh(x)


def tanh_backward(g, y):
    return g * (1 - y * y)


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x, approximate="none"):
    if approximate == "tanh":
        u = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
        return (0.5 * x * (1 + np.tanh(u))).astype(x.dtype, copy=False)
    return (0.5 * x * (1 + _erf(x / math.sqrt(2)))).astype(x.dtype, copy=False)


def gelu_backward(g, x, approximate="none"):
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = np.tanh(k * (x + 0.044715 * x ** 3))
        d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
    else:
        d = 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return (g * d).astype(g.dtype, copy=False)


# ------------------------------------------------------------------ softmax and CE
def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(grad_out, y, axis=-1):
    return y * (grad_out - (grad_out * y).sum(axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def log_softmax_backward(grad_out, y, axis=-1):
    return grad_out - np.exp(y) * grad_out.sum(axis=axis, keepdims=True)


def _ce_terms(logits, target, label_smoothing):
    lp = log_softmax(logits, 1)
    n, c = logits.shape
    nll = -lp[np.arange(n), target]
    if label_smoothing:
        nll = (1 - label_smoothing) * nll - label_smoothing * lp.mean(axis=1)
    return lp, nll


def cross_entropy(logits, target, reduction="mean", label_smoothing=0.0):
    _, loss = _ce_terms(logits, target, label_smoothing)
    if reduction == "none":
        return loss
    return np.asarray(loss.sum() if reduction == "sum" else loss.mean(), logits.dtype)


def cross_entropy_backward(grad_out, logits, target, reduction="mean", label_smoothing=0.0):
    lp, _ = _ce_terms(logits, target, label_smoothing)
    n, c = logits.shape
    onehot = np.zeros_like(logits)
    onehot[np.arange(n), target] = 1
    if label_smoothing:
        onehot = (1 - label_smoothing) * onehot + label_smoothing / c
    g = np.exp(lp) - onehot
    go = np.asarray(grad_out, logits.dtype)
    if reduction == "none":
        return g * go[:, None]
    return g * (go / n if reduction == "mean" else go)


# ------------------------------------------------------------------------ conv
def _pair(v):
    return (v, v) if isinstance(v, (int, np.integer)) else tuple(v)


def _conv_pads(padding, kh, kw, dh, dw):
    """(top, bottom, left, right); 'same' puts the odd pixel at the bottom/right like torch."""
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    ph, pw = _pair(padding)
    return ph, ph, pw, pw


def _windows(xp, R, S, P, Q, sh, sw, dh, dw):
    """(N, C, R, S, P, Q) strided view of the padded image xp."""
    n, c = xp.shape[:2]
    s = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp, (n, c, R, S, P, Q), (s[0], s[1], s[2] * dh, s[3] * dw, s[2] * sh, s[3] * sw), writeable=False)


def _col2im(cols, shape_p, R, S, P, Q, sh, sw, dh, dw):
    """Adjoint of _windows: cols (N, C, R, S, P, Q) summed into a padded image."""
    out = np.zeros(shape_p, cols.dtype)
    for r in range(R):
        for s in range(S):
            out[:, :, r * dh: r * dh + sh * (P - 1) + 1: sh, s * dw: s * dw + sw * (Q - 1) + 1: sw] += cols[:, :, r, s]
    return out


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    # x (N,C,H,W), weight (K,C/g,R,S) -> (N,K,P,Q); im2col + GEMM per group
    N, C, H, W = x.shape
    K, Cg, R, S = weight.shape
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    t, b, l, r = _conv_pads(padding, R, S, dh, dw)
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))
    P = (H + t + b - dh * (R - 1) - 1) // sh + 1
    Q = (W + l + r - dw * (S - 1) - 1) // sw + 1
    win = _windows(xp, R, S, P, Q, sh, sw, dh, dw)
    Kg = K // groups
    out = np.empty((N, K, P, Q), np.result_type(x, weight))
    for gi in range(groups):
        cols = win[:, gi * Cg:(gi + 1) * Cg].transpose(1, 2, 3, 0, 4, 5).reshape(Cg * R * S, N * P * Q)
        w2 = weight[gi * Kg:(gi + 1) * Kg].reshape(Kg, -1)
        out[:, gi * Kg:(gi + 1) * Kg] = _mm(w2, cols).reshape(Kg, N, P, Q).transpose(1, 0, 2, 3)
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1):
    N, C, H, W = x.shape
    K, Cg, R, S = weight.shape
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    t, b, l, r = _conv_pads(padding, R, S, dh, dw)
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))
    P, Q = grad_out.shape[2:]
    win = _windows(xp, R, S, P, Q, sh, sw, dh, dw)
    Kg = K // groups
    gw = np.empty_like(weight)
    gcols = np.empty((N, C, R, S, P, Q), x.dtype)
    for gi in range(groups):
        g2 = grad_out[:, gi * Kg:(gi + 1) * Kg].transpose(1, 0, 2, 3).reshape(Kg, N * P * Q)
        cols = win[:, gi * Cg:(gi + 1) * Cg].transpose(1, 2, 3, 0, 4, 5).reshape(Cg * R * S, N * P * Q)
        gw[gi * Kg:(gi + 1) * Kg] = _mm(g2, cols.T).reshape(Kg, Cg, R, S)
        w2 = weight[gi * Kg:(gi + 1) * Kg].reshape(Kg, -1)
        gcols[:, gi * Cg:(gi + 1) * Cg] = _mm(w2.T, g2).reshape(Cg, R, S, N, P, Q).transpose(3, 0, 1, 2, 4, 5)
    gxp = _col2im(gcols, xp.shape, R, S, P, Q, sh, sw, dh, dw)
    gx = gxp[:, :, t:t + H, l:l + W]
    return np.ascontiguousarray(gx), gw, grad_out.sum(axis=(0, 2, 3))


def _convt_geometry(x, weight, stride, padding, output_padding, groups, dilation):
    N, Ci, H, W = x.shape
    _, Kg, R, S = weight.shape
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    oph, opw = _pair(output_padding)
    dh, dw = _pair(dilation)
    Ho = (H - 1) * sh - 2 * ph + dh * (R - 1) + oph + 1
    Wo = (W - 1) * sw - 2 * pw + dw * (S - 1) + opw + 1
    return (N, Kg * groups, Ho, Wo)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    # x (N,C,H,W), weight (C, K/g, R, S): the adjoint of conv2d with weight viewed (K, C/g, R, S)
    shp = _convt_geometry(x, weight, stride, padding, output_padding, groups, dilation)
    zero = np.zeros(shp, np.result_type(x, weight))
    # weight (C, K/g, R, S) read as a conv2d weight maps K channels to C: y is that conv's adjoint
    y, _, _ = conv2d_backward(x, zero, weight, stride, padding, dilation, groups)
    if bias is not None:
        y += bias.reshape(1, -1, 1, 1)
    return y


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    gx = conv2d(grad_out, weight, None, stride, padding, dilation, groups)
    # y = adjoint(conv(., W)) applied to x, so dL/dW = conv2d_backward weight grad with roles swapped
    _, gw, _ = conv2d_backward(x, grad_out, weight, stride, padding, dilation, groups)
    return gx, gw, grad_out.sum(axis=(0, 2, 3))


# ------------------------------------------------------------------------ pooling
def _pool_out(n, k, s, p, d, ceil_mode):
    span = n + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    N, C, H, W = x.shape
    R, S = _pair(kernel_size)
    sh, sw = _pair(stride) if stride is not None else (R, S)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    P = _pool_out(H, R, sh, ph, dh, ceil_mode)
    Q = _pool_out(W, S, sw, pw, dw, ceil_mode)
    eh = max(0, (P - 1) * sh + dh * (R - 1) + 1 - H - 2 * ph)
    ew = max(0, (Q - 1) * sw + dw * (S - 1) + 1 - W - 2 * pw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew)), constant_values=-np.inf)
    win = _windows(xp, R, S, P, Q, sh, sw, dh, dw).transpose(0, 1, 4, 5, 2, 3).reshape(N, C, P, Q, R * S)
    am = win.argmax(axis=-1)
    y = np.take_along_axis(win, am[..., None], -1)[..., 0]
    if not return_indices:
        return y
    rr, ss = am // S, am % S
    hh = np.arange(P)[:, None] * sh - ph + rr * dh
    ww = np.arange(Q)[None, :] * sw - pw + ss * dw
    return y, (hh * W + ww).astype(np.int64)


def max_pool2d_backward(grad_out, indices, input_shape):
    N, C, H, W = input_shape
    gx = np.zeros((N * C, H * W), grad_out.dtype)
    rows = np.repeat(np.arange(N * C), grad_out.shape[2] * grad_out.shape[3])
    np.add.at(gx, (rows, indices.reshape(-1)), grad_out.reshape(-1))
    return gx.reshape(input_shape)


def _avg_divisors(n, k, s, p, o, include_pad):
    start = np.arange(o) * s - p
    end = np.minimum(start + k, n + p)
    if include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    N, C, H, W = x.shape
    R, S = _pair(kernel_size)
    sh, sw = _pair(stride) if stride is not None else (R, S)
    ph, pw = _pair(padding)
    P = _pool_out(H, R, sh, ph, 1, ceil_mode)
    Q = _pool_out(W, S, sw, pw, 1, ceil_mode)
    eh = max(0, (P - 1) * sh + R - H - 2 * ph)
    ew = max(0, (Q - 1) * sw + S - W - 2 * pw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew)))
    s = _windows(xp, R, S, P, Q, sh, sw, 1, 1).sum(axis=(2, 3))
    div = np.outer(_avg_divisors(H, R, sh, ph, P, count_include_pad), _avg_divisors(W, S, sw, pw, Q, count_include_pad))
    return (s / div).astype(x.dtype, copy=False)


def avg_pool2d_backward(grad_out, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    N, C, H, W = input_shape
    R, S = _pair(kernel_size)
    sh, sw = _pair(stride) if stride is not None else (R, S)
    ph, pw = _pair(padding)
    P, Q = grad_out.shape[2:]
    div = np.outer(_avg_divisors(H, R, sh, ph, P, count_include_pad), _avg_divisors(W, S, sw, pw, Q, count_include_pad))
    g = (grad_out / div).astype(grad_out.dtype)
    cols = np.broadcast_to(g[:, :, None, None], (N, C, R, S, P, Q))
    eh = max(0, (P - 1) * sh + R - H - 2 * ph)
    ew = max(0, (Q - 1) * sw + S - W - 2 * pw)
    gxp = _col2im(cols, (N, C, H + 2 * ph + eh, W + 2 * pw + ew), R, S, P, Q, sh, sw, 1, 1)
    return np.ascontiguousarray(gxp[:, :, ph:ph + H, pw:pw + W])


def _adaptive_bounds(n, o):
    i = np.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


def adaptive_avg_pool2d(x, output_size):
    N, C, H, W = x.shape
    P, Q = _pair(output_size)
    P, Q = P or H, Q or W
    hs, he = _adaptive_bounds(H, P)
    ws, we = _adaptive_bounds(W, Q)
    y = np.empty((N, C, P, Q), x.dtype)
    for p in range(P):
        for q in range(Q):
            y[:, :, p, q] = x[:, :, hs[p]:he[p], ws[q]:we[q]].mean(axis=(2, 3))
    return y


def adaptive_avg_pool2d_backward(grad_out, input_shape):
    N, C, H, W = input_shape
    P, Q = grad_out.shape[2:]
    hs, he = _adaptive_bounds(H, P)
    ws, we = _adaptive_bounds(W, Q)
    gx = np.zeros(input_shape, grad_out.dtype)
    for p in range(P):
        for q in range(Q):
            n = (he[p] - hs[p]) * (we[q] - ws[q])
            gx[:, :, hs[p]:he[p], ws[q]:we[q]] += grad_out[:, :, p, q][:, :, None, None] / n
    return gx


# ---------------------------------------------------------------------- attention
def _attn_scores(q, k, attn_mask, is_causal, scale):
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = _mm(q, np.swapaxes(k, -1, -2)) * q.dtype.type(scale)
    if is_causal:
        L, S_ = s.shape[-2:]
        s = np.where(np.tril(np.ones((L, S_), bool)), s, -np.inf)
    if attn_mask is not None:
        s = np.where(attn_mask, s, -np.inf) if attn_mask.dtype == bool else s + attn_mask
    return s, scale


def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False, scale=None, return_lse=False):
    # q (..., L, D), k (..., S, D), v (..., S, Dv) -> (..., L, Dv); lse (..., L)
    s, _ = _attn_scores(q, k, attn_mask, is_causal, scale)
    m = s.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(s - m).sum(axis=-1, keepdims=True)))[..., 0]
    out = _mm(np.exp(s - lse[..., None]).astype(q.dtype), v)
    return (out, lse.astype(q.dtype)) if return_lse else out


def scaled_dot_product_attention_backward(grad_out, q, k, v, out, lse, attn_mask=None, is_causal=False, scale=None):
    s, scale = _attn_scores(q, k, attn_mask, is_causal, scale)
    p = np.exp(s - lse[..., None]).astype(q.dtype)
    gv = _mm(np.swapaxes(p, -1, -2), grad_out)
    dp = _mm(grad_out, np.swapaxes(v, -1, -2))
    ds = p * (dp - (grad_out * out).sum(axis=-1, keepdims=True)) * q.dtype.type(scale)
    return _mm(ds, k), _mm(np.swapaxes(ds, -1, -2), q), gv


# ---------------------------------------------------------------------------- rnn
def _sig(x):
    return sigmoid(x)


def lstm(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, return_cache=False):
    # x (T,B,I), h0/c0 (B,G), w_ih (4G,I), w_hh (4G,G); gates i,f,g,o
    T, B, _ = x.shape
    G = h0.shape[1]
    xg = _mm(x.reshape(T * B, -1), w_ih.T).reshape(T, B, 4 * G)
    if b_ih is not None:
        xg = xg + b_ih
    if b_hh is not None:
        xg = xg + b_hh
    hs = np.empty((T + 1, B, G), x.dtype)
    cs = np.empty((T + 1, B, G), x.dtype)
    gates = np.empty((T, B, 4 * G), x.dtype)
    hs[0], cs[0] = h0, c0
    for t in range(T):
        a = xg[t] + _mm(hs[t], w_hh.T)
        i, f, o = _sig(a[:, :G]), _sig(a[:, G:2 * G]), _sig(a[:, 3 * G:])
        g = np.tanh(a[:, 2 * G:3 * G])
        cs[t + 1] = f * cs[t] + i * g
        hs[t + 1] = o * np.tanh(cs[t + 1])
        gates[t] = np.concatenate([i, f, g, o], axis=1)
    y = hs[1:].copy()
    res = (y, hs[T].copy(), cs[T].copy())
    return res + ((x, hs, cs, gates, w_ih, w_hh),) if return_cache else res


def lstm_backward(grad_y, grad_hT, grad_cT, cache):
    x, hs, cs, gates, w_ih, w_hh = cache
    T, B, _ = x.shape
    G = hs.shape[2]
    dh = np.zeros((B, G), x.dtype) if grad_hT is None else grad_hT.copy()
    dc = np.zeros((B, G), x.dtype) if grad_cT is None else grad_cT.copy()
    da = np.empty((T, B, 4 * G), x.dtype)
    for t in reversed(range(T)):
        dh = dh + grad_y[t]
        i, f, g, o = (gates[t][:, k * G:(k + 1) * G] for k in range(4))
        tc = np.tanh(cs[t + 1])
        dc = dc + dh * o * (1 - tc * tc)
        da[t] = np.concatenate([dc * g * i * (1 - i), dc * cs[t] * f * (1 - f), dc * i * (1 - g * g),
                                dh * tc * o * (1 - o)], axis=1)
        dc = dc * f
        dh = _mm(da[t], w_hh)
    da2 = da.reshape(T * B, -1)
    gx = _mm(da2, w_ih).reshape(x.shape)
    gw_ih = _mm(da2.T, x.reshape(T * B, -1))
    gw_hh = _mm(da2.T, hs[:T].reshape(T * B, G))
    gb = da2.sum(axis=0)
    return gx, dh, dc, gw_ih, gw_hh, gb, gb.copy()


def gru(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, return_cache=False):
    # x (T,B,I), h0 (B,G), w_ih (3G,I), w_hh (3G,G); gates r,z,n; h' = (1-z) n + z h
    T, B, _ = x.shape
    G = h0.shape[1]
    xg = _mm(x.reshape(T * B, -1), w_ih.T).reshape(T, B, 3 * G)
    if b_ih is not None:
        xg = xg + b_ih
    hs = np.empty((T + 1, B, G), x.dtype)
    hs[0] = h0
    saved = np.empty((T, B, 4 * G), x.dtype)  # r, z, n, (W_hn h + b_hn)
    for t in range(T):
        hg = _mm(hs[t], w_hh.T)
        if b_hh is not None:
            hg = hg + b_hh
        r = _sig(xg[t, :, :G] + hg[:, :G])
        z = _sig(xg[t, :, G:2 * G] + hg[:, G:2 * G])
        n = np.tanh(xg[t, :, 2 * G:] + r * hg[:, 2 * G:])
        hs[t + 1] = (1 - z) * n + z * hs[t]
        saved[t] = np.concatenate([r, z, n, hg[:, 2 * G:]], axis=1)
    res = (hs[1:].copy(), hs[T].copy())
    return res + ((x, hs, saved, w_ih, w_hh),) if return_cache else res


def gru_backward(grad_y, grad_hT, cache):
    x, hs, saved, w_ih, w_hh = cache
    T, B, _ = x.shape
    G = hs.shape[2]
    dh = np.zeros((B, G), x.dtype) if grad_hT is None else grad_hT.copy()
    dxg = np.empty((T, B, 3 * G), x.dtype)
    dhg = np.empty((T, B, 3 * G), x.dtype)
    for t in reversed(range(T)):
        dh = dh + grad_y[t]
        r, z, n, hn = (saved[t][:, k * G:(k + 1) * G] for k in range(4))
        dn = dh * (1 - z) * (1 - n * n)
        dz = dh * (hs[t] - n) * z * (1 - z)
        dr = dn * hn * r * (1 - r)
        dxg[t] = np.concatenate([dr, dz, dn], axis=1)
        dhg[t] = np.concatenate([dr, dz, dn * r], axis=1)
        dh = dh * z + _mm(dhg[t], w_hh)
    dxg2 = dxg.reshape(T * B, -1)
    dhg2 = dhg.reshape(T * B, -1)
    gx = _mm(dxg2, w_ih).reshape(x.shape)
    gw_ih = _mm(dxg2.T, x.reshape(T * B, -1))
    gw_hh = _mm(dhg2.T, hs[:T].reshape(T * B, G))
    return gx, dh, gw_ih, gw_hh, dxg2.sum(axis=0), dhg2.sum(axis=0)
