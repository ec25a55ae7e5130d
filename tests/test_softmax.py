"""softmax, log_softmax and cross_entropy, forward and backward, against float64 NumPy
references, PyTorch when importable, and finite differences."""
import numpy as np
import pytest

import nnkernels as nk
from helpers import check_op, one_path, rel_err, torch


def ref_log_softmax(x, axis):
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def ref_softmax(x, axis):
    return np.exp(ref_log_softmax(x, axis))


def ref_cross_entropy(x, t, reduction="mean", eps=0.0):
    lp = ref_log_softmax(x, 1)
    N, C = lp.shape
    per = -(1 - eps) * lp[np.arange(N), t] - eps * lp.mean(axis=1)
    return {"none": per, "sum": per.sum(), "mean": per.mean() if N else np.nan}[reduction]


TOL = {np.float32: 1e-6, np.float64: 1e-13}
SHAPES = [((1,), -1), ((7,), 0), ((3, 1000), -1), ((5, 37), 1), ((4, 4099), -1), ((2, 3, 4, 5), 1),
          ((2, 3, 4, 5), 0), ((2, 3, 4, 5), 2), ((6, 33, 7), 1), ((3, 300, 41), 1), ((1, 1), 0), ((2, 65), 0),
          ((0, 5), -1), ((4, 0), 0), ((), 0), ((64, 10), -1),
          # 16-lane tails: rows of 16, 17, 63, 127; slabs of 16, 23 and 31 lanes
          ((3, 16), -1), ((2, 17), -1), ((2, 63), -1), ((2, 127), -1), ((3, 5, 16), 1), ((2, 7, 23), 1),
          ((3, 31), 0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", SHAPES)
def test_softmax_forward(cpu_path, rng, dtype, shape, axis):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    ax = axis if x.ndim else None
    check_op([x], lambda x: nk.softmax(x, axis), ref=lambda x: ref_softmax(x, ax), grad=False, arrays=True,
             tol=TOL[dtype], **one_path(cpu_path))
    # log-softmax: absolute error against the larger of 1 and |ref|
    check_op([x], lambda x: nk.log_softmax(x, axis), ref=lambda x: ref_log_softmax(x, ax), grad=False, arrays=True,
             atol=2 * TOL[dtype], rtol=2 * TOL[dtype], **one_path(cpu_path))


def test_softmax_elementwise_accuracy_float32(cpu_path, rng):
    # Every entry (not only the largest) within 1e-6 relative: checks the AVX2 exp. The
    # reference starts from the float32 x - max the kernel computes (that rounding, up to
    # ulp(x - max), is inherent to float32 softmax, torch's included).
    for x in (rng.uniform(-20, 20, (64, 37)).astype(np.float32),
              np.concatenate([np.zeros((8, 1)), rng.uniform(-80, 0, (8, 4095))], 1).astype(np.float32)):
        def ref(x):
            d = (x.astype(np.float32) - x.astype(np.float32).max(axis=1, keepdims=True)).astype(np.float64)
            return np.exp(d) / np.exp(d).sum(axis=1, keepdims=True)
        check_op([x], lambda x: nk.softmax(x), ref=ref, grad=False, arrays=True, rtol=1e-6, atol=1e-30,
                 **one_path(cpu_path, device=False))


def test_softmax_vs_torch(cpu_path, rng):
    pytest.importorskip("torch")
    for shape, axis in SHAPES[:12]:
        x = (rng.standard_normal(shape) * 3).astype(np.float32)
        for ours, theirs in ((nk.softmax, torch.softmax), (nk.log_softmax, torch.log_softmax)):
            check_op([x], lambda x: ours(x, axis), lambda x: theirs(x, axis), grad=False, arrays=True, tol=1e-6,
                     **one_path(cpu_path))


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_special_values(cpu_path, axis):
    x = np.array([[1e4, 1e4 - 1, -1e4, 0], [-np.inf, 0, 1, -np.inf], [np.nan, 0, 1, 2], [-np.inf] * 4,
                  [88, 89, -90, 0], [3, 3, 3, 3]], np.float32)
    if axis == 0:
        x = np.ascontiguousarray(x.T)
    with np.errstate(invalid="ignore"):  # NaN where the reference has NaN, the same -inf
        check_op([x], lambda x: nk.softmax(x, axis), ref=lambda x: ref_softmax(x, axis), grad=False, arrays=True,
                 atol=1e-6, rtol=0, **one_path(cpu_path))
        # 1e4 - (1e4 - 1) is exact; large logs round
        check_op([x], lambda x: nk.log_softmax(x, axis), ref=lambda x: ref_log_softmax(x, axis), grad=False,
                 arrays=True, atol=1e-3, rtol=0, **one_path(cpu_path))


def test_softmax_non_contiguous(cpu_path, rng):
    base = rng.standard_normal((12, 50, 9)).astype(np.float32)
    x = base[::2, ::-1, :].transpose(2, 0, 1)
    for axis in (0, 1, 2, -1):
        assert rel_err(nk.softmax(x, axis), ref_softmax(x, axis)) <= 1e-6
        assert rel_err(nk.log_softmax(x, axis), ref_log_softmax(x, axis)) <= 1e-6


@pytest.mark.parametrize("shape,axis", [((3, 7), -1), ((2, 5, 3), 1), ((4, 3, 2), 0), ((1, 1), 0), ((2, 33), 0)])
def test_softmax_backward_fd(cpu_path, rng, shape, axis):
    x = rng.standard_normal(shape)
    check_op([x], lambda x: nk.softmax(x, axis), ref=lambda x: ref_softmax(x, axis), tol=1e-13, grad_tol=1e-8,
             **one_path(cpu_path))
    check_op([x], lambda x: nk.log_softmax(x, axis), ref=lambda x: ref_log_softmax(x, axis), tol=1e-13,
             grad_tol=1e-8, **one_path(cpu_path))


@pytest.mark.parametrize("shape,axis", [((5, 1000), -1), ((3, 37, 45), 1), ((6, 129), 0), ((2, 4099), 1)])
def test_softmax_backward_vs_torch(cpu_path, rng, shape, axis):
    pytest.importorskip("torch")
    x = rng.standard_normal(shape).astype(np.float32)
    for ours, theirs in ((nk.softmax, torch.softmax), (nk.log_softmax, torch.log_softmax)):
        check_op([x], lambda x: ours(x, axis), lambda x: theirs(x, axis), tol=1e-6, grad_tol=2e-6,
                 **one_path(cpu_path))


# ---- cross-entropy ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N,C", [(1, 1), (1, 2), (7, 3), (5, 17), (64, 10), (13, 1000), (3, 4099), (0, 5)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_cross_entropy(cpu_path, rng, dtype, N, C, reduction, eps):
    x = (rng.standard_normal((N, C)) * 3).astype(dtype)
    t = rng.integers(0, C, N)
    # the mean over no rows is NaN; errors relative to the larger of 1 and the largest loss
    tol = 2e-6 if dtype == np.float32 else 1e-13
    tols = dict(atol=0, rtol=0) if N == 0 and reduction == "mean" else dict(tol=tol, floor=1.0)
    check_op([x, t], lambda x, t: nk.cross_entropy(x, t, reduction, eps),
             ref=lambda x, t: ref_cross_entropy(x, t, reduction, eps), grad=False, arrays=True, **tols,
             **one_path(cpu_path))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.25])
