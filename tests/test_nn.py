"""nnkernels.nn layers, losses and optimizers against PyTorch with copied weights
(forward output, input gradient and every parameter gradient), state dicts, argument
checks and a short training run whose loss falls."""
import numpy as np
import pytest

import nnkernels as nk
import nnkernels.nn as nn
from nnkernels import optim


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)) if b.size else 0.0


def copy_to_torch(ours, theirs, torch):
    sd = {k: torch.tensor(v) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(sd, strict=True)


def compare(ours, theirs, inputs, torch, tol=1e-5, int_inputs=(), out_index=None, call=None):
    """Same weights, same inputs: outputs, input grads and parameter grads agree."""
    copy_to_torch(ours, theirs, torch)
    rng = np.random.default_rng(7)
    nx = [nk.tensor(a, requires_grad=i not in int_inputs) for i, a in enumerate(inputs)]
    tx = [torch.tensor(a, requires_grad=i not in int_inputs) for i, a in enumerate(inputs)]
    call = call or (lambda m, xs: m(*xs))
    no, to = call(ours, nx), call(theirs, tx)
    if out_index is not None:
        no, to = no[out_index], to[out_index]
    assert no.shape == tuple(to.shape)
    assert rel(no.numpy(), to.detach().numpy()) < tol
    w = rng.standard_normal(no.shape).astype(no.dtype)
    (no * nk.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    for i, (a, b) in enumerate(zip(nx, tx)):
        if i not in int_inputs:
            assert rel(a.grad.numpy(), b.grad.numpy()) < tol, f"input {i} grad"
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert rel(p.grad.numpy(), tp[name].grad.numpy()) < tol, f"grad of {name}"


R = np.random.default_rng(3)


def f32(*s):
    return R.standard_normal(s).astype(np.float32)


def layer_cases(torch):
    tn = torch.nn
    return {
        "Linear": (nn.Linear(7, 5), tn.Linear(7, 5), [f32(3, 2, 7)]),
        "Conv2d": (nn.Conv2d(3, 8, 3, stride=2, padding=1), tn.Conv2d(3, 8, 3, stride=2, padding=1), [f32(2, 3, 9, 8)]),
        "Conv2d_same_groups": (nn.Conv2d(4, 6, (3, 2), padding="same", groups=2, bias=False),
                               tn.Conv2d(4, 6, (3, 2), padding="same", groups=2, bias=False), [f32(2, 4, 5, 7)]),
        "ConvTranspose2d": (nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
                            tn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), [f32(2, 3, 4, 5)]),
        "MaxPool2d": (nn.MaxPool2d(3, 2, 1), tn.MaxPool2d(3, 2, 1), [f32(2, 3, 9, 8)]),
        "AvgPool2d": (nn.AvgPool2d(2, ceil_mode=True), tn.AvgPool2d(2, ceil_mode=True), [f32(2, 3, 5, 7)]),
        "AdaptiveAvgPool2d": (nn.AdaptiveAvgPool2d((2, 3)), tn.AdaptiveAvgPool2d((2, 3)), [f32(2, 3, 5, 7)]),
        "Flatten": (nn.Flatten(), tn.Flatten(), [f32(2, 3, 4)]),
        "ReLU": (nn.ReLU(), tn.ReLU(), [f32(4, 5)]),
        "LeakyReLU": (nn.LeakyReLU(0.1), tn.LeakyReLU(0.1), [f32(4, 5)]),
        "Sigmoid": (nn.Sigmoid(), tn.Sigmoid(), [f32(4, 5)]),
        "Tanh": (nn.Tanh(), tn.Tanh(), [f32(4, 5)]),
        "GELU": (nn.GELU(), tn.GELU(), [f32(4, 5)]),
        "GELU_tanh": (nn.GELU("tanh"), tn.GELU("tanh"), [f32(4, 5)]),
        "Softmax": (nn.Softmax(dim=1), tn.Softmax(dim=1), [f32(4, 5)]),
        "LayerNorm": (nn.LayerNorm(6), tn.LayerNorm(6), [f32(3, 4, 6)]),
        "BatchNorm1d": (nn.BatchNorm1d(5), tn.BatchNorm1d(5), [f32(8, 5)]),
        "BatchNorm2d": (nn.BatchNorm2d(3), tn.BatchNorm2d(3), [f32(4, 3, 5, 5)]),
    }


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("name", ["Linear", "Conv2d", "Conv2d_same_groups", "ConvTranspose2d", "MaxPool2d",
                                  "AvgPool2d", "AdaptiveAvgPool2d", "Flatten", "ReLU", "LeakyReLU", "Sigmoid",
                                  "Tanh", "GELU", "GELU_tanh", "Softmax", "LayerNorm", "BatchNorm1d", "BatchNorm2d"])
def test_layer_vs_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs, inputs = layer_cases(torch)[name]
    compare(ours, theirs, inputs, torch)
    if name.startswith("BatchNorm"):  # running statistics updated the same way, eval mode agrees
        for k, v in theirs.state_dict().items():
            assert rel(ours.state_dict()[k], v.numpy()) < 1e-5, k
        ours.eval()
        theirs.eval()
        x = inputs[0] + 1
        assert rel(ours(nk.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy()) < 1e-5


def test_embedding_vs_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Embedding(10, 4, padding_idx=0), torch.nn.Embedding(10, 4, padding_idx=0)
    idx = np.array([[1, 0, 3], [3, 9, 1]])
    copy_to_torch(ours, theirs, torch)
    o, t = ours(idx), theirs(torch.tensor(idx))
    assert rel(o.numpy(), t.detach().numpy()) == 0
    o.sum().backward()
    t.sum().backward()
    assert rel(ours.weight.grad.numpy(), theirs.weight.grad.numpy()) == 0


@pytest.mark.parametrize("cls,kw", [("LSTM", dict(num_layers=2, batch_first=True, bidirectional=True)),
                                    ("LSTM", dict()),
                                    ("GRU", dict(num_layers=2, bidirectional=True)),
                                    ("GRU", dict(batch_first=True, bias=False))])
def test_rnn_vs_torch(cls, kw):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, cls)(5, 6, **kw), getattr(torch.nn, cls)(5, 6, **kw)
    x = f32(3, 4, 5)
    compare(ours, theirs, [x], torch, tol=1e-5, out_index=0)
    ours.zero_grad()
    theirs.zero_grad()
    h = (lambda m, xs: m(*xs)[1][0]) if cls == "LSTM" else (lambda m, xs: m(*xs)[1])
    compare(ours, theirs, [x], torch, tol=1e-5, call=h)


def test_rnn_cells_vs_torch():
    torch = pytest.importorskip("torch")
    x, h, c = f32(3, 5), f32(3, 4), f32(3, 4)
    compare(nn.LSTMCell(5, 4), torch.nn.LSTMCell(5, 4), [x, h, c], torch,
            call=lambda m, xs: m(xs[0], (xs[1], xs[2]))[1])
    compare(nn.GRUCell(5, 4), torch.nn.GRUCell(5, 4), [x, h], torch, call=lambda m, xs: m(xs[0], xs[1]))


def test_multihead_attention_vs_torch():
    torch = pytest.importorskip("torch")
    q, k = f32(5, 2, 8), f32(7, 2, 8)
    mask = np.zeros((5, 7), bool)
    mask[:, -2:] = True
    for need_weights in (False, True):
        ours, theirs = nn.MultiheadAttention(8, 2), torch.nn.MultiheadAttention(8, 2)
        compare(ours, theirs, [q, k, k], torch, tol=1e-5,
                call=lambda m, xs: m(xs[0], xs[1], xs[2], need_weights=need_weights,
                                     attn_mask=torch.tensor(mask) if isinstance(xs[0], torch.Tensor) else mask)[0])
    copy_to_torch(ours, theirs, torch)
    w = ours(nk.tensor(q), nk.tensor(k), nk.tensor(k))[1]
    tw = theirs(torch.tensor(q), torch.tensor(k), torch.tensor(k))[1]
    assert rel(w.numpy(), tw.detach().numpy()) < 1e-5


def test_transformer_encoder_layer_vs_torch():
    torch = pytest.importorskip("torch")
    for norm_first in (False, True):
        ours = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first)
        theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first)
        compare(ours, theirs, [f32(2, 5, 8)], torch, tol=1e-5)


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "CrossEntropyLoss_smooth", "CrossEntropyLoss_ignore",
                                  "NLLLoss", "MSELoss", "BCELoss", "BCEWithLogitsLoss"])
