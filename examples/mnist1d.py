"""MNIST-1D with nnkernels: an MLP, a CNN and a GRU, PyTorch style, on the CPU kernels.

MNIST-1D (Greydanus, 2020) is generated locally by the `mnist1d` package (4000 train /
1000 test signals of length 40, no download). The paper's test accuracies are
MLP 68 %, CNN 94 %, GRU 91 %; this script trains the same three kinds of model with
AdamW for a fixed number of steps (see RECIPE), prints a table against those figures,
and writes the training curves to a PNG.

    pip install "nnkernels[examples]"
    python examples/mnist1d.py                 # full run (6000 steps per model)
    python examples/mnist1d.py --steps 1500    # shorter
    python examples/mnist1d.py --quick         # 300 steps per model: seconds (CI)

Measured with the defaults on the 2-core AVX-512 development VM, shared with other jobs (2026-12-01):
final test accuracy MLP 71.4 %, CNN 94.9 %, GRU 92.1 % (best 72.1, 95.9, 92.2 %), 418 s in all.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import nnkernels as nk
import nnkernels.nn as nn
import nnkernels.nn.functional as F
from nnkernels.keras.utils import Progbar

PAPER = {"MLP": 68.0, "CNN": 94.0, "GRU": 91.0}

# Per-model training recipe: AdamW, batch 100, 6000 steps. 4000 training signals are few,
# so the models overfit; a large step size and weight decay are the regularisers.
RECIPE = {
    "MLP": dict(lr=2e-2, wd=0.1, schedule="cosine"),
    "CNN": dict(lr=2e-2, wd=0.1, schedule="cosine"),
    "GRU": dict(lr=2e-2, wd=0.1, schedule="cosine"),
}


class MLP(nn.Module):
    """40 -> 100 -> 100 -> 10 with ReLU."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(40, 100), nn.Linear(100, 100), nn.Linear(100, 10)

    def forward(self, x):                      # x (N, 40)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class CNN(nn.Module):
    """Three strided 1-D convolutions (25 channels) as (k x 1) Conv2d, then a linear head.
    Lengths 40 -> 19 -> 10 -> 5."""

    def __init__(self, ch=25):
        super().__init__()
        self.c1 = nn.Conv2d(1, ch, (5, 1), stride=(2, 1), padding=(1, 0))
        self.c2 = nn.Conv2d(ch, ch, (3, 1), stride=(2, 1), padding=(1, 0))
        self.c3 = nn.Conv2d(ch, ch, (3, 1), stride=(2, 1), padding=(1, 0))
        self.fc = nn.Linear(ch * 5, 10)

    def forward(self, x):                      # x (N, 40)
        h = x.reshape(x.shape[0], 1, 40, 1)
        h = F.relu(self.c3(F.relu(self.c2(F.relu(self.c1(h))))))
        return self.fc(h.flatten(1))


class GRU(nn.Module):
    """A bidirectional GRU (6 hidden units) reads the signal one value per step; a linear
    layer classifies all its outputs."""

    def __init__(self, hidden=6):
        super().__init__()
        self.rnn = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden * 40, 10)

    def forward(self, x):                      # x (N, 40)
        y, _ = self.rnn(x.reshape(x.shape[0], 40, 1))
        return self.fc(y.flatten(1))


def accuracy(model, x, y, batch=500):
    model.eval()
    correct = 0
    with nk.no_grad():
        for i in range(0, len(y), batch):
            correct += int((model(nk.tensor(x[i:i + batch])).numpy().argmax(1) == y[i:i + batch]).sum())
    model.train()
    return 100.0 * correct / len(y)