def test_cross_entropy_vs_torch(cpu_path, rng, reduction, eps):
    pytest.importorskip("torch")
    F = torch.nn.functional
    x = (rng.standard_normal((37, 101)) * 3).astype(np.float32)
    t = rng.integers(0, 101, 37)
    check_op([x, t], lambda x, t: nk.cross_entropy(x, t, reduction, eps),
             lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=eps), tol=2e-6,
             **one_path(cpu_path))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_cross_entropy_backward_fd(cpu_path, rng, reduction, eps):
    x = rng.standard_normal((5, 7))
    t = rng.integers(0, 7, 5)
    check_op([x, t], lambda x, t: nk.cross_entropy(x, t, reduction, eps),
             ref=lambda x, t: ref_cross_entropy(x, t, reduction, eps), tol=1e-13, grad_tol=1e-8, **one_path(cpu_path))


def test_cross_entropy_non_contiguous_and_int_types(cpu_path, rng):
    x = rng.standard_normal((20, 9)).astype(np.float32)
    t = rng.integers(0, 9, 40).astype(np.int32)[::2]
    xt = np.asfortranarray(x)
    assert rel_err(nk.cross_entropy(xt, t), ref_cross_entropy(x, t)) <= 2e-6
    assert rel_err(nk.cross_entropy(x, t.astype(np.uint8), "sum"), ref_cross_entropy(x, t, "sum")) <= 2e-6


