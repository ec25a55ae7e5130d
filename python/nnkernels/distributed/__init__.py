"""Data-parallel training across processes and machines, with torch.distributed's names.

    import nnkernels.distributed as dist
    dist.init_process_group("mpi")            # rank and world size from the launcher
    model = nk.nn.parallel.DistributedDataParallel(model)   # rank 0's weights everywhere
    ...                                       # loss.backward() averages the gradients
    dist.destroy_process_group()

    mpirun -n 2 python train.py               # Open MPI as root: add --allow-run-as-root
    python -m nnkernels.distributed.run -n 2 train.py      # the same, without knowing mpirun

Backends: 'mpi' (mpi4py on Open MPI or MPICH: `pip install "nnkernels[distributed]"`),
collectives in place on NumPy arrays, no copies; 'nccl' (cupy.cuda.nccl) for CuPy arrays.
Importing this module needs neither: mpi4py is imported by init_process_group.

Collectives take a NumPy array, a CuPy array or an nk.Tensor (its data), the same shape and
dtype on every rank, and work in place. Each runs under the group's timeout (default 30
minutes, `timeout=` or NNKERNELS_DIST_TIMEOUT seconds): a rank that waits longer names the
collective and aborts the job. A rank whose Python raises tells the others, which exit
with status 1 naming it (see _group.py).
"""
from __future__ import annotations

import atexit
import datetime
import os

import numpy as np

from ._env import default_threads, launch_env
from .sampler import DistributedSampler

__all__ = ["init_process_group", "destroy_process_group", "is_available", "is_initialized", "is_mpi_available",
           "is_nccl_available", "get_rank", "get_world_size", "get_backend", "all_reduce", "broadcast",
           "barrier", "broadcast_object_list", "all_gather_object", "broadcast_parameters",
           "broadcast_optimizer_state", "ReduceOp", "Work", "DistributedSampler", "launch_env"]

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)

_group = None  # the default process group once init_process_group has run


class ReduceOp:
    """torch.distributed.ReduceOp: SUM, AVG (SUM then divide by the world size), PRODUCT, MIN, MAX."""
    SUM, AVG, PRODUCT, MIN, MAX = "sum", "avg", "product", "min", "max"


def is_available() -> bool:
    return True


def is_mpi_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("mpi4py") is not None


def is_nccl_available() -> bool:
    try:
        from cupy.cuda import nccl  # noqa: F401
    except Exception:
        return False
    return True


def is_initialized() -> bool:
    return _group is not None


