"""The embedding gradient (csrc/embedding/embedding.cpp): rows of the output gradient summed
per index, against float64 np.add.at; padding_idx; empty inputs; bad indices."""
import numpy as np
import pytest

import nnkernels as nk
from helpers import check_op
from nnkernels import _C


def ref(idx, g, V, padding_idx=None):
    gw = np.zeros((V, g.shape[-1]))
    np.add.at(gw, idx.reshape(-1), g.reshape(-1, g.shape[-1]).astype(np.float64))
    if padding_idx is not None:
        gw[padding_idx] = 0
    return gw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,V,D", [(1, 1, 1), (13, 5, 3), (5120, 10000, 64), (997, 31, 129), (0, 7, 4)])
def test_embedding_backward_vs_add_at(rng, dtype, n, V, D):
    idx = rng.integers(0, V, n)
    g = rng.standard_normal((n, D)).astype(dtype)
    check_op([idx, g], lambda idx, g: _C.embedding_backward(idx, g, V), ref=lambda idx, g: ref(idx, g, V), grad=False,
             arrays=True, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5, devices=("cpu",))


def test_embedding_backward_padding_and_repeats(rng):
    idx = np.array([[2, 2, 0], [2, 1, 0]])
    g = rng.standard_normal((2, 3, 8)).astype(np.float32)
    check_op([idx, g], lambda idx, g: _C.embedding_backward(idx, g, 4, 0), ref=lambda idx, g: ref(idx, g, 4, 0),
             grad=False, arrays=True, rtol=1e-6, atol=1e-6, devices=("cpu",))
    out = _C.embedding_backward(idx, g, 4, 0)
    assert not out[0].any() and not out[3].any()


def test_embedding_module_gradient(rng):
    """nn.Embedding's weight gradient, negative padding_idx included, through autograd."""
    emb = nk.nn.Embedding(6, 5, padding_idx=-1)
    idx = np.array([[5, 1, 1], [0, 5, 3]])

    def ours(weight):
        emb.weight = weight
        return emb(nk.tensor(idx))
    check_op([emb.weight.numpy()], ours, ref=lambda w: w[idx], ref_grad=lambda g, w: [ref(idx, g, 6, padding_idx=5)],
             rtol=1e-6, atol=1e-6, devices=("cpu",))


def test_embedding_backward_rejects_bad_input():
    g = np.zeros((3, 2), np.float32)
    with pytest.raises(IndexError, match=r"embedding_backward: index 9 out of range \[0, 4\)"):
        _C.embedding_backward(np.array([0, 9, 1]), g, 4)
    with pytest.raises(ValueError, match="not one row of its last axis per index"):
        _C.embedding_backward(np.array([0, 1]), g, 4)
    with pytest.raises(TypeError, match="grad"):
        _C.embedding_backward(np.array([0, 1, 2]), g.astype(np.int32), 4)
