"""threadpoolctl support: `threadpool_info()` lists nnkernels's kernel threads and
`threadpool_limits(n)` limits them, as it does OpenBLAS and OpenMP.

nnkernels runs its CPU kernels on a thread pool of its own (csrc/runtime/threads.h), not on
OpenMP, so threadpoolctl needs a controller for it. The controller finds the loaded `_C`
extension by its file name and by the two C entry points it exports
(`nnkernels_get_num_threads`, `nnkernels_set_num_threads`); its user_api is "nnkernels":

    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):                       # every pool, nnkernels included
        ...
    with threadpool_limits(1, user_api="nnkernels"):  # nnkernels alone
        ...

Registered when nnkernels is imported, if threadpoolctl (>= 3.5, which has `register`) is
installed; nothing is imported or required otherwise.
"""
from __future__ import annotations

import ctypes
import os


def register() -> bool:
    """Register the controller with threadpoolctl; False when threadpoolctl is absent/old."""
    try:
        import threadpoolctl
    except ImportError:
        return False
    if not hasattr(threadpoolctl, "register") or not hasattr(threadpoolctl, "LibController"):
        return False

    class NnkernelsController(threadpoolctl.LibController):
        user_api = "nnkernels"
        internal_api = "nnkernels"
        # threadpoolctl compares lower-cased file names: "_c.cpython-311-x86_64-linux-gnu.so".
        # torch's "_C" shares the prefix; check_symbols tells the two apart.
        filename_prefixes = ("_c.",)
        check_symbols = ("nnkernels_get_num_threads", "nnkernels_set_num_threads")

        def get_num_threads(self):
            return int(self.dynlib.nnkernels_get_num_threads())

        def set_num_threads(self, num_threads):
            self.dynlib.nnkernels_set_num_threads(int(num_threads))

        def get_version(self):
            from . import __version__
            return __version__

    if not any(getattr(c, "internal_api", None) == "nnkernels"
               for c in getattr(threadpoolctl, "_ALL_CONTROLLERS", [])):
        threadpoolctl.register(NnkernelsController)
    return True


def _openblas_libraries():
    """(path, set_callback_symbol) for every OpenBLAS loaded in the process that has
    openblas_set_threads_callback_function (OpenBLAS >= 0.3.27), NumPy's included."""
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1] if "/" in line else ""
                if "openblas" in os.path.basename(p).lower() and ".so" in p and p not in paths:
                    paths.append(p)
    except OSError:
        return []
    found = []
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
        except OSError:
            continue
        for prefix in ("", "scipy_"):
            for suffix in ("", "64_"):
                name = f"{prefix}openblas_set_threads_callback_function{suffix}"
                if hasattr(lib, name):
                    found.append((p, getattr(lib, name)))
                    break
            else:
                continue
            break
    return found


def share_threads_with_blas(enable: bool = True) -> list:
    """Run NumPy's OpenBLAS threads on nnkernels's pool (or give them back with False).

    OpenBLAS's idle threads keep polling their core for ~0.1 s after every call, and on a
    machine with as many cores as threads that halves the core for whatever runs next,
    nnkernels included (benchmarks/coexist.py, `pipeline` and `loop`). With this on, each
    OpenBLAS call hands its jobs to nnkernels's pool through OpenBLAS's threading callback
    (`openblas_set_threads_callback_function`, OpenBLAS >= 0.3.27), so one pool serves both
    libraries and nothing spins after a call. OpenBLAS keeps its own thread count.

    On by default: `import nnkernels` turns it on (NNKERNELS_SHARE_BLAS=0 leaves OpenBLAS's
    threads alone). Call it from the main thread while no BLAS call runs (OpenBLAS reads the
    callback without a lock). Returns the paths of the OpenBLAS libraries changed ([] if none
    has the callback). A BLAS call made while the pool is busy (from another Python thread
    during an nnkernels call) runs on threads started for that call.
    """
    from . import _C
    fn = 0
    if enable:
        cb = getattr(ctypes.CDLL(_C.__file__), "nnkernels_openblas_threads_callback")
        fn = ctypes.cast(cb, ctypes.c_void_p).value
    changed = []
    for path, setter in _openblas_libraries():
        setter.argtypes = [ctypes.c_void_p]
        setter.restype = None
        setter(ctypes.c_void_p(fn) if fn else None)
        changed.append(path)
    return changed