def test_losses_vs_torch(name):
    torch = pytest.importorskip("torch")
    x = f32(6, 4)
    y = np.array([0, 3, 1, 1, 2, 0])
    cases = {
        "CrossEntropyLoss": (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), x, y),
        "CrossEntropyLoss_smooth": (nn.CrossEntropyLoss(label_smoothing=0.2, reduction="sum"),
                                    torch.nn.CrossEntropyLoss(label_smoothing=0.2, reduction="sum"), x, y),
        "CrossEntropyLoss_ignore": (nn.CrossEntropyLoss(ignore_index=1), torch.nn.CrossEntropyLoss(ignore_index=1),
                                    x, y),
        "NLLLoss": (nn.NLLLoss(), torch.nn.NLLLoss(), np.log(np.full((6, 4), 0.25, np.float32)) + x * 0.1, y),
        "MSELoss": (nn.MSELoss(), torch.nn.MSELoss(), x, f32(6, 4)),
        "BCELoss": (nn.BCELoss(), torch.nn.BCELoss(), 1 / (1 + np.exp(-x)), (f32(6, 4) > 0).astype(np.float32)),
        "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), x,
                              (f32(6, 4) > 0).astype(np.float32)),
    }
    ours, theirs, inp, tgt = cases[name]
    a, b = nk.tensor(inp, requires_grad=True), torch.tensor(inp, requires_grad=True)
    lo, lt = ours(a, tgt), theirs(b, torch.tensor(tgt))
    assert rel(lo.numpy(), lt.detach().numpy()) < 1e-5
    lo.backward()
    lt.backward()
    assert rel(a.grad.numpy(), b.grad.numpy()) < 1e-5


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
                                     ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                     ("Adam", dict(lr=0.01, weight_decay=0.1)), ("AdamW", dict(lr=0.01)),
                                     ("RMSprop", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, momentum=0.5,
                                                                                  centered=True))])