def train(name, model, data, steps, lr, batch, eval_every, seed, wd=0.0, cosine=True):
    x, y, xt, yt = data
    rng = np.random.default_rng(seed)
    opt = nk.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    sched = nk.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps) if cosine else None
    lossf = nn.CrossEntropyLoss()
    curve = {"step": [], "train_loss": [], "test_acc": []}
    run, t0 = [], time.perf_counter()
    bar = Progbar(steps, stateful_metrics=["test_acc"])   # the Keras progress line; drawn in place on a terminal
    for step in range(1, steps + 1):
        idx = rng.integers(0, len(y), batch)
        opt.zero_grad()
        loss = lossf(model(nk.tensor(x[idx])), y[idx])
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        run.append(loss.item())
        values = [("loss", run[-1])]
        if step % eval_every == 0 or step == steps:
            curve["step"].append(step)
            curve["train_loss"].append(float(np.mean(run)))
            curve["test_acc"].append(accuracy(model, xt, yt))
            values.append(("test_acc", curve["test_acc"][-1]))
            run = []
            if not sys.stdout.isatty():                     # a log: one line per evaluation as well
                print(f"  {name} step {step:5d}/{steps}  loss {curve['train_loss'][-1]:.4f}  "
                      f"test acc {curve['test_acc'][-1]:5.1f}%  ({time.perf_counter() - t0:.0f}s)", flush=True)
        bar.update(step, values)
    return curve, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6000, help="optimizer steps per model (default 6000)")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=None, help="learning rate (default: the model's RECIPE)")
    ap.add_argument("--wd", type=float, default=None, help="AdamW weight decay (default: the model's RECIPE)")
    ap.add_argument("--schedule", choices=["cosine", "constant"], default=None,
                    help="learning-rate schedule (default: the model's RECIPE)")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--models", default="MLP,CNN,GRU")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png", default="mnist1d_curves.png")
    ap.add_argument("--quick", action="store_true", help="300 steps per model, evaluated every 100: for CI")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.eval_every = 300, 100

    # this file is itself called mnist1d.py: drop its folder from the path to import the package
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    from mnist1d.data import make_dataset  # generated locally: no download
    d = make_dataset()
    data = (d["x"].astype(np.float32), d["y"].astype(np.int64),
            d["x_test"].astype(np.float32), d["y_test"].astype(np.int64))
    print(f"MNIST-1D: {len(data[1])} train / {len(data[3])} test signals of length {data[0].shape[1]}; "
          f"nnkernels {nk.__version__} on CPU ({nk.cpu_path()}, {nk.get_num_threads()} threads)")

    results, curves = [], {}
    for name in args.models.split(","):
        nk.manual_seed(args.seed)
        model = {"MLP": MLP, "CNN": CNN, "GRU": GRU}[name]()
        nparams = sum(p.numel() for p in model.parameters())
        r = RECIPE[name]
        lr = r["lr"] if args.lr is None else args.lr
        wd = r["wd"] if args.wd is None else args.wd
        schedule = r["schedule"] if args.schedule is None else args.schedule
        print(f"{name}: {nparams} parameters; AdamW lr {lr:g}, weight decay {wd:g}, {schedule} schedule")
        curve, secs = train(name, model, data, args.steps, lr, args.batch, args.eval_every, args.seed, wd,
                            schedule == "cosine")
        curves[name] = curve
        results.append((name, nparams, curve["test_acc"][-1], max(curve["test_acc"]), secs))

    print()
    print(f"{'model':<6}{'params':>8}{'final test acc':>16}{'best':>8}{'paper':>8}{'time':>8}")
    for name, n, acc, best, secs in results:
        print(f"{name:<6}{n:>8}{acc:>15.1f}%{best:>7.1f}%{PAPER[name]:>7.0f}%{secs:>7.0f}s")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no PNG written (pip install 'nnkernels[examples]')")
        return {"results": results, "curves": curves}
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for name, c in curves.items():
        a1.plot(c["step"], c["train_loss"], label=name)
        a2.plot(c["step"], c["test_acc"], label=f"{name} (paper {PAPER[name]:.0f}%)")
    a1.set(xlabel="step", ylabel="train loss", yscale="log", title="MNIST-1D training loss")
    a2.set(xlabel="step", ylabel="test accuracy (%)", title="MNIST-1D test accuracy")
    a1.legend()
    a2.legend()
    fig.tight_layout()
    fig.savefig(args.png, dpi=120)
    plt.close(fig)
    print(f"curves written to {args.png}")
    return {"results": results, "curves": curves, "figures": [args.png]}


if __name__ == "__main__":
    main()
