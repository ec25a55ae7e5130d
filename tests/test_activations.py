"""Elementwise activations, their backwards and the fused bias_act, against float64
NumPy references, PyTorch when importable, and finite differences."""
import math

import numpy as np
import pytest

import nnkernels as nk
from helpers import check_op, one_path, rel_err, torch

_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])
K = math.sqrt(2 / math.pi)


def ref_act(name, x, slope=0.01):
    x = np.asarray(x, np.float64)
    if name is None:
        return x
    if name == "relu":
        return np.where(x < 0, 0.0, x)
    if name == "leaky_relu":
        return np.where(x < 0, slope * x, x)
    if name == "sigmoid":
        return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))
    if name == "tanh":
        return np.tanh(x)
    if name == "gelu":
        return x * 0.5 * _erfc(-x / math.sqrt(2))
    if name == "gelu_tanh":
        return x / (1 + np.exp(-2 * K * (x + 0.044715 * x ** 3)))  # = ½x(1 + tanh u), no cancellation
    raise AssertionError(name)


def call(name, x, slope=0.01):
    if name == "leaky_relu":
        return nk.leaky_relu(x, slope)
    if name == "gelu":
        return nk.gelu(x)
    if name == "gelu_tanh":
        return nk.gelu(x, approximate="tanh")
    return getattr(nk, name)(x)


def call_backward(name, g, x, slope=0.01):
    """Backward from x: sigmoid/tanh take the output y, like torch."""
    if name == "relu":
        return nk.relu_backward(g, x)
    if name == "leaky_relu":
        return nk.leaky_relu_backward(g, x, slope)
    if name == "sigmoid":
        return nk.sigmoid_backward(g, nk.sigmoid(x))
    if name == "tanh":
        return nk.tanh_backward(g, nk.tanh(x))
    if name == "gelu":
        return nk.gelu_backward(g, x)
    return nk.gelu_backward(g, x, approximate="tanh")


def ref_act_grad(name, x, slope=0.01):
    """d ref_act / dx in float64."""
    x = np.asarray(x, np.float64)
    if name is None:
        return np.ones_like(x)
    if name == "relu":
        return (x > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(x < 0, slope, 1.0)
    if name == "sigmoid":
        s = ref_act("sigmoid", x)
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(x) ** 2
    if name == "gelu":
        return 0.5 * _erfc(-x / math.sqrt(2)) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    if name == "gelu_tanh":
        s = ref_act("sigmoid", 2 * K * (x + 0.044715 * x ** 3))
        return s + x * s * (1 - s) * 2 * K * (1 + 3 * 0.044715 * x * x)
    raise AssertionError(name)


def torch_act(name, slope=0.01):
    F = torch.nn.functional
    return {"relu": torch.relu, "leaky_relu": lambda t: F.leaky_relu(t, slope), "sigmoid": torch.sigmoid,
            "tanh": torch.tanh, "gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, approximate="tanh")}[name]


NAMES = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh"]
SIZES = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 1000, 65537]  # tails of 8- and 16-lane vectors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_forward(cpu_path, rng, dtype, n, name):
    x = (rng.standard_normal(n) * 4).astype(dtype)
    # float64: within 1e-14 of the largest value. float32: each entry within a few ulp of its
    # own size (plus a floor near 0); deep in the tails exp(t) inherits |t|·ulp from the
    # float32 argument t, hence 4e-6. The device (the emulator's float64 formulas cancel
    # in the far tails) for float32.
    tols = dict(tol=1e-14) if dtype == np.float64 else dict(rtol=4e-6, atol=4e-12 * max(1, np.abs(x).max(initial=0)))
    check_op([x], lambda x: call(name, x, 0.1), ref=lambda x: ref_act(name, x, 0.1), grad=False, arrays=True,
             **tols, **one_path(cpu_path, device=dtype == np.float32))


def test_forward_wide_range_and_special(cpu_path):
    x = np.concatenate([np.linspace(-120, 120, 4801), [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 1e30,
                                                         -1e30]]).astype(np.float32)
    for name in NAMES:  # NaN where the reference has NaN, the same infinities, 2e-6 relative elsewhere
        with np.errstate(all="ignore"):
            check_op([x], lambda x: call(name, x), ref=lambda x: ref_act(name, x), grad=False, arrays=True,
                     rtol=2e-6, atol=2e-12, paths=[cpu_path], devices=("cpu",))


def test_vs_torch(cpu_path, rng):
    pytest.importorskip("torch")
    x = (rng.standard_normal(10007) * 5).astype(np.float32)
    for name in NAMES:
        check_op([x], lambda x: call(name, x, 0.2), torch_act(name, 0.2), tol=1e-6, grad_tol=2e-6,
                 **one_path(cpu_path))


@pytest.mark.parametrize("name", NAMES)
def test_backward_fd(cpu_path, rng, name):
    x = rng.standard_normal(37) * 3
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kinks of relu / leaky_relu
    # finite differences of the float64 reference, then of our own forward
    check_op([x], lambda x: call(name, x), ref=lambda x: ref_act(name, x), tol=1e-14, grad_tol=1e-8,
             **one_path(cpu_path))
    check_op([x], lambda x: call(name, x), ref=lambda x: call(name, x), tol=0, grad_tol=1e-7, paths=[cpu_path],
             devices=("cpu",))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 9, 70001])
