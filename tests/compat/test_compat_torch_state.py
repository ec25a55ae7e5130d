"""Issue 11, PyTorch-style differences: var/std defaults, state_dict values and order,
load_state_dict's named result, CrossEntropyLoss with weights and label smoothing, checkpoints."""
import pickle

import numpy as np
import pytest

import nnkernels as nk
from twin import as_np, both, close, copy_weights, torch

rng = np.random.default_rng(11)
X = rng.standard_normal((5, 7)).astype(np.float32)


@pytest.mark.parametrize("call", [
    lambda t: t.var(), lambda t: t.std(), lambda t: t.var(1), lambda t: t.std(0, keepdim=True),
    lambda t: t.var(1, unbiased=False), lambda t: t.var(dim=1, correction=0), lambda t: t.std(dim=(0, 1)),
    lambda t: t.var(1, True, True), lambda t: t.var(dim=0, correction=2)])
def test_var_std_defaults_match_torch(call):
    ours, theirs = both(lambda T: call(T.tensor(X)))
    close(ours, theirs)
    assert ours.shape == tuple(theirs.shape)


def test_top_level_var_std_and_gradient():
    ours, theirs = both(lambda T: (lambda x: (T.std(x, 1).sum().backward(), x.grad)[1])(
        T.tensor(X, requires_grad=True)))
    close(ours, theirs)
    close(nk.var(nk.tensor(X)), X.var(ddof=1))


def _model(T):
    nn = T.nn
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_state_dict_tensors_in_torch_order():
    ours, theirs = both(lambda T: _model(T).state_dict())
    assert list(ours) == list(theirs)
    assert all(isinstance(v, nk.Tensor) for v in ours.values())
    sd = _model(nk).state_dict()
    m = _model(nk)
    m.state_dict()["0.weight"].data[...] = 5  # values are copies: the model is untouched
    assert not np.all(m[0].weight.numpy() == 5)
    t = _model(torch)
    copy_weights(_model(nk), t)  # the values convert to torch directly too
    t.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})


def test_non_persistent_buffer_not_saved():
    ours, theirs = both(lambda T: (lambda m: (m.register_buffer("tmp", T.zeros(2), persistent=False),
                                              list(m.state_dict()))[1])(T.nn.Linear(2, 2)))
    assert ours == theirs == ["weight", "bias"]


def test_load_state_dict_named_result_and_strict():
    def program(T):
        m = _model(T)
        sd = m.state_dict()
        ok = m.load_state_dict(sd)
        part = {k: v for k, v in sd.items() if not k.startswith("3.")}
        part["extra"] = T.zeros(1)
        res = m.load_state_dict(part, strict=False)
        with pytest.raises(RuntimeError, match="Missing key"):
            m.load_state_dict(part)
        return ok, res
    (ok, res), (tok, tres) = both(program)
    assert tuple(ok) == tuple(tok) == ([], [])
    assert res.missing_keys == tres.missing_keys == ["3.weight", "3.bias"]
    assert res.unexpected_keys == tres.unexpected_keys == ["extra"]
    with pytest.raises(KeyError):  # the old exception type still catches it
        _model(nk).load_state_dict({})


W = rng.random(4).astype(np.float32) + 0.1
LOGITS = rng.standard_normal((6, 4)).astype(np.float32)
IDX = np.array([0, 1, 3, 2, 1, 3])
IDX_IGN = np.array([0, -100, 3, 2, 1, 3])
PROBS = rng.dirichlet(np.ones(4), 6).astype(np.float32)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("target", ["idx", "ignore", "probs"])
def test_cross_entropy_weights_smoothing_match_torch(reduction, weight, smoothing, target):
    tgt = {"idx": IDX, "ignore": IDX_IGN, "probs": PROBS}[target]

    def program(T):
        x = T.tensor(LOGITS, requires_grad=True)
        w = T.tensor(W) if weight else None
        loss = T.nn.CrossEntropyLoss(weight=w, reduction=reduction, label_smoothing=smoothing)(x, T.tensor(tgt))
        loss2 = T.nn.functional.cross_entropy(x, T.tensor(tgt), weight=w, reduction=reduction,
                                              label_smoothing=smoothing)
        loss.sum().backward()
        return loss, loss2, x.grad
    ours, theirs = both(program)
    for a, b in zip(ours, theirs):
        close(a, b)


