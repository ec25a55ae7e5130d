"""Issue 11, missing PyTorch model API: TransformerEncoder/Decoder(Layer), nn.utils clipping,
optimizer state dicts, F.cross_entropy(weight=, ignore_index=). Each program runs under both
libraries with copied weights."""
import numpy as np
import pytest

import nnkernels as nk
from twin import as_np, both, close, copy_weights, fill, torch

rng = np.random.default_rng(12)
SRC = rng.standard_normal((2, 5, 8)).astype(np.float32)
TGT = rng.standard_normal((2, 4, 8)).astype(np.float32)


def _encoder(T, norm_first):
    nn = T.nn
    T.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first)
    return nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False)


def _decoder(T, norm_first):
    nn = T.nn
    layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first)
    return nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(8))


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_encoder_decoder_match_torch(norm_first):
    if torch is None:
        pytest.skip("torch is not installed")
    enc, tenc = _encoder(nk, norm_first), _encoder(torch, norm_first)
    dec, tdec = _decoder(nk, norm_first), _decoder(torch, norm_first)
    assert list(enc.state_dict()) == list(tenc.state_dict())
    assert list(dec.state_dict()) == list(tdec.state_dict())
    # the stacked layers are independent copies
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    for a, b in ((enc, tenc), (dec, tdec)):
        for n, p in a.named_parameters():  # distinct values per layer, then the same in both
            p.data[...] = rng.standard_normal(p.shape).astype(np.float32) * 0.3
        copy_weights(a, b)
    kpm = np.zeros((2, 5), bool)
    kpm[1, 3:] = True
    causal = np.triu(np.ones((4, 4), bool), 1)

    def run(T, enc, dec):
        src = T.tensor(SRC, requires_grad=True)
        mem = enc(src, src_key_padding_mask=T.tensor(kpm))
        out = dec(T.tensor(TGT), mem, tgt_mask=T.tensor(causal), memory_key_padding_mask=T.tensor(kpm))
        (out * out).sum().backward()
        return mem, out, src.grad, enc.layers[0].self_attn.in_proj_weight.grad, dec.layers[1].linear2.weight.grad
    for a, b in zip(run(nk, enc, dec), run(torch, tenc, tdec)):
        close(a, b, 1e-4)


def test_transformer_rejects_bad_num_layers():
    with pytest.raises(ValueError, match="num_layers"):
        nk.nn.TransformerEncoder(nk.nn.TransformerEncoderLayer(8, 2), 0)


def _grads_program(T, how):
    lin = fill(T, T.nn.Linear(4, 3), 1, 1.0)
    (lin(T.tensor(XS)) ** 2).sum().backward()
    out = how(T, lin.parameters())
    return out, lin.weight.grad, lin.bias.grad


XS = rng.standard_normal((5, 4)).astype(np.float32)


@pytest.mark.parametrize("how", [
    lambda T, ps: T.nn.utils.clip_grad_norm_(ps, 1.0),
    lambda T, ps: T.nn.utils.clip_grad_norm_(ps, 0.5, norm_type=1),
    lambda T, ps: T.nn.utils.clip_grad_norm_(ps, 0.5, norm_type=float("inf")),
    lambda T, ps: T.nn.utils.clip_grad_norm_(ps, 1e6),
    lambda T, ps: T.nn.utils.clip_grad_value_(ps, 0.3)])
def test_clip_grad_matches_torch(how):
    ours, theirs = both(_grads_program, how)
    if theirs[0] is None:
        assert ours[0] is None
    else:
        assert isinstance(ours[0], nk.Tensor) and ours[0].shape == ()
        close(ours[0], theirs[0])
    close(ours[1], theirs[1])
    close(ours[2], theirs[2])


def test_clip_grad_norm_nonfinite_error():
    p = nk.nn.Parameter(np.ones(3, np.float32))
    p.grad = np.array([1.0, np.inf, 0.0], np.float32)
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        nk.nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


@pytest.mark.parametrize("opt", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_optimizer_state_dict_resumes_like_torch(opt):
    kw = {"SGD": dict(lr=0.1, momentum=0.9), "Adam": dict(lr=0.01), "AdamW": dict(lr=0.01),
          "RMSprop": dict(lr=0.01, momentum=0.5)}[opt]

    def program(T):
        m = fill(T, T.nn.Linear(4, 2), 2)
        o = getattr(T.optim, opt)(m.parameters(), **kw)

        def step(m, o):
            o.zero_grad()
            (m(T.tensor(XS)) ** 2).mean().backward()
            o.step()
        step(m, o)
        step(m, o)
        sd = o.state_dict()
        m2 = T.nn.Linear(4, 2)
        m2.load_state_dict(m.state_dict())
        o2 = getattr(T.optim, opt)(m2.parameters(), lr=123.0)
        o2.load_state_dict(sd)
        step(m2, o2)
        step(m2, o2)
        m = m2
        return m.weight, o2.param_groups[0]["lr"], sorted(sd["state"][0]), sd["param_groups"][0]["params"]
    ours, theirs = both(program)
    close(ours[0], theirs[0], 1e-5)
    assert ours[1] == theirs[1] == kw["lr"]
    assert set(ours[2]) <= set(theirs[2]) | {"step"}
    assert ours[3] == theirs[3] == [0, 1]


def test_optimizer_loads_torch_state_dict():
    if torch is None:
        pytest.skip("torch is not installed")
    tm = torch.nn.Linear(4, 2)
    to = torch.optim.Adam(tm.parameters(), lr=0.02)
    (tm(torch.tensor(XS)) ** 2).mean().backward()
    to.step()
    m = nk.nn.Linear(4, 2)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    o = nk.optim.Adam(m.parameters())
    o.load_state_dict(to.state_dict())
    assert o.param_groups[0]["lr"] == 0.02 and o.state_dict()["state"][0]["step"] == 1
    for T, mm, oo in ((nk, m, o), (torch, tm, to)):
        oo.zero_grad()
        (mm(T.tensor(XS)) ** 2).mean().backward()
        oo.step()
    close(m.weight, tm.weight)


def test_optimizer_load_state_dict_mismatch():
    o = nk.optim.SGD(nk.nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="groups"):
        o.load_state_dict(nk.optim.SGD([nk.nn.Parameter(np.zeros(1, np.float32))], lr=0.1).state_dict())


def test_functional_cross_entropy_weight_ignore_index_backward():
    x = rng.standard_normal((5, 3)).astype(np.float32)
    t = np.array([0, 2, 7, 1, 7])
    w = np.array([0.2, 1.0, 3.0], np.float32)

    def program(T):
        xx = T.tensor(x, requires_grad=True)
        loss = T.nn.functional.cross_entropy(xx, T.tensor(t), weight=T.tensor(w), ignore_index=7)
        loss.backward()
        return loss, xx.grad
    for a, b in zip(*both(program)):
        close(a, b)
    assert np.all(as_np(program(nk)[1])[[2, 4]] == 0)
