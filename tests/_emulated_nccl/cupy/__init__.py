"""A host-memory stand-in for CuPy with NCCL, for the distributed tests on machines without a GPU.

Only on the ranks' PYTHONPATH in tests/test_distributed.py::test_nccl_backend_emulated. Arrays
are NumPy arrays that pass for CuPy arrays (module 'cupy', `.data.ptr`, `.get()`); one
"device"; streams and events that are always done; and `cuda.nccl` (cuda/nccl.py), whose
communicator does each NCCL call with mpi4py on the memory behind the pointers it is given.
It checks the Python layer of nnkernels.distributed.nccl (pointers, counts, dtypes, ops,
roots, the unique-id exchange) and says nothing about NCCL itself.
"""
import types

import numpy as np

from . import cuda  # noqa: F401

float16, float32, float64, int32, int64, uint8, int8 = (np.float16, np.float32, np.float64, np.int32, np.int64,
                                                         np.uint8, np.int8)


class ndarray(np.ndarray):
    __module__ = "cupy"

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])

    def get(self):
        return np.array(self).view(np.ndarray)


def _emu(a):
    return np.ascontiguousarray(a).view(ndarray)


def asarray(a, dtype=None):
    return _emu(np.array(a, dtype))


def zeros(shape, dtype=np.float32):
    return _emu(np.zeros(shape, dtype))


def ones(shape, dtype=np.float32):
    return _emu(np.ones(shape, dtype))


def full(shape, fill, dtype=None):
    return _emu(np.full(shape, fill, dtype))


def arange(*a, dtype=None):
    return _emu(np.arange(*a, dtype=dtype))


def concatenate(arrs):
    return _emu(np.concatenate([np.asarray(a) for a in arrs]))


def ravel(a):
    return np.ravel(a)


def allclose(a, b):
    return bool(np.allclose(np.asarray(a), np.asarray(b)))


def asnumpy(a):
    return np.array(a).view(np.ndarray)
