"""MNIST-1D on several processes: data-parallel training with nnkernels.distributed.

The CNN of examples/mnist1d.py (or its MLP), wrapped in DistributedDataParallel; each rank
reads its share of every epoch through a DistributedSampler, gradients are averaged over
the ranks during backward, and rank 0 prints and evaluates. `--keras` trains a Keras
model with `fit` instead, which shards, averages and reduces its metrics by itself.

    pip install "nnkernels[distributed,examples]"
    mpirun -n 2 python examples/ddp_mnist1d.py                  # as root: mpirun --allow-run-as-root -n 2 ...
    python -m nnkernels.distributed.run -n 2 examples/ddp_mnist1d.py --keras
    python examples/ddp_mnist1d.py                              # one process works too

`--batch` is the global batch (split over the ranks), so the run follows the same
optimisation path whatever the number of ranks.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import numpy as np

import nnkernels as nk
import nnkernels.distributed as dist
import nnkernels.nn as nn
from nnkernels.nn.parallel import DistributedDataParallel
from nnkernels.utils.data import DataLoader, DistributedSampler, TensorDataset

HERE = os.path.dirname(os.path.abspath(__file__))


def _models():
    spec = importlib.util.spec_from_file_location("nnkernels_example_mnist1d", os.path.join(HERE, "mnist1d.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {"MLP": mod.MLP, "CNN": mod.CNN}, mod.accuracy


def load_data():
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]  # not our mnist1d.py
    from mnist1d.data import make_dataset  # generated locally: no download
    d = make_dataset()
    return (d["x"].astype(np.float32), d["y"].astype(np.int64), d["x_test"].astype(np.float32),
            d["y_test"].astype(np.int64))


def say(*a):
    if dist.get_rank() == 0:
        print(*a, flush=True)


def torch_style(args, data, rank, world):
    models, accuracy = _models()
    x, y, xt, yt = data
    nk.manual_seed(args.seed)
    model = DistributedDataParallel(models[args.model]())     # rank 0's weights on every rank
    opt = nk.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1)
    lossf = nn.CrossEntropyLoss()
    sampler = DistributedSampler(TensorDataset(x, y), shuffle=True, seed=args.seed)
    loader = DataLoader(TensorDataset(x, y), batch_size=max(1, args.batch // world), sampler=sampler)
    step, epoch, t0 = 0, 0, time.perf_counter()
    while step < args.steps:
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            opt.zero_grad()
            loss = lossf(model(xb), yb)
            loss.backward()                                   # gradients averaged over the ranks here
            opt.step()
            step += 1
            if step % args.eval_every == 0 or step == args.steps:
                say(f"  step {step:5d}/{args.steps}  loss {loss.item():.4f} (rank 0's share)  "
                    f"({time.perf_counter() - t0:.1f}s)")
            if step == args.steps:
                break
        epoch += 1
    acc = accuracy(model, xt, yt)
    say(f"{args.model}: test accuracy {acc:.1f}% after {step} steps on {world} ranks")
    return acc


def keras_style(args, data, rank, world):
    from nnkernels.keras import layers, models
    x, y, xt, yt = data
    nk.manual_seed(args.seed)
    m = models.Sequential([layers.Dense(100, activation="relu", input_shape=(40,)),
                           layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    per_rank = max(1, args.batch // world)                    # Horovod: batch_size is per rank
    epochs = max(1, -(-args.steps * per_rank * world // len(y)))
    m.fit(x, y, batch_size=per_rank, epochs=epochs, validation_data=(xt, yt), verbose=2)
    _, acc = m.evaluate(xt, yt, verbose=0)                    # every rank gets the reduced figure
    say(f"Keras MLP: test accuracy {100 * acc:.1f}% after {epochs} epochs on {world} ranks")
    return acc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["CNN", "MLP"], default="CNN")
    ap.add_argument("--keras", action="store_true", help="train a Keras MLP with fit instead")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=100, help="global batch, split over the ranks")
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    dist.init_process_group("mpi")            # rank and world size from mpirun; one process: world 1
    rank, world = dist.get_rank(), dist.get_world_size()
    data = load_data()
    say(f"MNIST-1D: {len(data[1])} train / {len(data[3])} test signals; {world} ranks x "
        f"{nk.get_num_threads()} threads ({nk.cpu_path()})")
    (keras_style if args.keras else torch_style)(args, data, rank, world)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