def test_backward_float32(cpu_path, rng, name, n):
    x = (rng.standard_normal(n) * 3).astype(np.float32)

    def ref_grad(w, x):  # sigmoid/tanh from the same float32 y (1 - y² cancels when |y| ≈ 1)
        if name in ("sigmoid", "tanh"):
            y = call(name, x.astype(np.float32)).astype(np.float64)
            return [w * (y * (1 - y) if name == "sigmoid" else 1 - y * y)]
        return [w * ref_act_grad(name, x)]
    check_op([x], lambda x: call(name, x), ref=lambda x: ref_act(name, x), ref_grad=ref_grad, tol=2e-6,
             **one_path(cpu_path, device=name not in ("sigmoid", "tanh")))


def test_non_contiguous_and_shapes(cpu_path, rng):
    base = rng.standard_normal((20, 30, 4)).astype(np.float32)
    x = base[::2, ::-3].transpose(2, 0, 1)
    for name in NAMES:
        y = call(name, x)
        assert y.shape == x.shape and y.flags.c_contiguous
        np.testing.assert_array_equal(y, call(name, np.ascontiguousarray(x)))
        g = np.ones_like(x)[:, ::-1]
        np.testing.assert_array_equal(call_backward(name, g, x),
                                      call_backward(name, np.ascontiguousarray(g), np.ascontiguousarray(x)))
    assert nk.relu(np.float32(-2.0)).shape == ()
    assert nk.sigmoid(np.zeros((3, 0), np.float64)).shape == (3, 0)


# ---- fused bias + activation -----------------------------------------------------------
def ref_bias_act(x, b, act, axis, dtype=np.float64, slope=0.2):
    """act(x + b along axis), the pre-activation rounded to dtype (the kernel adds in dtype)."""
    bshape = [1] * x.ndim
    bshape[axis] = x.shape[axis]
    return ref_act(act, (x + b.reshape(bshape)).astype(dtype), slope)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", [((4, 7), 1), ((2, 5, 3, 3), 1), ((2, 17, 600), 1), ((9,), 0),
                                        ((3, 4, 5), -1), ((3, 4, 5), 0), ((64, 4099), 1), ((1, 1), 1),
                                        ((0, 3), 1), ((32, 64, 13, 13), 1)])
@pytest.mark.parametrize("act", [None, "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh"])
def test_bias_act(cpu_path, rng, dtype, shape, axis, act):
    x = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape[axis]).astype(dtype)
    check_op([x, b], lambda x, b: nk.bias_act(x, b, act, axis=axis, negative_slope=0.2),
             ref=lambda x, b: ref_bias_act(x, b, act, axis, dtype), grad=False, arrays=True,
             tol=2e-6 if dtype == np.float32 else 1e-14, **one_path(cpu_path))


