"""nnkernels.autograd.Function (user-written ops, torch.autograd.Function semantics),
nk.<op> on Tensors for every public op, and Tensors / Modules on the (emulated) GPU."""
import numpy as np
import pytest

import nnkernels as nk
from nnkernels import _cuda_ops as cuda_backend
from nnkernels import nn
from nnkernels.autograd import Function
from helpers import numgrad

torch = pytest.importorskip("torch")


def _t(*shape, seed=0):
    return nk.tensor(np.random.default_rng(seed + len(shape)).standard_normal(shape).astype(np.float64),
                     requires_grad=True)


def _w(*shape):
    return _t(*shape, seed=7)


# One call per differentiable public op, Tensors in; an op not listed here is called with one
# (3, 4) Tensor (an elementwise op needs no entry; any other signature fails until it has
# one). A new op in nnkernels.ops without a Tensor version fails
# test_every_public_op_is_covered.
EXAMPLES = {
    "leaky_relu": lambda: (_t(3, 4), 0.1), "log_softmax": lambda: (_t(3, 4), 0),
    "bias_act": lambda: (_t(2, 3, 4), _w(3), "tanh"),
    "matmul": lambda: (_t(3, 4), _w(4, 5)), "gemm": lambda: (_t(3, 4), _w(4, 5)),
    "conv2d": lambda: (_t(1, 2, 5, 5), _w(3, 2, 3, 3)), "conv_transpose2d": lambda: (_t(1, 2, 4, 4), _w(2, 3, 3, 3)),
    "max_pool2d": lambda: (_t(1, 2, 4, 4), 2), "avg_pool2d": lambda: (_t(1, 2, 4, 4), 2),
    "adaptive_avg_pool2d": lambda: (_t(1, 2, 5, 5), (2, 3)),
    "cross_entropy": lambda: (_t(4, 3), np.array([0, 1, 2, 1])),
    "scaled_dot_product_attention": lambda: (_t(1, 2, 4, 8), _w(1, 2, 4, 8), _t(1, 2, 4, 8, seed=3)),
    "lstm": lambda: (_t(3, 2, 4), _t(2, 5), _t(2, 5, seed=1), _w(20, 4), _w(20, 5)),
    "gru": lambda: (_t(3, 2, 4), _t(2, 5), _w(15, 4), _w(15, 5)),
    "lstm_cell": lambda: (_t(2, 4), _t(2, 5), _t(2, 5, seed=1), _w(20, 4), _w(20, 5)),
    "gru_cell": lambda: (_t(2, 4), _t(2, 5), _w(15, 4), _w(15, 5)),
}


def test_every_public_op_is_covered():
    diff = set(nk.autograd.DIFFERENTIABLE)
    assert set(EXAMPLES) <= diff, set(EXAMPLES) - diff
    rest = [n for n in nk.ops.__all__ if n not in diff]
    assert all(n.endswith("_backward") or n == "RNNCache" for n in rest), rest


@pytest.mark.parametrize("name", sorted(nk.autograd.DIFFERENTIABLE))
def test_public_op_given_a_tensor_keeps_the_graph(name):
    args = EXAMPLES.get(name, lambda: (_t(3, 4),))()
    out = getattr(nk, name)(*args)
    outs = out if isinstance(out, tuple) else (out,)
    assert all(isinstance(o, nk.Tensor) and o.requires_grad and o.grad_fn is not None for o in outs)
    sum(o.sum() for o in outs).backward()
    for a in args:
        if isinstance(a, nk.Tensor):
            assert a.grad is not None and a.grad.shape == a.shape and np.isfinite(a.grad.numpy()).all()
    # arrays in -> arrays out, the same values
    arr = getattr(nk, name)(*[a.data if isinstance(a, nk.Tensor) else a for a in args])
    arrs = arr if isinstance(arr, tuple) else (arr,)
    for o, a in zip(outs, arrs):
        assert type(a) is np.ndarray
        np.testing.assert_allclose(o.numpy(), a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in nk.ops.__all__ if n.endswith("_backward")][:4])
