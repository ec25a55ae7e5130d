"""GEMM and matmul against float64 NumPy references."""
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nnkernels as nk
from conftest import TOL, rel_err
from helpers import check_op, one_path, threads, torch

# 1, primes, tile sizes ± 1 (MR=6, NR=16/8, MC=144/72, KC=256 on avx2/generic; MR=8, NR=32,
# MC=480, KC=256, NC=1024 for avx512's sgemm), tall-skinny, empty. avx512's sgemm reads a
# row-major A in place unless its row stride is a multiple of 4 KiB: K = 1024 packs it.
SHAPES = [
    (1, 1, 1), (2, 3, 5), (7, 11, 13), (17, 33, 65), (5, 15, 255), (6, 16, 256), (7, 17, 257),
    (143, 145, 31), (144, 9, 513), (1000, 37, 500), (4096, 3, 7), (3, 4096, 5), (0, 4, 3),
    (4, 0, 3), (4, 3, 0), (97, 101, 1), (489, 1041, 263), (19, 45, 1024),
]


def ref_gemm(a, b, c, alpha, beta, ta, tb):
    a = a.astype(np.float64).T if ta else a.astype(np.float64)
    b = b.astype(np.float64).T if tb else b.astype(np.float64)
    r = alpha * (a @ b)
    return r + beta * c if c is not None else r


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M,N,K", SHAPES)
def test_matmul_shapes(cpu_path, rng, dtype, M, N, K):
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    check_op([a, b], nk.matmul, ref=np.matmul, grad=False, arrays=True, tol=TOL[dtype] * max(1, np.sqrt(K) / 4),
             **one_path(cpu_path))


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_transposes_alpha_beta(cpu_path, rng, dtype, trans_a, trans_b):
    M, N, K = 37, 53, 301
    a = rng.standard_normal((K, M) if trans_a else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if trans_b else (K, N)).astype(dtype)
    c = rng.standard_normal((M, N)).astype(dtype)
    check_op([a, b, c], lambda a, b, c: nk.gemm(a, b, c, alpha=0.5, beta=-1.5, trans_a=trans_a, trans_b=trans_b),
             ref=lambda a, b, c: ref_gemm(a, b, c, 0.5, -1.5, trans_a, trans_b), grad=False, arrays=True,
             tol=TOL[dtype] * 4, **one_path(cpu_path))


def test_gemm_out_and_inplace_c(rng):
    a = rng.standard_normal((20, 30)).astype(np.float32)
    b = rng.standard_normal((30, 40)).astype(np.float32)
    c = rng.standard_normal((20, 40)).astype(np.float32)
    expect = ref_gemm(a, b, c, 2.0, 3.0, False, False)
    res = nk.gemm(a, b, c, alpha=2.0, beta=3.0, out=c)
    assert res is c
    assert rel_err(c, expect) <= 1e-5
    out = np.full((20, 40), np.nan, np.float32)
    assert nk.gemm(a, b, out=out) is out
    assert rel_err(out, a.astype(np.float64) @ b) <= 1e-5


def test_gemm_beta_zero_ignores_nan_c(rng):
    a = rng.standard_normal((8, 9))
    b = rng.standard_normal((9, 10))
    out = np.full((8, 10), np.nan)
    nk.gemm(a, b, out, beta=0.0, out=out)
    assert np.isfinite(out).all()