@pytest.mark.parametrize("act", [None, "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh"])
@pytest.mark.parametrize("shape,axis", [((3, 4), 1), ((2, 3, 2, 2), 1), ((5,), 0)])
def test_bias_act_backward_fd(cpu_path, rng, act, shape, axis):
    x = rng.standard_normal(shape) + 0.05
    b = rng.standard_normal(shape[axis]) * 0.3
    check_op([x, b], lambda x, b: nk.bias_act(x, b, act, axis, 0.2), ref=lambda x, b: ref_bias_act(x, b, act, axis),
             tol=1e-14, grad_tol=1e-7, **one_path(cpu_path))


def test_bad_arguments():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="bias has shape"):
        nk.bias_act(x, np.zeros(2, np.float32), "relu")
    with pytest.raises(ValueError, match="axis"):
        nk.bias_act(x, np.zeros(3, np.float32), "relu", axis=2)
    with pytest.raises(ValueError, match="activation"):
        nk.bias_act(x, np.zeros(3, np.float32), "swish")
    with pytest.raises(ValueError, match="approximate"):
        nk.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="negative_slope"):
        nk.leaky_relu(x, float("nan"))
    with pytest.raises(ValueError, match="grad_out has shape"):
        nk.relu_backward(np.zeros((3, 2), np.float32), x)
    with pytest.raises(ValueError, match="grad_out has shape"):
        nk.bias_act_backward(np.zeros((3, 2), np.float32), x, np.zeros(3, np.float32), "relu")
    with pytest.raises(TypeError, match="x has unsupported dtype"):
        nk.relu(np.zeros(3, np.int32))
    with pytest.raises(TypeError, match="y has unsupported dtype"):
        nk.tanh_backward(np.zeros(3, np.float32), np.zeros(3, np.int8))
    with pytest.raises(ValueError, match="x must be at least 1-D"):
        nk.bias_act(np.float32(1), np.zeros(1, np.float32))


