"""The layers added for Keras programs (global 1D pooling, Bidirectional, TimeDistributed,
UpSampling2D, ZeroPadding2D, Cropping2D, DepthwiseConv2D, SeparableConv2D), each against real
Keras 3 with copied weights: outputs, weight names and shapes, and the input gradient of the
summed output (Keras's torch backend gives it through torch.autograd); NumPy references for
the weightless ones."""
import numpy as np
import pytest

import nnkernels as nk
import nnkernels.keras as N
from keras_twin import KERAS_WARNINGS, close, need_keras, to_np

pytestmark = KERAS_WARNINGS
R = np.random.default_rng(17)

CASES = {
    "gap1d": (lambda L: L.layers.GlobalAveragePooling1D(), (5, 3)),
    "gmp1d": (lambda L: L.layers.GlobalMaxPooling1D(), (5, 3)),
    "bidir_lstm": (lambda L: L.layers.Bidirectional(L.layers.LSTM(3, return_sequences=True)), (5, 2)),
    "bidir_gru_sum": (lambda L: L.layers.Bidirectional(L.layers.GRU(3), merge_mode="sum"), (5, 2)),
    "time_distributed": (lambda L: L.layers.TimeDistributed(L.layers.Dense(4, activation="tanh")), (5, 3)),
    "time_distributed_conv": (lambda L: L.layers.TimeDistributed(L.layers.Conv2D(2, 3)), (3, 5, 5, 2)),
    "upsampling": (lambda L: L.layers.UpSampling2D((2, 3)), (3, 4, 2)),
    "zeropad": (lambda L: L.layers.ZeroPadding2D(((1, 2), (0, 3))), (3, 4, 2)),
    "crop": (lambda L: L.layers.Cropping2D(((1, 0), (1, 2))), (5, 6, 2)),
    "depthwise": (lambda L: L.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), (6, 5, 3)),
    "depthwise_strided": (lambda L: L.layers.DepthwiseConv2D((3, 2), strides=2), (7, 6, 2)),
    "separable": (lambda L: L.layers.SeparableConv2D(4, 3, padding="same", depth_multiplier=2,
                                                     activation="relu"), (6, 5, 3)),
}


def _grad_keras(layer, x):
    import torch
    t = torch.tensor(x, requires_grad=True)
    y = layer(t)
    y.sum().backward()
    return y.detach().numpy(), t.grad.numpy()


def _grad_ours(layer, x):
    t = nk.Tensor(x, requires_grad=True)
    y = layer(t)
    y.sum().backward()
    return y.numpy(), t.grad.numpy() if hasattr(t.grad, "numpy") else np.asarray(t.grad)


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_matches_keras_with_copied_weights(name):
    K = need_keras()
    make, shape = CASES[name]
    k, n = make(K), make(N)
    x = R.standard_normal((2,) + shape).astype(np.float32)
    k(x)
    n(x)
    kw = k.get_weights()
    assert [w.shape for w in n.get_weights()] == [w.shape for w in kw]
    assert [v.name for v in n.weights] == [v.name for v in k.weights]
    kw = [w + (R.standard_normal(w.shape) * 0.3).astype(np.float32) for w in kw]
    k.set_weights(kw)
    n.set_weights(kw)
    yk, gk = _grad_keras(k, x)
    yn, gn = _grad_ours(n, x)
    close(yn, yk, 1e-5)
    close(gn, gk, 1e-4)


def test_shape_layers_numpy():
    x = R.standard_normal((2, 3, 4, 2)).astype(np.float32)
    up = N.layers.UpSampling2D(2)(x).numpy()
    assert np.array_equal(up, x.repeat(2, 1).repeat(2, 2))
    pad = N.layers.ZeroPadding2D(1)(x).numpy()
    assert np.array_equal(pad, np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))))
    assert np.array_equal(N.layers.Cropping2D(((1, 1), (0, 2)))(x).numpy(), x[:, 1:2, 0:2])
    s = R.standard_normal((2, 5, 3)).astype(np.float32)
    assert np.allclose(N.layers.GlobalAveragePooling1D()(s).numpy(), s.mean(1), atol=1e-6)
    assert np.array_equal(N.layers.GlobalMaxPooling1D()(s).numpy(), s.max(1))
    with pytest.raises(ValueError, match="Cropping2D: cropping"):
        N.layers.Cropping2D(((2, 1), (0, 0)))(x)
    with pytest.raises(ValueError, match="Bidirectional: expected an LSTM or GRU"):
        N.layers.Bidirectional(N.layers.Dense(3))


def test_depthwise_conv_numpy():
    x = R.standard_normal((1, 4, 4, 2))
    d = N.layers.DepthwiseConv2D(3, depth_multiplier=2)
    d(x.astype(np.float32))
    k, b = (w.astype(np.float64) for w in d.get_weights())
    assert k.shape == (3, 3, 2, 2) and b.shape == (4,)
    out = d(x.astype(np.float32)).numpy()
    ref = np.einsum("hwc,hwcm->cm", x[0, 1:4, 0:3], k).reshape(-1) + b
    assert np.allclose(out[0, 1, 0], ref, atol=1e-5)


@pytest.mark.parametrize("kw", [{}, {"value_dim": 4, "output_shape": 5}, {"use_bias": False}])
def test_multi_head_attention_weights_match_keras(kw):
    K = need_keras()
    q = R.standard_normal((2, 4, 6)).astype(np.float32)
    v = R.standard_normal((2, 3, 7)).astype(np.float32)
    k, n = K.layers.MultiHeadAttention(2, 3, **kw), N.layers.MultiHeadAttention(2, 3, **kw)
    k(q, v)
    n(q, v)
    kw_ = [w + (R.standard_normal(w.shape) * 0.3).astype(np.float32) for w in k.get_weights()]
    assert [w.shape for w in n.get_weights()] == [w.shape for w in kw_]
    assert [v_.path.split("/", 1)[1] for v_ in n.weights] == [v_.path.split("/", 1)[1] for v_ in k.weights]
    k.set_weights(kw_)
    n.set_weights(kw_)
    close(n(q, v), to_np(k(q, v)), 1e-5)
    mask = R.random((2, 4, 3)) > 0.3
    mask[:, :, 0] = True
    close(n(q, v, attention_mask=mask), to_np(k(q, v, attention_mask=mask)), 1e-5)