def test_gemm_broadcast_c_bias(rng):
    a = rng.standard_normal((8, 9))
    b = rng.standard_normal((9, 10))
    bias = rng.standard_normal(10)
    check_op([a, b, bias], lambda a, b, bias: nk.gemm(a, b, bias, beta=1.0), ref=lambda a, b, bias: a @ b + bias,
             grad=False, arrays=True, tol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_noncontiguous_and_negative_strides(cpu_path, rng, dtype):
    big_a = rng.standard_normal((90, 140)).astype(dtype)
    big_b = rng.standard_normal((150, 120)).astype(dtype)
    a = big_a[::-2, 3::3]          # (45, 46), negative row stride
    b = big_b[1:47, ::-5].T.T      # (46, 24)
    b = b[:, ::-1]
    assert not a.flags.c_contiguous and not b.flags.c_contiguous
    assert rel_err(nk.matmul(a, b), a.astype(np.float64) @ b) <= TOL[dtype] * 4
    out_big = np.zeros((45, 48), dtype)
    out = out_big[:, ::2]          # non-contiguous out
    nk.matmul(a, b, out=out)
    assert rel_err(out, a.astype(np.float64) @ b) <= TOL[dtype] * 4
    assert np.all(out_big[:, 1::2] == 0)
    a = big_a[::-3, 5:51]          # (30, 46), negative row stride, unit column stride
    assert a.strides[0] < 0 and a.strides[1] == a.itemsize
    assert rel_err(nk.matmul(a, b), a.astype(np.float64) @ b) <= TOL[dtype] * 4


def test_matmul_out_in_place_and_in_a_shared_buffer(rng):
    a = rng.standard_normal((33, 20)).astype(np.float32)
    b = rng.standard_normal((20, 33)).astype(np.float32)
    out = np.full((33, 33), np.nan, np.float32)
    assert nk.matmul(a, b, out=out) is out
    assert rel_err(out, a.astype(np.float64) @ b) <= TOL[np.float32] * 2
    buf = rng.standard_normal(33 * 20 + 33 * 33).astype(np.float32)
    x, res = buf[:660].reshape(33, 20), buf[660:].reshape(33, 33)  # one buffer, apart
    expect = x.astype(np.float64) @ b
    assert nk.matmul(x, b, out=res) is res
    assert rel_err(res, expect) <= TOL[np.float32] * 2


def test_out_aliasing_input(rng):
    a = rng.standard_normal((16, 16))
    b = rng.standard_normal((16, 16))
    expect = a @ b
    nk.matmul(a, b, out=a)
    assert rel_err(a, expect) <= 1e-12


def test_matmul_1d(rng):
    a = rng.standard_normal(7)
    b = rng.standard_normal((7, 5))
    m = rng.standard_normal((5, 7))
    batch = rng.standard_normal((3, 4, 7))
    b3 = rng.standard_normal((3, 7, 2))
    for x, y in ((a, b), (m, a), (a, a), (batch, a), (a, b3)):  # shapes (5,), (5,), (), (3, 4), (3, 2)
        check_op([x, y], nk.matmul, ref=np.matmul, grad=False, arrays=True, tol=1e-12)


@pytest.mark.parametrize("sa,sb", [
    ((4, 5, 6), (4, 6, 7)), ((1, 5, 6), (3, 6, 7)), ((2, 1, 5, 6), (3, 6, 7)),
    ((5, 6), (2, 3, 6, 7)), ((2, 3, 5, 6), (6, 7)), ((0, 5, 6), (6, 7)), ((256, 64, 64), (256, 64, 64)),
    ((3, 1, 1), (3, 1, 1)),
])
def test_matmul_batched_broadcast(cpu_path, rng, sa, sb):
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    check_op([a, b], nk.matmul, ref=np.matmul, grad=False, arrays=True, tol=1e-5, **one_path(cpu_path))


def test_matmul_batched_strided_views(rng):
    a = rng.standard_normal((6, 9, 10)).transpose(0, 2, 1)[::2]     # (3, 10, 9)
    b = rng.standard_normal((9, 3, 4)).transpose(1, 0, 2)           # (3, 9, 4)
    out = np.empty((3, 10, 4))
    nk.matmul(a, b, out=out)
    assert rel_err(out, a @ b) <= 1e-12


def test_mixed_dtypes_promote(rng):
    a = rng.standard_normal((5, 6)).astype(np.float32)
    b = rng.standard_normal((6, 3))
    assert nk.matmul(a, b).dtype == np.float64


def test_errors_name_shapes_and_dtypes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 6\)"):
        nk.matmul(np.ones((3, 4)), np.ones((5, 6)))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 6\)"):
        nk.gemm(np.ones((3, 4)), np.ones((5, 6)))
    with pytest.raises(TypeError, match="int64"):
        nk.matmul(np.ones((3, 4), np.int64), np.ones((4, 2)))
    with pytest.raises(TypeError, match="complex128"):
        nk.gemm(np.ones((3, 4)), np.ones((4, 2), complex))
    with pytest.raises(ValueError, match="out has shape"):
        nk.matmul(np.ones((3, 4)), np.ones((4, 2)), out=np.empty((2, 3)))
    with pytest.raises(ValueError, match="out has dtype"):
        nk.matmul(np.ones((3, 4)), np.ones((4, 2)), out=np.empty((3, 2), np.float32))
    ro = np.empty((3, 2))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        nk.matmul(np.ones((3, 4)), np.ones((4, 2)), out=ro)
    with pytest.raises(ValueError, match="2-D"):
        nk.gemm(np.ones(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match="beta"):
        nk.gemm(np.ones((3, 4)), np.ones((4, 2)), beta=1.0)
    with pytest.raises(ValueError, match="broadcast"):
        nk.matmul(np.ones((2, 3, 4)), np.ones((5, 4, 2)))
    with pytest.raises(ValueError, match="1-D"):
        nk.matmul(np.float64(2.0), np.ones((3,)))


def test_reference_kernel_agrees(rng):
    a = rng.standard_normal((13, 29)).astype(np.float32)
    b = rng.standard_normal((29, 7)).astype(np.float32)

    def naive(a, b):
        out = np.empty((13, 7), np.float32)
        nk._C.gemm_ref(a.astype(np.float32), b.astype(np.float32), out)
        return out
    check_op([a, b], nk.matmul, ref=naive, grad=False, arrays=True, tol=1e-5)


@settings(max_examples=40, deadline=None)
@given(M=st.integers(0, 70), N=st.integers(0, 70), K=st.integers(0, 300),
       ta=st.booleans(), tb=st.booleans(), alpha=st.floats(-2, 2), beta=st.sampled_from([0.0, 1.0, -0.5]),
       f64=st.booleans())
def test_gemm_property(M, N, K, ta, tb, alpha, beta, f64):
    dtype = np.float64 if f64 else np.float32
    r = np.random.default_rng(M * 10007 + N * 101 + K)
    a = r.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    b = r.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    c = r.standard_normal((M, N)).astype(dtype)
    # the error relative to the larger of 1 and the largest |ref|
    check_op([a, b, c], lambda a, b, c: nk.gemm(a, b, c, alpha=alpha, beta=beta, trans_a=ta, trans_b=tb),
             ref=lambda a, b, c: ref_gemm(a, b, c, alpha, beta, ta, tb), grad=False, arrays=True,
             tol=TOL[dtype] * 10 * max(1, np.sqrt(K)), floor=1.0)


def test_four_threads_at_once(rng):
    mats = [(rng.standard_normal((150 + i, 170)).astype(np.float32),
             rng.standard_normal((170, 130 - i)).astype(np.float32)) for i in range(4)]
    results = [None] * 4
    errors = []

    def work(i):
        try:
            for _ in range(5):
                results[i] = nk.matmul(*mats[i])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for (a, b), r in zip(mats, results):
        assert rel_err(r, a.astype(np.float64) @ b) <= 1e-5


@pytest.mark.parametrize("M,N,K", [(1000, 45, 600), (489, 1041, 263), (600, 40, 1024), (40, 300, 70)])
def test_same_bits_on_one_and_two_threads(cpu_path, rng, M, N, K):
    # Two threads claim the A blocks from a counter (by rows; K = 1024 packs A on avx512, the
    # others read it in place) or split the strips (small M):
    # either way each C tile is computed once, by one thread, in the same order, so the
    # result is bit for bit the one-thread result, beta·C applied exactly once.
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    c = rng.standard_normal((M, N)).astype(np.float32)
    out = {}
    for n in (1, 2):
        with threads(n):
            out[n] = nk.gemm(a, b, c, alpha=0.5, beta=2.0)
    np.testing.assert_array_equal(out[1], out[2])
    assert rel_err(out[2], ref_gemm(a, b, c, 0.5, 2.0, False, False)) <= 1e-5


def test_matches_torch_when_installed(rng):
    pytest.importorskip("torch")
    a = rng.standard_normal((3, 65, 31)).astype(np.float32)
    b = rng.standard_normal((3, 31, 17)).astype(np.float32)
    check_op([a, b], nk.matmul, torch.matmul, grad=False, arrays=True, tol=1e-5)


# ---- the Tensor ops through helpers.check_op (every CPU path, CPU and the (emulated) GPU) ----
@pytest.mark.parametrize("sa,sb", [((5, 7), (7, 3)), ((2, 5, 7), (7, 3)), ((2, 1, 5, 7), (3, 7, 4)), ((7,), (7, 3))])
def test_matmul_check_op(sa, sb):
    pytest.importorskip("torch")
    check_op([sa, sb], lambda a, b: nk.matmul(a, b), lambda a, b: a @ b, atol=1e-12, rtol=1e-10)


def test_linear_check_op():
    pytest.importorskip("torch")
    check_op([(4, 3, 6), (5, 6), (5,)], lambda x, w, b: nk.nn.functional.linear(x, w, b),
             lambda x, w, b: torch.nn.functional.linear(x, w, b), atol=1e-12, rtol=1e-10)
