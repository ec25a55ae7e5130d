"""Autograd: every op's gradient by central finite differences in float64, plus the
Tensor API (grad accumulation, no_grad, detach, broadcasting) and torch cross-checks."""
import numpy as np
import pytest

import nnkernels as nk
from helpers import check_op
from nnkernels import autograd as ag
from nnkernels.nn import functional as F


def check_grad(fn, arrays, tol):
    """fn(*Tensors) -> Tensor: backward() against finite differences of our own forward
    (errors relative to the larger of 1 and the largest gradient), on every CPU path."""
    def ref(*arrs):
        with nk.no_grad():
            return fn(*[nk.tensor(a) for a in arrs]).numpy()
    check_op([np.asarray(a, np.float64) for a in arrays], fn, ref=ref, tol=1e-12, grad_tol=tol, floor=1.0,
             devices=("cpu",))


R = np.random.default_rng(42)


def rn(*s):
    return R.standard_normal(s)


def pos(*s):
    return R.uniform(0.5, 2.0, s)


ELEMENTWISE = {
    "add_bcast": (lambda a, b: a + b, [rn(3, 4), rn(4)]),
    "sub_bcast": (lambda a, b: a - b, [rn(3, 1), rn(1, 4)]),
    "mul_bcast": (lambda a, b: a * b, [rn(2, 3, 4), rn(3, 1)]),
    "div": (lambda a, b: a / b, [rn(3, 4), pos(3, 4)]),
    "pow_scalar": (lambda a: a ** 3, [rn(5)]),
    "pow_tensor": (lambda a, b: a ** b, [pos(4), rn(4)]),
    "rpow": (lambda a: 2.0 ** a, [rn(4)]),
    "neg": (lambda a: -a, [rn(3)]),
    "radd_rsub_rmul_rdiv": (lambda a: (1.0 - a) * 2.0 + 3.0 / a, [pos(4)]),
    "matmul_2d": (lambda a, b: a @ b, [rn(3, 5), rn(5, 2)]),
    "matmul_batched_bcast": (lambda a, b: a @ b, [rn(2, 3, 4), rn(4, 5)]),
    "matmul_vec": (lambda a, b: a @ b, [rn(4), rn(4, 3)]),
    "matmul_matvec": (lambda a, b: a @ b, [rn(3, 4), rn(4)]),
    "exp_log_sqrt": (lambda a: a.exp() + a.log() + a.sqrt(), [pos(5)]),
    "abs": (lambda a: a.abs(), [pos(5) * np.sign(rn(5))]),
    "clamp": (lambda a: a.clamp(-0.5, 0.5), [rn(20)]),
    "sum_axis": (lambda a: a.sum(axis=1), [rn(3, 4, 2)]),
    "sum_keepdims": (lambda a: a.sum(axis=(0, 2), keepdims=True), [rn(3, 4, 2)]),
    "sum_all": (lambda a: a.sum(), [rn(3, 4)]),
    "mean_axis": (lambda a: a.mean(dim=-1, keepdim=True), [rn(3, 4)]),
    "max_axis": (lambda a: a.max(axis=0), [rn(4, 5)]),
    "max_all": (lambda a: a.max(), [rn(4, 5)]),
    "var": (lambda a: a.var(axis=1), [rn(3, 6)]),
    "reshape_view": (lambda a: a.reshape(6, 2).view(3, 4), [rn(2, 6)]),
    "transpose": (lambda a: a.transpose(0, 2), [rn(2, 3, 4)]),
    "permute": (lambda a: a.permute(2, 0, 1), [rn(2, 3, 4)]),
    "T": (lambda a: a.T, [rn(3, 4)]),
    "getitem_slice": (lambda a: a[1:, ::2], [rn(4, 5)]),
    "getitem_int_neg": (lambda a: a[-1], [rn(4, 5)]),
    "getitem_fancy_dup": (lambda a: a[np.array([0, 2, 0])], [rn(4, 3)]),
    "getitem_bool": (lambda a: a[a.numpy() > 0], [rn(10)]),
    "cat": (lambda a, b: nk.cat([a, b], dim=1), [rn(2, 3), rn(2, 2)]),
    "stack": (lambda a, b: nk.stack([a, b], axis=1), [rn(2, 3), rn(2, 3)]),
    "relu": (lambda a: a.relu(), [rn(4, 5)]),
    "nk_relu": (lambda a: nk.relu(a), [rn(4, 5)]),
    "sigmoid": (lambda a: nk.sigmoid(a), [rn(4, 5)]),
    "tanh": (lambda a: a.tanh(), [rn(4, 5)]),
    "softmax": (lambda a: a.softmax(dim=-1), [rn(3, 5)]),
    "softmax_axis0": (lambda a: nk.softmax(a, 0), [rn(3, 5)]),
    "log_softmax": (lambda a: nk.log_softmax(a, axis=1), [rn(3, 5)]),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.2), [rn(4, 5)]),
    "gelu": (lambda a: F.gelu(a), [rn(4, 5)]),
    "gelu_tanh": (lambda a: F.gelu(a, "tanh"), [rn(4, 5)]),
    "where_maximum": (lambda a, b: nk.maximum(a, b) + nk.where(a.numpy() > 0, a, b), [rn(6), rn(6)]),
    "flatten_unsqueeze": (lambda a: a.flatten(1).unsqueeze(0).squeeze(0), [rn(2, 3, 4)]),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_tensor_op_gradients(name):
    fn, arrays = ELEMENTWISE[name]
    check_grad(fn, arrays, 1e-6)