def _timeout_seconds(timeout):
    if timeout is None:
        env = os.environ.get("NNKERNELS_DIST_TIMEOUT")
        if env:
            try:
                return float(env)
            except ValueError:
                raise ValueError(f"NNKERNELS_DIST_TIMEOUT={env!r} is not a number of seconds")
        timeout = DEFAULT_TIMEOUT
    s = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)
    if not s > 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout!r}")
    return s


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the job's process group (torch.distributed.init_process_group).

    backend: 'mpi' (default) or 'nccl'. The rank and world size come from the launcher
    (mpirun's variables, or RANK/WORLD_SIZE); `rank`/`world_size`, when given, must agree.
    init_method: only for 'nccl' without mpirun, 'file:///shared/path'.
    timeout: a datetime.timedelta or seconds, the limit on every collective.

    Unless OMP_NUM_THREADS is set, each rank then uses nk.set_num_threads(cores // ranks on
    this machine); call nk.set_num_threads afterwards to choose otherwise.
    """
    global _group
    if _group is not None:
        raise RuntimeError("init_process_group: the default process group is already initialized "
                           "(call destroy_process_group() first)")
    backend = "mpi" if backend is None else str(backend).lower()
    secs = _timeout_seconds(timeout)
    if backend == "mpi":
        from .mpi import MPIGroup
        g = MPIGroup(secs)
    elif backend == "nccl":
        from .nccl import NCCLGroup
        g = NCCLGroup(secs, init_method, rank, world_size)
    else:
        raise ValueError(f"init_process_group: backend must be 'mpi' or 'nccl', got {backend!r}"
                         + (" (nnkernels uses MPI where torch uses gloo)" if backend == "gloo" else ""))
    for name, want, have in (("world_size", world_size, g.size), ("rank", rank, g.rank)):
        if want is not None and want >= 0 and want != have:
            g.close()
            raise ValueError(f"init_process_group: {name}={want} was asked for but the launcher started this "
                             f"process as {name} {have} (start the job with mpirun -n N or "
                             f"python -m nnkernels.distributed.run -n N)")
    env = launch_env()
    if env.world_size is not None and env.world_size != g.size:
        g.close()
        raise RuntimeError(f"init_process_group: the environment says WORLD_SIZE={env.world_size} ({env.source}) "
                           f"but {backend} sees {g.size} process(es): start the job with mpirun -n "
                           f"{env.world_size} (or python -m nnkernels.distributed.run -n {env.world_size})")
    threads = default_threads(g.local_size)
    if threads is not None and g.size > 1:
        from .. import set_num_threads
        set_num_threads(threads)
    g.start_watchdog()
    _group = g
    atexit.register(_close_at_exit, g)  # before mpi4py's MPI_Finalize (atexit runs last-in first)
    return None


def _close_at_exit(g):
    if _group is g:
        destroy_process_group()


def destroy_process_group(group=None):
    """Leave the process group (the watchdog stops; MPI itself is finalized at exit by mpi4py)."""
    global _group
    if _group is not None:
        g, _group = _group, None
        g.close()


def _default(what):
    if _group is None:
        raise RuntimeError(f"{what}: the default process group has not been initialized; "
                           "call nnkernels.distributed.init_process_group() first")
    return _group


def _get_group(group, what):
    return group if group is not None else _default(what)


def get_rank(group=None) -> int:
    return _get_group(group, "get_rank").rank


def get_world_size(group=None) -> int:
    return _get_group(group, "get_world_size").size


def get_backend(group=None) -> str:
    return _get_group(group, "get_backend").backend


# ------------------------------------------------------------------ collectives
def _data(t):
    from ..autograd import Tensor
    return t.data if isinstance(t, Tensor) else t


class _InPlace:
    """The contiguous buffer a collective works on, and how to put its result back into `a`:
    a NumPy array is used as it is (a copy only when it is not contiguous); a CuPy array is
    used as it is with 'nccl' and staged through host memory with 'mpi'."""

    def __init__(self, g, t, what):
        from ..ops._common import is_cupy
        a = _data(t)
        self.a = a
        if is_cupy(a):
            if g.backend == "nccl":
                self.buf = a if a.flags.c_contiguous else a.copy()
            else:
                self.buf = a.get()
        elif isinstance(a, np.ndarray):
            if g.backend == "nccl":
                raise TypeError(f"{what}: the 'nccl' backend reduces CuPy arrays, got a NumPy array "
                                "(use backend 'mpi' for NumPy)")
            if not a.flags.writeable:
                raise ValueError(f"{what}: the array is read-only; collectives work in place")
            self.buf = a if a.flags.c_contiguous else np.ascontiguousarray(a)
        else:
            raise TypeError(f"{what}: expected a NumPy array, a CuPy array or an nk.Tensor, got {type(t).__name__}")
        g.check_dtype(self.buf.dtype, what)

    def finish(self):
        if self.buf is self.a:
            return
        if isinstance(self.a, np.ndarray) or not isinstance(self.buf, np.ndarray):
            self.a[...] = self.buf
        else:  # a CuPy array that went through host memory
            import cupy
            self.a[...] = cupy.asarray(self.buf)


def _avg(g, buf, what):
    if buf.dtype.kind != "f":
        raise TypeError(f"{what}: ReduceOp.AVG needs a floating dtype, got {buf.dtype}")
    buf /= buf.dtype.type(g.size)


class Work:
    """The handle `async_op=True` returns: `wait()` blocks until the collective is done
    (under the group's timeout), `is_completed()` tests without blocking."""

    def __init__(self, g, reqs, name, after=None):
        self.g, self.reqs, self.name, self.after, self.done = g, reqs, name, after, False

    def is_completed(self):
        if not self.done and self.g.test(self.reqs):
            self._finish()
        return self.done

    def wait(self, timeout=None):
        if not self.done:
            self.g.wait(self.reqs, self.name)
            self._finish()
        return True

    def _finish(self):
        self.done = True
        if self.after is not None:
            self.after()


def _op(op, what):
    if op not in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX):
        raise ValueError(f"{what}: op must be a ReduceOp (SUM, AVG, PRODUCT, MIN, MAX), got {op!r}")
    return op


_MPI_FAST_OPS = frozenset((ReduceOp.SUM, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX))
_MPI_CHARS = frozenset("fdbhilqBHILQ?")  # the dtypes the 'mpi' backend takes (mpi.py's _MPI_DTYPES)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce `tensor` over all ranks, in place, so every rank holds the result."""
    g = group if group is not None else _group
    if type(tensor) is np.ndarray and g is not None and g.backend == "mpi" and type(op) is str \
            and op in _MPI_FAST_OPS and tensor.dtype.char in _MPI_CHARS:
        f = tensor.flags                                # the common case, without the wrapping below
        if f.c_contiguous and f.writeable:
            if async_op:
                return Work(g, [g.iall_reduce(tensor, op)], "all_reduce")
            g.all_reduce(tensor, op)
            return None
    g = _get_group(group, "all_reduce")
    op = _op(op, "all_reduce")
    b = _InPlace(g, tensor, "all_reduce")
    if op == ReduceOp.AVG and b.buf.dtype.kind != "f":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating dtype, got {b.buf.dtype}")

    def after():
        if op == ReduceOp.AVG:
            _avg(g, b.buf, "all_reduce")
        b.finish()
    if async_op:
        return Work(g, [g.iall_reduce(b.buf, op)], "all_reduce", after)
    g.all_reduce(b.buf, op)
    after()
    return None


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank `src`'s `tensor` into every rank's, in place."""
    g = _get_group(group, "broadcast")
    if not isinstance(src, (int, np.integer)) or not 0 <= src < g.size:
        raise ValueError(f"broadcast: src must be a rank in [0, {g.size}), got {src!r}")
    b = _InPlace(g, tensor, "broadcast")
    g.broadcast(b.buf, int(src))
    b.finish()
    return Work(g, [], "broadcast") if async_op else None


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank has reached the barrier."""
    g = _get_group(group, "barrier")
    g.barrier()
    return Work(g, [], "barrier") if async_op else None


def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Replace object_list's items, on every rank, with rank `src`'s (pickled)."""
    g = _get_group(group, "broadcast_object_list")
    got = g.broadcast_object(list(object_list) if g.rank == src else None, src)
    if len(got) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {src} sent {len(got)} objects, this rank's list has "
                         f"{len(object_list)}")
    object_list[:] = got


def all_gather_object(object_list, obj, group=None):
    """object_list[r] = rank r's `obj` on every rank (pickled)."""
    g = _get_group(group, "all_gather_object")
    got = g.all_gather_object(obj)
    if len(object_list) != len(got):
        raise ValueError(f"all_gather_object: object_list must have world size {len(got)} entries, "
                         f"has {len(object_list)}")
    object_list[:] = got


# -------------------------------------------------- Horovod-style helpers (also used by DDP, fit)
def _coalesced_broadcast(tensors, src, g):
    """Broadcast many tensors' data with one message per dtype (flattened into one buffer)."""
    from ..autograd import array_module
    by_dtype = {}
    for t in tensors:
        by_dtype.setdefault(np.dtype(_data(t).dtype), []).append(_data(t))
    for arrs in by_dtype.values():
        xp = array_module(arrs[0])
        flat = xp.concatenate([xp.ravel(a) for a in arrs])
        host = flat if xp is np or g.backend == "nccl" else flat.get()
        g.broadcast(host, src)
        if host is not flat:
            flat = xp.asarray(host)
        off = 0
        for a in arrs:
            a[...] = flat[off:off + a.size].reshape(a.shape)
            off += a.size


def broadcast_parameters(params, root_rank=0, group=None):
    """Horovod's hvd.broadcast_parameters: rank `root_rank`'s values into every rank's tensors
    (an iterable of Tensors, or a state_dict-like mapping), one message per dtype."""
    g = _get_group(group, "broadcast_parameters")
    ts = list(params.values()) if isinstance(params, dict) else list(params)
    if g.size > 1 and ts:
        _coalesced_broadcast(ts, root_rank, g)


def broadcast_optimizer_state(optimizer, root_rank=0, group=None):
    """Horovod's hvd.broadcast_optimizer_state: rank `root_rank`'s optimizer state (momentum
    buffers, Adam moments, step counts) into every rank's, for an nnkernels.optim optimizer
    or a keras optimizer. Rank `root_rank`'s structure wins: state a rank lacks is created."""
    g = _get_group(group, "broadcast_optimizer_state")
    opt = getattr(optimizer, "_opt", optimizer)
    if g.size == 1 or opt is None:
        return
    params = [p for grp in opt.param_groups for p in grp["params"]]
    layout = None
    if g.rank == root_rank:
        layout = []
        for i, p in enumerate(params):
            st = opt.state.get(id(p), {})
            layout.append({k: (("array", v.shape, str(v.dtype)) if isinstance(v, np.ndarray) else ("value", v))
                           for k, v in st.items()})
        layout = (layout, [{k: v for k, v in grp.items() if k != "params"} for grp in opt.param_groups])
    layout, hyper = g.broadcast_object(layout, root_rank)
    arrays = []
    for p, entries in zip(params, layout):
        st = opt.state.setdefault(id(p), {})
        for k, spec in entries.items():
            if spec[0] == "array":
                if not (isinstance(st.get(k), np.ndarray) and st[k].shape == spec[1] and str(st[k].dtype) == spec[2]):
                    st[k] = np.zeros(spec[1], spec[2])
                arrays.append(st[k])
            else:
                st[k] = spec[1]
        if not entries:
            opt.state.pop(id(p), None)
    for grp, h in zip(opt.param_groups, hyper):
        grp.update(h)
    if arrays:
        _coalesced_broadcast(arrays, root_rank, g)