def test_optimizers_vs_torch(name, kw):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Linear(4, 3), torch.nn.Linear(4, 3)
    copy_to_torch(ours, theirs, torch)
    oo, ot = getattr(optim, name)(ours.parameters(), **kw), getattr(torch.optim, name)(theirs.parameters(), **kw)
    so, st = optim.lr_scheduler.StepLR(oo, 2, 0.5), torch.optim.lr_scheduler.StepLR(ot, 2, 0.5)
    x = f32(5, 4)
    for _ in range(5):
        oo.zero_grad()
        ot.zero_grad()
        (ours(nk.tensor(x)) ** 2).mean().backward()
        (theirs(torch.tensor(x)) ** 2).mean().backward()
        oo.step()
        ot.step()
        so.step()
        st.step()
    for k, v in theirs.state_dict().items():
        assert rel(ours.state_dict()[k], v.numpy()) < 1e-5, k


def test_cosine_schedule_vs_torch():
    torch = pytest.importorskip("torch")
    oo = optim.SGD(nn.Linear(2, 2).parameters(), lr=0.5)
    ot = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.5)
    so = optim.lr_scheduler.CosineAnnealingLR(oo, T_max=7, eta_min=0.01)
    st = torch.optim.lr_scheduler.CosineAnnealingLR(ot, T_max=7, eta_min=0.01)
    for _ in range(10):
        oo.step()
        ot.step()
        so.step()
        st.step()
        assert abs(so.get_last_lr()[0] - st.get_last_lr()[0]) < 1e-9


def test_module_api():
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]
    assert len(list(m.children())) == 5
    assert set(m.state_dict()) == set(names) | {"1.running_mean", "1.running_var", "1.num_batches_tracked"}
    m.eval()
    assert not m[1].training
    m.train()
    assert m[1].training
    x = nk.tensor(f32(2, 1, 6, 6))
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    assert m.to("cpu") is m
    with pytest.raises(RuntimeError):
        m.to("cuda")
    m.double()
    assert m(x.double()).dtype == np.float64


