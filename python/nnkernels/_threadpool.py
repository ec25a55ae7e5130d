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