def test_cross_entropy_nd_weighted_ignore_index():
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    t = np.array([[0, 2, -1, 1], [1, -1, 0, 2]])
    ours, theirs = both(lambda T: T.nn.functional.cross_entropy(T.tensor(x), T.tensor(t), weight=T.tensor(W[:3]),
                                                                ignore_index=-1, label_smoothing=0.1))
    close(ours, theirs)


def test_bce_with_logits_pos_weight_matches_torch():
    y = (rng.random((6, 4)) > 0.5).astype(np.float32)

    def program(T):
        x = T.tensor(LOGITS, requires_grad=True)
        loss = T.nn.BCEWithLogitsLoss(pos_weight=T.tensor(W * 3))(x, T.tensor(y))
        loss.backward()
        f = T.nn.functional.binary_cross_entropy_with_logits(x, T.tensor(y), weight=T.tensor(W), reduction="sum")
        return loss, x.grad, f
    for a, b in zip(*both(program)):
        close(a, b)


def test_checkpoint_dict_round_trip(tmp_path):
    m = _model(nk)
    opt = nk.optim.Adam(m.parameters(), lr=1e-3)
    m(nk.tensor(rng.standard_normal((4, 3)).astype(np.float32))).sum().backward()
    opt.step()
    path = str(tmp_path / "ckpt.pt")
    nk.save({"model": m.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "loss": 0.25,
             "note": "best", "history": [1.0, 2.0], "shape": (2, 3)}, path)
    ck = nk.load(path)
    assert ck["epoch"] == 3 and ck["loss"] == 0.25 and ck["note"] == "best"
    assert ck["history"] == [1.0, 2.0] and ck["shape"] == (2, 3)
    m2 = _model(nk)
    assert m2.load_state_dict(ck["model"]) == ([], [])
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(as_np(v), as_np(m2.state_dict()[k]))
    opt2 = nk.optim.Adam(m2.parameters(), lr=1e-3)
    opt2.load_state_dict(ck["optimizer"])
    assert opt2.state_dict()["state"][0]["step"] == 1


def test_whole_module_pickles_and_load_is_safe_by_default(tmp_path):
    m = nk.nn.Sequential(nk.nn.Linear(3, 4), nk.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True))
    path = str(tmp_path / "model.pt")
    nk.save(m, path)
    with pytest.raises(pickle.UnpicklingError, match="weights_only=False"):
        nk.load(path)
    m2 = nk.load(path, weights_only=False)
    x = nk.tensor(rng.standard_normal((2, 5, 3)).astype(np.float32))
    m.eval(), m2.eval()
    np.testing.assert_array_equal(m(x).numpy(), m2(x).numpy())
    m3 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m(x).numpy(), m3(x).numpy())


def test_flat_state_dict_file_still_plain_npz(tmp_path):
    path = str(tmp_path / "w.npz")
    m = _model(nk)
    nk.save(m.state_dict(), path)
    with np.load(path, allow_pickle=False) as z:
        assert list(z.files) == list(m.state_dict())
    assert all(isinstance(v, nk.Tensor) for v in nk.load(path).values())


def test_state_dict_round_trips_through_torch():
    if torch is None:
        pytest.skip("torch is not installed")
    ours, theirs = _model(nk), _model(torch)
    res = ours.load_state_dict(theirs.state_dict())  # torch tensors straight in
    assert res.missing_keys == [] and res.unexpected_keys == []
    back = _model(torch)
    back.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})  # nk Tensors -> torch
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[k].numpy(), v.numpy())
    x = rng.standard_normal((4, 3)).astype(np.float32)
    ours.eval(), theirs.eval()
    close(ours(nk.tensor(x)), theirs(torch.tensor(x)))