def test_state_dict_round_trip_and_errors():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    x = nk.tensor(f32(4, 3))
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    before = b.state_dict()
    bad = dict(a.state_dict())
    bad["weight"] = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="weight"):
        b.load_state_dict(bad)
    with pytest.raises(KeyError):
        b.load_state_dict({"weight": before["weight"]})
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("make", [lambda: nn.Linear(0, 3), lambda: nn.Linear(3, -1), lambda: nn.Conv2d(3, 4, 0),
                                  lambda: nn.Conv2d(3, 4, 3, groups=2), lambda: nn.Conv2d(3, 4, 3, padding="full"),
                                  lambda: nn.Conv2d(3, 3, 3, stride=2, padding="same"), lambda: nn.Dropout(1.5),
                                  lambda: nn.MaxPool2d(2, padding=2), lambda: nn.LSTM(4, 0),
                                  lambda: nn.MultiheadAttention(10, 3), lambda: nn.Embedding(5, 2, padding_idx=7),
                                  lambda: nn.CrossEntropyLoss(reduction="avg"), lambda: nn.GELU("fast"),
                                  lambda: optim.SGD([nn.Parameter(np.zeros(2))], lr=-1),
                                  lambda: nn.ConvTranspose2d(2, 2, 3, stride=1, output_padding=1)])
def test_bad_layer_arguments(make):
    with pytest.raises(ValueError):
        make()


def test_training_loss_falls():
    """A small CNN on a real task (MNIST-1D when installed; otherwise Gaussian blobs) with Adam."""
    nk.manual_seed(0)
    try:
        from mnist1d.data import get_dataset_args, make_dataset
        args = get_dataset_args()
        args.num_samples = 1200
        d = make_dataset(args)
        x, y = d["x"].astype(np.float32)[:, None, :, None], d["y"]
        model = nn.Sequential(nn.Conv2d(1, 16, (5, 1), padding=(2, 0)), nn.ReLU(), nn.MaxPool2d((2, 1)),
                              nn.Flatten(), nn.Linear(16 * 20, 10))
    except ImportError:  # four Gaussian blobs in 8-D
        rng = np.random.default_rng(0)
        y = rng.integers(0, 4, 800)
        x = (rng.standard_normal((800, 8)) + 2.0 * np.eye(4, 8)[y]).astype(np.float32)
        model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 4))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    lossf = nn.CrossEntropyLoss()
    losses = []
    for epoch in range(6):
        tot = 0.0
        for i in range(0, len(y), 64):
            opt.zero_grad()
            loss = lossf(model(nk.tensor(x[i:i + 64])), y[i:i + 64])
            loss.backward()
            opt.step()
            tot += loss.item()
        losses.append(tot)
    assert losses[-1] < 0.7 * losses[0], losses


def test_pytorch_style_program_runs():
    """The idioms of a PyTorch training script, with nnkernels in place of torch."""
    import nnkernels as torch  # noqa: F401
    import nnkernels.nn as nn_
    import nnkernels.nn.functional as F

    class Net(nn_.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn_.Linear(4, 8)
            self.fc2 = nn_.Linear(8, 3)

        def forward(self, x):
            return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)

    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(16, 4), torch.tensor(np.arange(16) % 3)
    for _ in range(3):
        opt.zero_grad()
        loss = F.nll_loss(net(x), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = net(x).argmax(dim=1)
    assert pred.shape == (16,)


def test_torch_idioms_max_dataloader_save(tmp_path):
    import nnkernels as torch
    from nnkernels.utils.data import DataLoader, TensorDataset
    x = torch.tensor(np.array([[1.0, 3.0, 2.0], [4.0, 0.0, 5.0]]))
    v, i = torch.max(x, 1)
    np.testing.assert_array_equal(v.numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(i.numpy(), [1, 2])
    assert x.max().item() == 5.0 and x.min(dim=0).indices.tolist() == [0, 1, 0]
    assert (x.argmax(dim=1) == torch.tensor([1, 2])).sum().item() == 2
    X, Y = np.arange(10.0).reshape(5, 2), np.arange(5)
    batches = list(DataLoader(TensorDataset(X, Y), batch_size=2, shuffle=True))
    assert len(batches) == 3 and sorted(np.concatenate([b[1].numpy() for b in batches]).tolist()) == list(range(5))
    m = nn.Linear(2, 2)
    torch.save(m.state_dict(), str(tmp_path / "m.npz"))
    m2 = nn.Linear(2, 2)
    m2.load_state_dict(torch.load(str(tmp_path / "m.npz")))
    np.testing.assert_array_equal(m2.weight.numpy(), m.weight.numpy())
    assert torch.device("auto") in ("cpu", "cuda")