def test_array_only_ops_refuse_tensors(name):
    with pytest.raises(TypeError, match="Tensor"):
        getattr(nk.ops, name)(nk.tensor(np.ones((2, 3, 4, 4))), np.ones((2, 3, 4, 4)), np.ones((2, 3, 4, 4)))


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_on_tensors_matches_torch(trans_a, trans_b):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 3) if trans_a else (3, 4))
    b = rng.standard_normal((5, 4) if trans_b else (4, 5))
    c = rng.standard_normal((1, 5))
    ta, tb, tc = (nk.tensor(v, requires_grad=True) for v in (a, b, c))
    y = nk.gemm(ta, tb, tc, alpha=0.5, beta=2.0, trans_a=trans_a, trans_b=trans_b)
    (y * y).sum().backward()
    xa, xb, xc = (torch.tensor(v, requires_grad=True) for v in (a, b, c))
    ref = 0.5 * (xa.T if trans_a else xa) @ (xb.T if trans_b else xb) + 2.0 * xc
    (ref * ref).sum().backward()
    np.testing.assert_allclose(y.numpy(), ref.detach().numpy(), rtol=1e-12)
    for ours, theirs in ((ta, xa), (tb, xb), (tc, xc)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


# ---- user-written Functions ---------------------------------------------------------------

class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = nk.autograd.array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class ClampST(Function):
    """clamp with a straight-through gradient; lo/hi are not differentiable."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        return nk.autograd.array_module(x).clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        return g, None, None


def test_user_function_gradient_matches_finite_differences():
    x0 = np.random.default_rng(2).standard_normal((3, 4))
    w = np.random.default_rng(3).standard_normal((3, 4))
    x = nk.tensor(x0, requires_grad=True)
    (Exp.apply(x) * nk.tensor(w)).sum().backward()
    (fd,) = numgrad(lambda v: float((np.exp(v) * w).sum()), [x0.copy()])
    np.testing.assert_allclose(x.grad.numpy(), fd, rtol=1e-6, atol=1e-8)


def test_user_function_trains():
    # minimise sum((exp(p) - 2)^2): p -> log 2
    p = nk.tensor(np.zeros(5), requires_grad=True)
    opt = nk.optim.SGD([p], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        loss = ((ClampST.apply(Exp.apply(p), 0.0, 10.0) - 2.0) ** 2).sum()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(p.numpy(), np.log(2.0), atol=1e-4)


def test_function_semantics_match_torch():
    seen = {}

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen["ours"] = ctx.needs_input_grad
            ctx.save_for_backward(a, b)
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            ga = g * b * 3.0 if ctx.needs_input_grad[0] else None
            return ga, (g * a * 3.0 if ctx.needs_input_grad[1] else None), None

    class TMul(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen["torch"] = ctx.needs_input_grad
            ctx.save_for_backward(a, b)
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            ga = g * b * 3.0 if ctx.needs_input_grad[0] else None
            return ga, (g * a * 3.0 if ctx.needs_input_grad[1] else None), None

    a0, b0 = np.arange(1.0, 4.0), np.arange(4.0, 7.0)
    a, b = nk.tensor(a0, requires_grad=True), nk.tensor(b0)
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0)
    Mul.apply(a, b, 3.0).sum().backward()
    TMul.apply(ta, tb, 3.0).sum().backward()
    assert seen["ours"] == seen["torch"] == (True, False, False)
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())
    assert b.grad is None and tb.grad is None
    with nk.no_grad():
        y = Mul.apply(a, b, 3.0)
    assert not y.requires_grad and y.grad_fn is None


def test_function_several_outputs_and_mark_non_differentiable():
    class SortValues(Function):
        @staticmethod
        def forward(ctx, x):
            idx = np.argsort(x)
            ctx.save_for_backward(idx)
            ctx.mark_non_differentiable(idx)
            return x[idx], idx

        @staticmethod
        def backward(ctx, g, g_idx):
            (idx,) = ctx.saved_tensors
            assert g_idx is not None and not g_idx.any()  # the unused output's gradient: zeros
            out = np.zeros_like(g)
            out[idx] = g
            return out

    x = nk.tensor(np.array([3.0, 1.0, 2.0]), requires_grad=True)
    vals, idx = SortValues.apply(x)
    assert vals.requires_grad and not idx.requires_grad
    (vals * nk.tensor(np.array([1.0, 10.0, 100.0]))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 1.0, 10.0])


def test_function_backward_with_wrong_gradient_count_names_the_function():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="Bad.backward returned 1 gradient"):
        Bad.apply(nk.tensor(np.ones(2), requires_grad=True), 2.0).sum().backward()


# ---- devices (the CUDA emulator where there is no GPU) -------------------------------------

def test_cuda_errors_name_what_is_missing():
    if nk.cuda.is_available():
        pytest.skip("a GPU is usable here")
    with pytest.raises(RuntimeError, match="CUDA is not usable here: .*(_cuda|device|CuPy)"):
        nk.tensor([1.0]).to("cuda")
    with pytest.raises(RuntimeError, match="CUDA is not usable"):
        nn.Linear(2, 2).cuda()
    assert nk.tensor([1.0]).device == "cpu" and nk.tensor([1.0]).device.type == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        nk.tensor([1.0]).to("tpu")


@pytest.fixture
def gpu(monkeypatch):
    """CuPy and _cuda replaced by tests/_emulated_cuda.py unless a real GPU is usable."""
    if nk.cuda.is_available():
        import cupy
        return cupy
    import _emulated_cuda as emu

    mod = emu.make_cupy()
    kernels = emu.EmuKernels()
    monkeypatch.setattr(cuda_backend, "_cp", lambda: mod)
    monkeypatch.setattr(cuda_backend, "_k", lambda: kernels)
    monkeypatch.setattr(nk.cuda, "is_available", lambda: True)
    return mod


def test_tensor_to_cuda_and_back(gpu):
    x = nk.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    xc = x.to("cuda")
    assert xc.device == "cuda:0" and xc.device.type == "cuda" and type(xc.data) is gpu.ndarray
    assert x.cuda().device.type == "cuda" and xc.to("cuda") is xc and x.cpu() is x
    y = nk.relu(xc * 2.0 - 3.0)
    assert type(y.data) is gpu.ndarray
    back = y.cpu()
    assert type(back.data) is np.ndarray
    back.sum().backward()
    assert type(x.grad.data) is np.ndarray
    np.testing.assert_array_equal(x.grad.numpy(), np.where(np.arange(6.0).reshape(2, 3) * 2 - 3 > 0, 2.0, 0.0))


def _train(model, device, steps=5):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((16, 12)).astype(np.float32)
    Y = rng.standard_normal((16, 3)).astype(np.float32)
    model.to(device)
    opt = nk.optim.Adam(model.parameters(), lr=1e-2)
    sgd = nk.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    x, y = nk.tensor(X).to(device), nk.tensor(Y).to(device)
    for i in range(steps):
        o = opt if i % 2 else sgd
        o.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        o.step()
    return float(loss.cpu().item()), [p.cpu().numpy().copy() for p in model.parameters()]


def _model():
    nk.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3), nn.Tanh())


def test_training_on_cuda_gives_the_cpu_result(gpu):
    loss_cpu, params_cpu = _train(_model(), "cpu")
    m = _model()
    loss_gpu, params_gpu = _train(m, "cuda")
    assert all(p.device.type == "cuda" and type(p.data) is gpu.ndarray for p in m.parameters())
    np.testing.assert_allclose(loss_gpu, loss_cpu, rtol=1e-4)
    for a, b in zip(params_gpu, params_cpu):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    m.cpu()
    assert all(type(p.data) is np.ndarray for p in m.parameters())


def test_embedding_gradient_on_cuda_gives_the_cpu_result(gpu):
    """The CPU takes the C++ scatter-add; a CuPy table takes the array-module path."""
    idx = np.array([[3, 1, 3], [0, 4, 1]])
    grads = []
    for device in ("cpu", "cuda"):
        nk.manual_seed(0)
        emb = nn.Embedding(5, 4, padding_idx=0).to(device)
        w = nk.tensor(np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4)).to(device)
        (emb(nk.tensor(idx)) * w).sum().backward()
        grads.append(emb.weight.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)
    assert not grads[0][0].any() and grads[0][3].any()