def test_bad_arguments():
    x = np.zeros((4, 5), np.float32)
    t = np.array([0, 1, 2, 3])
    with pytest.raises(ValueError, match="target.*5"):
        nk.cross_entropy(x, np.array([0, 1, 5, 2]))
    with pytest.raises(ValueError, match="target.*-1"):
        nk.cross_entropy(x, np.array([0, -1, 2, 2]))
    with pytest.raises(ValueError, match="target"):
        nk.cross_entropy_backward(1.0, x, np.array([0, 1, 9, 2]))
    with pytest.raises(TypeError, match="target"):
        nk.cross_entropy(x, t.astype(np.float32))
    with pytest.raises(ValueError, match="target has shape"):
        nk.cross_entropy(x, t[:3])
    with pytest.raises(ValueError, match="logits"):
        nk.cross_entropy(np.zeros(5, np.float32), t)
    with pytest.raises(ValueError, match="reduction"):
        nk.cross_entropy(x, t, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        nk.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="grad_out"):
        nk.cross_entropy_backward(np.ones(3), x, t, "none")
    with pytest.raises(ValueError, match="grad_out"):
        nk.cross_entropy_backward(np.ones(4), x, t, "mean")
    with pytest.raises(ValueError, match="axis"):
        nk.softmax(x, axis=2)
    with pytest.raises(ValueError, match="axis"):
        nk.log_softmax(x, axis=-3)
    with pytest.raises(ValueError, match="axis"):
        nk.softmax(x, axis=1.0)
    with pytest.raises(ValueError, match="grad_out has shape"):
        nk.softmax_backward(x[:2], x)
    with pytest.raises(TypeError, match="x has unsupported dtype"):
        nk.softmax(np.zeros(3, np.int64))


def test_large_parallel_matches_serial(rng):
    x = rng.standard_normal((300, 517)).astype(np.float32)
    before = nk.get_num_threads()
    try:
        nk.set_num_threads(1)
        a = (nk.softmax(x), nk.log_softmax(x, 0), nk.cross_entropy(x, rng.integers(0, 517, 300), "none"))
        nk.set_num_threads(2)
        b = (nk.softmax(x), nk.log_softmax(x, 0), nk.cross_entropy(x, rng.integers(0, 517, 300), "none"))
    finally:
        nk.set_num_threads(before)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


# ---- the Tensor ops through helpers.check_op (every CPU path, CPU and the (emulated) GPU) ----
@pytest.mark.parametrize("shape,axis", [((4, 7), -1), ((3, 5, 6), 1)])
def test_softmax_check_op(shape, axis):
    pytest.importorskip("torch")
    check_op([shape], lambda x: nk.softmax(x, axis), lambda x: torch.softmax(x, axis), atol=1e-12, rtol=1e-10)
    check_op([shape], lambda x: nk.log_softmax(x, axis), lambda x: torch.log_softmax(x, axis), atol=1e-12,
             rtol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_check_op(reduction):
    pytest.importorskip("torch")
    t = np.array([0, 3, 1, 2, 3])
    check_op([(5, 4)], lambda x: nk.cross_entropy(x, nk.tensor(t).to(x.device), reduction=reduction,
                                                  label_smoothing=0.1),
             lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(t), reduction=reduction, label_smoothing=0.1),
             atol=1e-12, rtol=1e-10)