NN_OPS = {
    "linear": (lambda x, w, b: F.linear(x, w, b), [rn(2, 3, 4), rn(5, 4), rn(5)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [rn(2, 3, 7, 6), rn(4, 3, 3, 3), rn(4)]),
    "conv2d_groups_dil": (lambda x, w: F.conv2d(x, w, None, 1, "same", 2, 2), [rn(1, 4, 6, 6), rn(2, 2, 3, 3)]),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                         [rn(2, 3, 4, 3), rn(3, 2, 3, 3), rn(2)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, 1), [rn(2, 2, 7, 7)]),
    "max_pool2d_ceil": (lambda x: F.max_pool2d(x, 2, ceil_mode=True), [rn(1, 2, 5, 5)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [rn(2, 2, 7, 6)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), [rn(2, 2, 7, 5)]),
    "cross_entropy": (lambda x: F.cross_entropy(x, np.array([0, 2, 1, 2])), [rn(4, 3)]),
    "cross_entropy_smooth_sum": (lambda x: F.cross_entropy(x, np.array([0, 2, 1]), "sum", 0.1), [rn(3, 3)]),
    "cross_entropy_probs": (lambda x: F.cross_entropy(x, np.full((2, 3), 1 / 3)), [rn(2, 3)]),
    "nll_loss": (lambda x: F.nll_loss(x.log_softmax(1), np.array([1, 0])), [rn(2, 3)]),
    "mse_loss": (lambda x, y: F.mse_loss(x, y), [rn(3, 2), rn(3, 2)]),
    "bce": (lambda x: F.binary_cross_entropy(x.sigmoid(), np.array([0., 1., 1.])), [rn(3)]),
    "bce_logits": (lambda x: F.binary_cross_entropy_with_logits(x, np.array([0., 1., 1.])), [rn(3)]),
    "pad": (lambda x: F.pad(x, (1, 2, 0, 1)), [rn(2, 3, 4)]),
    "embedding": (lambda w: F.embedding(np.array([[1, 3], [1, 0]]), w), [rn(4, 3)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b), [rn(3, 4), rn(4), rn(4)]),
    "batch_norm_train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                         [rn(4, 3, 2, 2), rn(3), rn(3)]),
    "sdpa": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [rn(2, 3, 4), rn(2, 5, 4), rn(2, 5, 3)]),
    "sdpa_causal": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                    [rn(1, 2, 4, 3), rn(1, 2, 4, 3), rn(1, 2, 4, 3)]),
    "lstm": (lambda x, h, c, wi, wh, bi, bh: nk.cat(F.lstm(x, h, c, wi, wh, bi, bh)[:1] +
                                                       tuple(t.unsqueeze(0) for t in F.lstm(x, h, c, wi, wh, bi, bh)[1:])),
             [rn(3, 2, 3), rn(2, 2), rn(2, 2), rn(8, 3), rn(8, 2), rn(8), rn(8)]),
    "gru": (lambda x, h, wi, wh, bi, bh: F.gru(x, h, wi, wh, bi, bh)[0] + F.gru(x, h, wi, wh, bi, bh)[1],
            [rn(3, 2, 3), rn(2, 2), rn(6, 3), rn(6, 2), rn(6), rn(6)]),
}


