"""One rank of the distributed tests (tests/test_distributed.py starts it under mpirun), and the
model/data builders the tests also use for the one-process reference runs.

    python -m nnkernels.distributed.run -n 2 --threads 1 tests/_dist_worker.py CASE OUTDIR

CASE: train (DDP MLP + CNN, Keras MLP + CNN, collectives; writes OUTDIR/rank<r>.npz),
raise (rank 1 raises), die (rank 1 exits without a word), hang (rank 1 never joins).
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

import nnkernels as nk
import nnkernels.nn as nn

SEED, STEPS, LR, MOMENTUM = 7, 20, 0.05, 0.9
N_DDP = 32                    # the full batch the DDP runs split over the ranks
N_KERAS = {"mlp": 145, "cnn": 157}   # 145: the last step has 1 sample (a rank gets none); 157: 7 + 6
KERAS_BATCH, KERAS_EPOCHS = 8, 2     # per rank; 2 ranks x 8 = 16 per step, 10 steps per epoch


def data(kind, n, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n, 20) if kind == "mlp" else (n, 1, 8, 8)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, 3, n)


def torch_model(kind):
    if kind == "mlp":
        return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 3))


def torch_style(kind, rank=0, world=1, bucket_cap_mb=25.0, record=None):
    """STEPS of SGD with momentum on the full batch (world 1) or on this rank's share of it
    under DistributedDataParallel. Returns {name: weights}."""
    nk.manual_seed(SEED + rank)            # ranks start different: DDP's broadcast must fix that
    model = torch_model(kind)
    if record is not None:
        record[f"{kind}_before"] = next(model.parameters()).numpy().copy()
    x, y = data(kind, N_DDP)
    if world > 1:
        from nnkernels.nn.parallel import DistributedDataParallel
        model = DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb)
        if record is not None:
            record[f"{kind}_after"] = next(model.parameters()).numpy().copy()
        share = N_DDP // world
        x, y = x[rank * share:(rank + 1) * share], y[rank * share:(rank + 1) * share]
    opt = nk.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    lossf = nn.CrossEntropyLoss()
    for _ in range(STEPS):
        opt.zero_grad()
        loss = lossf(model(nk.tensor(x)), nk.tensor(y))
        loss.backward()
        opt.step()
    if record is not None and world > 1:
        record[f"{kind}_buckets"] = np.array([len(model.reducer.buckets), len(model.reducer.params),
                                              model.reducer.messages, model.reducer.overlapped])
    return {k.replace("module.", "", 1): v for k, v in model.state_dict().items()}


def keras_model(kind):
    from nnkernels.keras import layers, models, optimizers
    if kind == "mlp":
        m = models.Sequential([layers.Dense(32, activation="relu", input_shape=(20,)), layers.Dense(3, activation="softmax")])
    else:
        m = models.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), layers.MaxPooling2D(),
                               layers.Flatten(), layers.Dense(3, activation="softmax")])
    m.compile(optimizer=optimizers.SGD(LR, momentum=MOMENTUM), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def keras_style(kind, batch_size, rank=0, callbacks=None, verbose=0):
    """Keras fit, KERAS_EPOCHS epochs with shuffling and validation. Returns (weights, history, momenta)."""
    nk.manual_seed(SEED + rank)
    m = keras_model(kind)
    x, y = data(kind, N_KERAS[kind], seed=1)
    vx, vy = data(kind, 33, seed=2)
    if kind == "cnn":
        x, vx = x.transpose(0, 2, 3, 1).copy(), vx.transpose(0, 2, 3, 1).copy()
    hist = m.fit(x, y, batch_size=batch_size, epochs=KERAS_EPOCHS, shuffle=True, validation_data=(vx, vy),
                 callbacks=callbacks, verbose=verbose)
    opt = m.optimizer._opt
    momenta = [opt.state[id(p)]["momentum_buffer"] for g in opt.param_groups for p in g["params"]]
    return m.get_weights(), hist.history, momenta


# ------------------------------------------------------------------ the cases
def case_train(out):
    import nnkernels.distributed as dist
    from nnkernels.keras import callbacks
    dist.init_process_group("mpi")
    r, w = dist.get_rank(), dist.get_world_size()
    rec = {"threads": np.array(nk.get_num_threads())}

    # collectives
    a = np.full((3, 4), r + 1.0, np.float32)
    dist.all_reduce(a)
    rec["sum"] = a
    b = np.arange(12, dtype=np.float64).reshape(3, 4) * (r + 1)
    dist.all_reduce(b[:, ::2], op=dist.ReduceOp.AVG)          # a strided view, in place
    rec["avg_strided"] = b
    c = np.array([r, -r, 5 * r], np.int64)
    dist.all_reduce(c, op=dist.ReduceOp.MAX)
    rec["max"] = c
    t = nk.tensor(np.full(5, float(r)))
    work = dist.all_reduce(t, async_op=True)
    work.wait()
    rec["tensor_async"] = t.numpy()
    d = np.random.default_rng(100 + r).standard_normal(6).astype(np.float32)
    dist.broadcast(d, src=1)
    rec["bcast"] = d
    objs = [None, None]
    dist.all_gather_object(objs, {"rank": r})
    ol = [f"from {r}"]
    dist.broadcast_object_list(ol, src=0)
    rec["objects"] = np.array([objs[0]["rank"], objs[1]["rank"], ol[0] == "from 0"])
    ro = np.ones(3)
    ro.flags.writeable = False
    bad = [(lambda: dist.all_reduce(np.ones(3, np.float16)), TypeError, "float16"),
           (lambda: dist.all_reduce(ro), ValueError, "read-only"),
           (lambda: dist.all_reduce([1.0, 2.0]), TypeError, "list"),
           (lambda: dist.all_reduce(np.ones(3, np.int32), op=dist.ReduceOp.AVG), TypeError, "AVG"),
           (lambda: dist.all_reduce(np.ones(3), op="mean"), ValueError, "ReduceOp"),
           (lambda: dist.broadcast(np.ones(3), src=2), ValueError, "src"),
           (lambda: dist.init_process_group("mpi"), RuntimeError, "already initialized")]
    raised = []
    for fn, exc, word in bad:                    # every rank refuses the same calls before any message
        try:
            fn()
            raised.append(False)
        except exc as e:
            raised.append(word in str(e))
    rec["bad_input"] = np.array(raised)
    dist.barrier()

    # PyTorch style: an MLP in several small buckets, a CNN in one
    for kind, cap in (("mlp", 0.004), ("cnn", 25.0)):
        for k, v in torch_style(kind, r, w, cap, rec).items():
            rec[f"ddp_{kind}/{k}"] = v

    # Keras style
    for kind in ("mlp", "cnn"):
        ck = callbacks.ModelCheckpoint(os.path.join(out, f"{kind}-ckpt-r{r}.weights.npz"), save_best_only=False)
        weights, hist, momenta = keras_style(kind, KERAS_BATCH, r, callbacks=[ck], verbose=2)
        for i, v in enumerate(weights):
            rec[f"keras_{kind}/w{i}"] = v
        for i, v in enumerate(momenta):
            rec[f"keras_{kind}/m{i}"] = v
        for k, v in hist.items():
            rec[f"keras_{kind}/h_{k}"] = np.array(v)
    np.savez(os.path.join(out, f"rank{r}.npz"), **rec)
    dist.barrier()
    dist.destroy_process_group()


def case_raise(out):
    import nnkernels.distributed as dist
    dist.init_process_group("mpi")
    if dist.get_rank() == 1:
        time.sleep(0.5)
        raise ValueError("boom on purpose")
    a = np.ones(4, np.float32)
    for _ in range(1000):          # rank 0 waits in collectives rank 1 never joins
        dist.all_reduce(a)
    print("rank 0 finished: wrong", flush=True)


def case_die(out):
    import nnkernels.distributed as dist
    dist.init_process_group("mpi")
    if dist.get_rank() == 1:
        time.sleep(0.5)
        os._exit(3)
    a = np.ones(4, np.float32)
    for _ in range(1000):
        dist.all_reduce(a)
    print("rank 0 finished: wrong", flush=True)


def case_hang(out):
    import nnkernels.distributed as dist
    dist.init_process_group("mpi", timeout=2.0)
    if dist.get_rank() == 1:
        time.sleep(120)             # never joins; rank 0's timeout must end the job
    dist.all_reduce(np.ones(4, np.float32))
    print("rank 0 finished: wrong", flush=True)


if __name__ == "__main__":
    case, out = sys.argv[1], sys.argv[2]
    {"train": case_train, "raise": case_raise, "die": case_die, "hang": case_hang}[case](out)
