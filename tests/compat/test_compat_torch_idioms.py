"""Issue 11, PyTorch tensor idioms: each expression runs under nnkernels and torch (values,
shapes, return types, gradients), and every new differentiable op is checked against
central finite differences in float64."""
import numpy as np
import pytest

import nnkernels as nk
from twin import as_np, both, close, torch

rng = np.random.default_rng(13)
A = rng.standard_normal((4, 6)).astype(np.float32)
B = rng.standard_normal((6, 3)).astype(np.float32)
A3 = rng.standard_normal((2, 4, 5)).astype(np.float32)
B3 = rng.standard_normal((2, 5, 3)).astype(np.float32)
MASK = rng.random((4, 6)) > 0.6

# name -> (fn(T, *tensors) -> one Tensor or a tuple of them, inputs); all differentiable in both
DIFF = {
    "sin": (lambda T, a: T.sin(a), [A]),
    "cos": (lambda T, a: a.cos(), [A]),
    "exp_log": (lambda T, a: T.log(T.exp(a) + 1), [A]),
    "t": (lambda T, a: a.t(), [A]),
    "top_t": (lambda T, a: T.t(a), [A]),
    "mm": (lambda T, a, b: T.mm(a, b), [A, B]),
    "mm_method": (lambda T, a, b: a.mm(b), [A, B]),
    "bmm": (lambda T, a, b: T.bmm(a, b), [A3, B3]),
    "masked_fill": (lambda T, a: a.masked_fill(T.tensor(MASK), -1.5), [A]),
    "masked_fill_row": (lambda T, a: T.masked_fill(a, T.tensor(MASK[:1]), 0.0), [A]),
    "topk": (lambda T, a: a.topk(3, dim=1).values, [A]),
    "topk_smallest_dim0": (lambda T, a: T.topk(a, 2, dim=0, largest=False)[0], [A]),
    "sort": (lambda T, a: T.sort(a, dim=1).values, [A]),
    "sort_desc": (lambda T, a: a.sort(0, descending=True)[0], [A]),
    "chunk": (lambda T, a: a.chunk(4, 1), [A]),
    "chunk_uneven": (lambda T, a: T.chunk(a, 3, dim=0), [A3[0]]),
    "split_size": (lambda T, a: a.split(4, dim=1), [A]),
    "split_list": (lambda T, a: T.split(a, [1, 3], dim=0), [A]),
    "norm": (lambda T, a: a.norm(), [A]),
    "norm_fro": (lambda T, a: T.norm(a, "fro"), [A]),
    "norm_dim": (lambda T, a: a.norm(dim=1), [A]),
    "norm_p1_keep": (lambda T, a: a.norm(p=1, dim=0, keepdim=True), [A]),
    "norm_p3": (lambda T, a: T.norm(a, p=3, dim=(0, 1)), [A3]),
    "norm_inf": (lambda T, a: a.norm(p=float("inf"), dim=1), [A]),
    "repeat": (lambda T, a: a.repeat(2, 3), [A]),
    "repeat_new_dims": (lambda T, a: a.repeat(2, 1, 2), [A]),
    "std": (lambda T, a: a.std(dim=1), [A]),
    "std_top": (lambda T, a: T.std(a), [A]),
    "var_biased": (lambda T, a: a.var(1, keepdim=True, unbiased=False), [A]),
    "add_inplace_graph": (lambda T, a: (lambda y: y.add_(a, alpha=2).mul_(a))(a * 1.0), [A]),
    "sub_div_inplace_graph": (lambda T, a: (lambda y: y.sub_(1.0).div_(2.0))(a * 3.0), [A]),
}