@pytest.mark.parametrize("name", sorted(NN_OPS))
def test_nn_function_gradients(name):
    fn, arrays = NN_OPS[name]
    check_grad(fn, arrays, 1e-5)


def test_grad_accumulates_and_zero():
    x = nk.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_shared_subexpression_and_reuse():
    x = nk.tensor(np.array([0.5, -1.5]), requires_grad=True)
    y = x * x
    z = y + y * x  # x^2 + x^3
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 3 * x.numpy() ** 2)


def test_no_grad_and_detach():
    x = nk.tensor([1.0, 2.0], requires_grad=True)
    with nk.no_grad():
        y = x * 2
    assert not y.requires_grad
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf

    @nk.no_grad()
    def f(t):
        return t * t
    assert not f(x).requires_grad
    assert (x * 2).requires_grad


def test_backward_errors():
    x = nk.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        (x * 2).backward()
    with pytest.raises(RuntimeError):
        nk.tensor([1.0]).backward()


def test_dtypes_and_constructors():
    assert nk.tensor([1.0, 2.0]).dtype == np.float32
    assert nk.tensor(np.zeros(2)).dtype == np.float64
    assert nk.tensor([1, 2]).dtype == np.int64
    a = np.ones(3, np.float32)
    t = nk.from_numpy(a)
    a[0] = 5
    assert t.numpy()[0] == 5
    x = nk.tensor(np.ones(3, np.float32), requires_grad=True)
    assert (x * 2.5 + 1).dtype == np.float32  # Python scalars do not upcast
    with pytest.raises(TypeError):
        nk.from_numpy([1, 2])


def test_top_level_names_dispatch_on_type():
    a = np.array([[-1.0, 2.0]])
    assert isinstance(nk.relu(a), np.ndarray)
    assert isinstance(nk.relu(nk.tensor(a)), nk.Tensor)
    assert isinstance(nk.softmax(a, axis=-1), np.ndarray)
    assert isinstance(nk.matmul(a, a.T), np.ndarray)
    assert isinstance(nk.matmul(nk.tensor(a), a.T), nk.Tensor)
    assert isinstance(nk.cat([a, a]), np.ndarray)


def test_long_chain_no_recursion_limit():
    x = nk.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.numpy()[0] == 1.0


def test_against_torch():
    pytest.importorskip("torch")
    a, b = rn(3, 4), rn(4, 5)
    check_op([a, b], lambda a, b: (a @ b).tanh().softmax(-1) * nk.tensor(b.numpy()[:3]),
             lambda a, b: (a @ b).tanh().softmax(-1) * b.detach()[:3], atol=1e-12, rtol=1e-10, devices=("cpu",))


def test_kernel_resolution_prefers_ops():
    assert ag.kernel("matmul") is nk.ops.matmul
    assert callable(ag.kernel("conv2d"))


def test_merged_ops_dispatch_on_type():
    """Top-level names of ops with a differentiable twin keep Tensors attached to the graph."""
    x, w = rn(1, 2, 5, 5), rn(3, 2, 3, 3)
    if "conv2d" in nk.ops.__all__:
        assert isinstance(nk.conv2d(x, w), np.ndarray)
        y = nk.conv2d(nk.tensor(x, requires_grad=True), nk.tensor(w))
        assert isinstance(y, nk.Tensor) and y.requires_grad
    if "cross_entropy" in nk.ops.__all__:
        assert isinstance(nk.cross_entropy(nk.tensor(rn(2, 3)), np.array([0, 1])), nk.Tensor)


def test_tensors_pickled_by_the_old_autograd_tensor_module_load():
    """Before core/, the Tensor lived in nnkernels.autograd.tensor: such pickles still load."""
    import pickle

    t = nk.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    old = pickle.dumps(t, protocol=0).replace(b"nnkernels.core.tensor", b"nnkernels.autograd.tensor")
    assert b"nnkernels.autograd.tensor" in old
    u = pickle.loads(old)
    assert isinstance(u, nk.Tensor) and u.requires_grad
    np.testing.assert_array_equal(u.numpy(), t.numpy())
    assert callable(nk.autograd.tensor)  # the attribute is still the factory function
