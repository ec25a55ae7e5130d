"""Backend 'nccl': collectives on CuPy arrays through `cupy.cuda.nccl`, one GPU per rank.

Each rank takes the GPU `local_rank % device_count`. Rank 0 makes the NCCL unique id and
hands it to the others: over MPI when the job was started by mpirun and mpi4py is there,
otherwise through a shared file (`init_method='file:///path'`, written atomically by
rank 0 and read by the rest). Collectives are queued on CuPy's current stream and
waited for under the group's watchdog; on a timeout the communicator is aborted.

Untested here: this machine has no GPU. tests/test_distributed.py runs it where CuPy and
two GPUs (or one GPU shared by two ranks) are present, and skips with the reason otherwise.
"""
from __future__ import annotations

import os
import pickle
import time

import numpy as np

from ._env import launch_env, under_mpi_launcher
from ._group import ProcessGroup, _say


def _nccl():
    try:
        import cupy
        from cupy.cuda import nccl
    except ImportError as e:
        raise RuntimeError("nnkernels.distributed: the 'nccl' backend needs CuPy with NCCL "
                           f"(pip install \"nnkernels[cuda]\"); import failed: {e}") from e
    if not getattr(nccl, "available", True):
        raise RuntimeError("nnkernels.distributed: this CuPy was built without NCCL")
    return cupy, nccl


def _file_store_id(path, rank, make_id, timeout):
    """Rank 0 writes the id to `path` (temporary file + rename); the others wait for it."""
    if rank == 0:
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            pickle.dump(make_id(), f)
        os.replace(tmp, path)
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > end:
            raise RuntimeError(f"init_process_group('nccl'): rank 0 did not write {path} within {timeout:g} s")
        time.sleep(0.05)
    with open(path, "rb") as f:
        return pickle.load(f)


class NCCLGroup(ProcessGroup):
    backend = "nccl"

    def __init__(self, timeout, init_method=None, rank=-1, world_size=-1):
        cupy, nccl = self.cupy, self.nccl = _nccl()
        env = launch_env()
        mpi = None
        if under_mpi_launcher():
            try:
                from .mpi import MPIGroup
                mpi = MPIGroup(timeout)
            except RuntimeError:
                mpi = None
        if mpi is not None:
            rank, size = mpi.rank, mpi.size
        else:
            rank = env.rank if rank is None or rank < 0 else rank
            size = env.world_size if world_size is None or world_size < 0 else world_size
            if rank is None or size is None:
                raise RuntimeError("init_process_group('nccl'): no rank/world size: start the job with mpirun "
                                   "(or python -m nnkernels.distributed.run), or set RANK and WORLD_SIZE")
        super().__init__(rank, size, timeout)
        self.mpi = mpi  # failure notices and object collectives go over MPI when it is there
        self.can_notify = mpi is not None and mpi.can_notify
        self.local_rank = mpi.local_rank if mpi else (env.local_rank if env.local_rank is not None else rank)
        self.local_size = mpi.local_size if mpi else (env.local_size or 1)
        ndev = cupy.cuda.runtime.getDeviceCount()
        if ndev < 1:
            raise RuntimeError("init_process_group('nccl'): no CUDA device is visible")
        self.device = self.local_rank % ndev
        cupy.cuda.Device(self.device).use()
        if mpi is not None:
            uid = mpi.broadcast_object(nccl.get_unique_id() if rank == 0 else None, 0)
        elif init_method and init_method.startswith("file://"):
            uid = _file_store_id(init_method[len("file://"):], rank, nccl.get_unique_id, timeout)
        elif size == 1:
            uid = nccl.get_unique_id()
        else:
            raise RuntimeError("init_process_group('nccl'): without mpirun the ranks need a meeting point: "
                               "init_method='file:///a/shared/path'")
        with self.watch("init_process_group (ncclCommInitRank)"):
            self.comm = nccl.NcclCommunicator(size, uid, rank)
        self._dtypes = {np.dtype(np.float32): nccl.NCCL_FLOAT32, np.dtype(np.float64): nccl.NCCL_FLOAT64,
                        np.dtype(np.float16): nccl.NCCL_FLOAT16, np.dtype(np.int32): nccl.NCCL_INT32,
                        np.dtype(np.int64): nccl.NCCL_INT64, np.dtype(np.uint8): nccl.NCCL_UINT8,
                        np.dtype(np.int8): nccl.NCCL_INT8}
        self._ops = {"sum": nccl.NCCL_SUM, "avg": nccl.NCCL_SUM, "product": nccl.NCCL_PROD,
                     "min": nccl.NCCL_MIN, "max": nccl.NCCL_MAX}

    def check_dtype(self, dtype, what):
        if np.dtype(dtype) not in self._dtypes:
            raise TypeError(f"{what}: dtype {np.dtype(dtype)} is not supported by the 'nccl' backend "
                            f"(use one of {sorted(str(d) for d in self._dtypes)})")

    def _stream(self):
        return self.cupy.cuda.get_current_stream()

    def _sync(self, name, stream):
        with self.watch(name):
            stream.synchronize()

    # -- collectives on contiguous CuPy arrays, in place
    def all_reduce(self, buf, op="sum"):
        s = self._stream()
        self.comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, self._dtypes[buf.dtype], self._ops[op], s.ptr)
        self._sync("all_reduce", s)

    def iall_reduce(self, buf, op="sum"):
        s = self._stream()
        self.comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, self._dtypes[buf.dtype], self._ops[op], s.ptr)
        ev = self.cupy.cuda.Event(disable_timing=True)
        ev.record(s)
        return ev

    def test(self, reqs):
        return all(ev.done for ev in reqs)

    def wait(self, reqs, name="all_reduce"):
        with self.watch(name):
            for ev in reqs:
                ev.synchronize()

    def broadcast(self, buf, src):
        s = self._stream()
        self.comm.bcast(buf.data.ptr, buf.size, self._dtypes[buf.dtype], src, s.ptr)
        self._sync("broadcast", s)

    def barrier(self):
        one = self.cupy.ones(1, self.cupy.float32)
        self.all_reduce(one)

    def broadcast_object(self, obj, src):
        if self.mpi is not None:
            return self.mpi.broadcast_object(obj, src)
        data = np.frombuffer(pickle.dumps(obj), np.uint8) if self.rank == src else np.zeros(0, np.uint8)
        n = self.cupy.asarray(np.array([data.size], np.int64))
        self.broadcast(n, src)
        buf = self.cupy.asarray(data) if self.rank == src else self.cupy.zeros(int(n.get()[0]), self.cupy.uint8)
        self.broadcast(buf, src)
        return obj if self.rank == src else pickle.loads(buf.get().tobytes())

    def all_gather_object(self, obj):
        if self.mpi is not None:
            return self.mpi.all_gather_object(obj)
        return [self.broadcast_object(obj if r == self.rank else None, r) for r in range(self.size)]

    # -- failure
    def _notify_peers(self, what, grace):
        if self.mpi is not None:
            self.mpi._notify_peers(what, grace)

    def _poll_notice(self):
        return self.mpi._poll_notice() if self.mpi is not None else None

    def _ack(self, src):
        if self.mpi is not None:
            self.mpi._ack(src)

    def _abort(self, code):
        try:
            self.comm.abort()
        except Exception as e:
            _say(f"rank {self.rank}: ncclCommAbort failed: {e}")
        if self.mpi is not None:
            self.mpi._abort(code)
        os._exit(code)

    def close(self):
        super().close()
        try:
            self.comm.destroy()
        except Exception:
            pass
        if self.mpi is not None:
            self.mpi.close()