def _run(T, fn, arrays, dtype=np.float32):
    ts = [T.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out = fn(T, *ts)
    outs = out if isinstance(out, tuple) else (out,)
    g = [rng_w(o.shape) for o in outs]
    total = sum((o * T.tensor(w.astype(dtype))).sum() for o, w in zip(outs, g))
    total.backward()
    return outs, [t.grad for t in ts]


def rng_w(shape):
    return np.random.default_rng(abs(hash(shape)) % 2 ** 32).standard_normal(shape)


@pytest.mark.parametrize("name", sorted(DIFF))
def test_idiom_matches_torch_values_and_gradients(name):
    fn, arrays = DIFF[name]
    (outs, grads), (touts, tgrads) = both(_run, fn, arrays)
    assert len(outs) == len(touts)
    for o, to in zip(outs, touts):
        assert isinstance(o, nk.Tensor) and o.shape == tuple(to.shape)
        close(o, to, 1e-5)
    for g, tg in zip(grads, tgrads):
        close(g, tg, 1e-5)


@pytest.mark.parametrize("name", sorted(DIFF))
def test_idiom_gradient_finite_differences(name):
    fn, arrays = DIFF[name]
    arrays = [a.astype(np.float64) for a in arrays]
    outs, grads = _run(nk, fn, arrays, np.float64)
    ws = [rng_w(o.shape) for o in outs]

    def f(*xs):
        with nk.no_grad():
            o = fn(nk, *[nk.tensor(x) for x in xs])
        o = o if isinstance(o, tuple) else (o,)
        return sum(float((as_np(oo) * w).sum()) for oo, w in zip(o, ws))
    h = 1e-6
    for i, (a, g) in enumerate(zip(arrays, grads)):
        fd = np.zeros_like(a)
        for j in range(a.size):
            xp, xm = [x.copy() for x in arrays], [x.copy() for x in arrays]
            xp[i].flat[j] += h
            xm[i].flat[j] -= h
            fd.flat[j] = (f(*xp) - f(*xm)) / (2 * h)
        np.testing.assert_allclose(as_np(g), fd, rtol=1e-5, atol=1e-6)


def test_sort_topk_indices_and_return_types():
    def program(T):
        x = T.tensor(A)
        s, tk = T.sort(x, dim=1), x.topk(2)
        return s.values, s.indices, tk.values, tk.indices, T.argsort(x, dim=0)
    ours, theirs = both(program)
    for a, b in zip(ours, theirs):
        close(a, b)
    assert ours[1].dtype == np.int64 and ours[3].dtype == np.int64


def test_creation_and_comparison_idioms():
    def program(T):
        e = T.eye(3)
        e2 = T.eye(2, 4)
        ls = T.linspace(-1, 2, steps=7)
        r = T.randint(0, 10, (50,))
        r2 = T.randint(4, (3, 2))
        x = T.tensor(A)
        return (e, e2, ls, tuple(r.shape), r.dtype == T.int64, bool((r >= 0).all()) and bool((r < 10).all()),
                tuple(r2.shape), T.allclose(x, x + 1e-9), T.allclose(x, x + 1), T.equal(x, x), T.equal(x, x[:2]),
                T.equal(x, x * 2))
    ours, theirs = both(program)
    for a, b in zip(ours[:3], theirs[:3]):
        close(a, b)
        assert a.dtype == np.float32
    assert ours[3:] == theirs[3:]
    assert all(type(v) is bool for v in ours[7:])


def test_inplace_idioms_without_graph():
    def program(T):
        x = T.tensor(A.copy())
        same = x.add_(1)
        same2 = x.mul_(2.0)
        x.sub_(T.tensor(A), alpha=0.5).div_(4)
        y = T.ones(2, 3)
        y.zero_()
        z = T.zeros(2, 2)
        z.fill_(3.0)
        w = T.tensor(A.copy())
        w.masked_fill_(T.tensor(MASK), 0.0)
        w.clamp_(-0.5, 0.5)
        return x, same is x and same2 is x, y, z, w
    ours, theirs = both(program)
    close(ours[0], theirs[0])
    assert ours[1] and theirs[1]
    for a, b in zip(ours[2:], theirs[2:]):
        close(a, b)


def test_inplace_on_leaf_requiring_grad_refused_like_torch():
    for T in (nk,) + ((torch,) if torch is not None else ()):
        p = T.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            p.add_(1)
        with T.no_grad():
            p.mul_(2)
        close(p.detach(), np.full(3, 2.0))


@pytest.mark.parametrize("bad", [
    lambda: nk.mm(nk.tensor(A), nk.tensor(A)), lambda: nk.mm(nk.tensor(A3), nk.tensor(B)),
    lambda: nk.bmm(nk.tensor(A3), nk.tensor(A3)), lambda: nk.tensor(A).topk(7),
    lambda: nk.split(nk.tensor(A), [1, 1]), lambda: nk.chunk(nk.tensor(A), 0),
    lambda: nk.tensor(A).repeat(2), lambda: nk.tensor(A3).t(), lambda: nk.linspace(0, 1, -1),
    lambda: nk.randint(5, 2, (3,))])
def test_idiom_bad_arguments_are_clear_errors(bad):
    with pytest.raises((ValueError, TypeError)):
        bad()
