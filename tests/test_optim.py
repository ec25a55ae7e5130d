"""The fused Adam/AdamW step (csrc/optim/optim.cpp) against float64 NumPy and torch.optim,
and the NumPy-pass path it replaces for contiguous float parameters."""
import numpy as np
import pytest

import nnkernels as nk
from nnkernels import _C


def adam_ref(p, grads, lr, b1, b2, eps, wd, decoupled, amsgrad):
    """float64 Adam as torch.optim.Adam/AdamW document it."""
    p = p.astype(np.float64).copy()
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        g = g.astype(np.float64)
        if wd and decoupled:
            p *= 1 - lr * wd
        elif wd:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        vv = vmax if amsgrad else v
        p -= lr / (1 - b1 ** t) * m / (np.sqrt(vv) / np.sqrt(1 - b2 ** t) + eps)
    return p


CASES = [dict(wd=0.0, decoupled=False, amsgrad=False), dict(wd=0.1, decoupled=False, amsgrad=False),
         dict(wd=0.05, decoupled=True, amsgrad=False), dict(wd=0.0, decoupled=False, amsgrad=True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 4099, 70001])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"wd{c['wd']}-dec{int(c['decoupled'])}-ams{int(c['amsgrad'])}")
def test_adam_step_vs_float64(rng, dtype, n, case):
    p0 = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(4)]
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    vmax = np.zeros_like(p0) if case["amsgrad"] else None
    for t, g in enumerate(grads, 1):
        _C.adam_step(p, g, m, v, vmax, 1e-2, 0.9, 0.999, 1e-8, case["wd"], case["decoupled"], t)
    ref = adam_ref(p0, grads, 1e-2, 0.9, 0.999, 1e-8, **case)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(p, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_optimizer_matches_torch(rng, cls, amsgrad):
    torch = pytest.importorskip("torch")
    w0 = rng.standard_normal((33, 17)).astype(np.float32)
    grads = [rng.standard_normal((33, 17)).astype(np.float32) for _ in range(5)]
    ours = nk.Tensor(w0.copy(), requires_grad=True)
    theirs = torch.nn.Parameter(torch.tensor(w0))
    kw = dict(lr=3e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.02, amsgrad=amsgrad)
    o1, o2 = getattr(nk.optim, cls)([ours], **kw), getattr(torch.optim, cls)([theirs], **kw)
    for g in grads:
        ours.grad = nk.Tensor(g)
        theirs.grad = torch.tensor(g)
        o1.step()
        o2.step()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=2e-5, atol=2e-6)


def test_fused_and_numpy_paths_agree(rng):
    """A parameter that is not C-contiguous takes the NumPy passes; both give one answer."""
    w0 = rng.standard_normal((24, 10)).astype(np.float32)
    grads = [rng.standard_normal((24, 10)).astype(np.float32) for _ in range(3)]
    a = nk.Tensor(w0.copy(), requires_grad=True)
    b = nk.Tensor(np.asfortranarray(w0.copy()), requires_grad=True)
    assert not b.data.flags.c_contiguous
    oa = nk.optim.AdamW([a], lr=1e-2, weight_decay=0.1, amsgrad=True)
    ob = nk.optim.AdamW([b], lr=1e-2, weight_decay=0.1, amsgrad=True)
    for g in grads:
        a.grad, b.grad = nk.Tensor(g), nk.Tensor(np.asfortranarray(g))
        oa.step()
        ob.step()
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    assert oa.state_dict()["state"][0]["step"] == 3


def test_adam_step_rejects_bad_input():
    p = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match="adam_step: grad has 4 elements"):
        _C.adam_step(p, np.zeros(4, np.float32), np.zeros(5, np.float32), np.zeros(5, np.float32), None,
                     1e-3, 0.9, 0.999, 1e-8, 0.0, False, 1)
    with pytest.raises(ValueError, match="step must be >= 1"):
        _C.adam_step(p, p.copy(), p.copy(), p.copy(), None, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, 0)
    with pytest.raises(TypeError, match="exp_avg"):
        _C.adam_step(p, p.copy(), np.zeros(5), p.copy(), None, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, 1)
    with pytest.raises(ValueError, match="read-only"):
        ro = p.copy()
        ro.flags.writeable = False
        _C.adam_step(ro, p.copy(), p.copy(), p.copy(), None, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, 1)
