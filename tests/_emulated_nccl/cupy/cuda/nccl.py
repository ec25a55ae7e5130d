"""cupy.cuda.nccl stand-in: each call is done with mpi4py on the memory behind the pointers."""
import ctypes
import os

import numpy as np

NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_INT64, NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 0, 1, 2, 4, 6, 7, 8
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN = 0, 1, 2, 3
_DT = {NCCL_INT8: np.int8, NCCL_UINT8: np.uint8, NCCL_INT32: np.int32, NCCL_INT64: np.int64,
       NCCL_FLOAT16: np.float16, NCCL_FLOAT32: np.float32, NCCL_FLOAT64: np.float64}
available = True
calls = []


def get_unique_id():
    return tuple(int(b) for b in os.urandom(16))


def _view(ptr, count, dtype):
    dt = np.dtype(_DT[dtype])
    if count == 0:
        return np.zeros(0, dt)
    assert ptr, "null device pointer"
    return np.frombuffer((ctypes.c_char * (count * dt.itemsize)).from_address(ptr), dt)


class NcclCommunicator:
    def __init__(self, ndev, commId, rank):
        from mpi4py import MPI
        self.MPI, self.comm = MPI, MPI.COMM_WORLD.Dup()
        assert self.comm.Get_size() == ndev and self.comm.Get_rank() == rank, (ndev, rank)
        ids = self.comm.allgather(commId)
        assert all(i == ids[0] for i in ids), "the ranks were given different NCCL unique ids"
        self._ops = {NCCL_SUM: MPI.SUM, NCCL_PROD: MPI.PROD, NCCL_MAX: MPI.MAX, NCCL_MIN: MPI.MIN}

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        calls.append("allReduce")
        recv = _view(recvbuf, count, datatype)
        send = self.MPI.IN_PLACE if sendbuf == recvbuf else _view(sendbuf, count, datatype).copy()
        self.comm.Allreduce(send, recv, op=self._ops[op])

    def bcast(self, buff, count, datatype, root, stream):
        calls.append("bcast")
        self.comm.Bcast(_view(buff, count, datatype), root=root)

    def abort(self):
        pass

    def destroy(self):
        self.comm.Free()