def test_calls_from_several_threads(rng):
    import threading

    x = rng.standard_normal((64, 32, 13, 13)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    expect = (nk.bias_act(x, b, "gelu"), nk.softmax(x, 1), nk.max_pool2d(x, 2))
    errors = []

    def work():
        for _ in range(5):
            got = (nk.bias_act(x, b, "gelu"), nk.softmax(x, 1), nk.max_pool2d(x, 2))
            if not all(np.array_equal(g, e) for g, e in zip(got, expect)):
                errors.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ---- the Tensor ops through helpers.check_op (every CPU path, CPU and the (emulated) GPU) ----
@pytest.mark.parametrize("name,ours,theirs", [
    ("relu", lambda x: nk.relu(x), lambda x: torch.relu(x)),
    ("leaky_relu", lambda x: nk.leaky_relu(x, 0.2), lambda x: torch.nn.functional.leaky_relu(x, 0.2)),
    ("sigmoid", lambda x: nk.sigmoid(x), lambda x: torch.sigmoid(x)),
    ("tanh", lambda x: nk.tanh(x), lambda x: torch.tanh(x)),
    ("gelu", lambda x: nk.gelu(x), lambda x: torch.nn.functional.gelu(x)),
    ("gelu_tanh", lambda x: nk.gelu(x, "tanh"), lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
])
def test_activation_check_op(name, ours, theirs):
    pytest.importorskip("torch")
    assert check_op([(7, 9)], ours, theirs, atol=1e-12, rtol=1e-10) >= 2


def test_bias_act_check_op():
    pytest.importorskip("torch")
    check_op([(2, 3, 4), (3,)], lambda x, b: nk.bias_act(x, b, "gelu"),
             lambda x, b: torch.nn.functional.gelu(x + b[:, None]), atol=1e-12, rtol=1e-10)


# ---- silu (SiLU / swish): the op added end to end as CONTRIBUTING's "Adding an op" walks it ----
def _silu_ref(x):
    return np.asarray(x, np.float64) * ref_act("sigmoid", x)


def test_silu_check_op():
    """Every CPU path and the (emulated) GPU: silu is activation code 7 of the act kernels."""
    n = check_op([(7, 9)], lambda x: nk.silu(x), torch.nn.functional.silu if torch else None,
                 atol=1e-12, rtol=1e-10, ref=_silu_ref, low=-12.0, high=12.0)
    assert n >= 2 * len(nk.cpu_paths())
    check_op([(2, 3, 5)], lambda x: nk.nn.SiLU()(x), torch.nn.SiLU() if torch else None, atol=1e-12,
             rtol=1e-10, ref=_silu_ref)


def test_bias_act_silu_is_the_fused_silu():
    check_op([(2, 3, 4), (3,)], lambda x, b: nk.bias_act(x, b, "silu"),
             (lambda x, b: torch.nn.functional.silu(x + b[:, None])) if torch else None, atol=1e-12, rtol=1e-10,
             ref=lambda x, b: _silu_ref(np.asarray(x, np.float64) + np.asarray(b, np.float64)[:, None]))


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float64, 1e-14)])
def test_silu_arrays_against_float64_on_every_path(dtype, tol):
    x = np.concatenate([np.linspace(-90, 90, 70001), [0.0, -0.0, 1e-30, -1e-30, -700.0, 700.0]]).astype(dtype)
    g = np.random.default_rng(4).standard_normal(x.shape).astype(dtype)
    x64 = x.astype(np.float64)
    s = ref_act("sigmoid", x64)
    want_y, want_gx = x64 * s, g * s * (1 + x64 * (1 - s))
    old = nk.cpu_path()
    for path in nk.cpu_paths():
        nk.set_cpu_path(path)
        try:
            y, gx = nk.silu(x), nk.silu_backward(g, x)
        finally:
            nk.set_cpu_path(old)
        assert y.dtype == dtype and gx.dtype == dtype and np.isfinite(y).all() and np.isfinite(gx).all()
        assert rel_err(y, want_y) < tol, path
        assert np.max(np.abs(gx - want_gx) / (np.abs(want_gx) + np.abs(g))) < 4 * tol, path


def test_silu_strided_and_empty_inputs():
    x = np.random.default_rng(5).standard_normal((6, 8))[:, ::2].T  # non-contiguous view
    np.testing.assert_allclose(nk.silu(x), _silu_ref(x), rtol=1e-14)
    assert nk.silu(np.zeros((0, 3))).shape == (0, 3)
    assert nk.silu_backward(np.zeros((2, 0)), np.zeros((2, 0))).shape == (2, 0)


def test_silu_bad_input_names_the_op():
    with pytest.raises(TypeError, match="silu: x has unsupported dtype int64"):
        nk.silu(np.arange(4))
    with pytest.raises(ValueError, match=r"silu_backward: grad_out has shape \(2, 3\) but x has shape \(3, 2\)"):
        nk.silu_backward(np.ones((2, 3)), np.ones((3, 2)))


def test_an_op_without_a_cuda_kernel_names_it_on_cupy():
    from helpers import on_device

    with on_device("cuda"):
        x = nk.tensor(np.ones((1, 1, 4, 4))).to("cuda").data
        w = nk.tensor(np.ones((1, 1, 3, 3))).to("cuda").data
        if nk.cuda.is_available() and hasattr(nk._cuda_ops, "conv2d_forward"):
            pytest.skip("this build has a CUDA conv2d")
        with pytest.raises(TypeError, match="conv2d: x is a CuPy array, and this op has no CUDA kernel yet"):
            nk.conv2d(x, w)


def test_functional_silu_is_the_tensor_op():
    x = np.linspace(-5, 5, 12).reshape(3, 4)
    y = nk.nn.functional.silu(x)  # arrays in: a Tensor out, like the other F.* functions
    assert isinstance(y, nk.Tensor)
    np.testing.assert_allclose(y.numpy(), _silu_ref(x), rtol=1e-14)
