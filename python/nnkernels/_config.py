"""Build and runtime configuration: threads, CPU path, and `show_config()`."""
from __future__ import annotations

import os
import platform
import sys
import warnings

from . import _C

__all__ = ["set_num_threads", "get_num_threads", "show_config", "cpu_path", "set_cpu_path"]


def set_num_threads(n: int) -> None:
    """Set the number of threads every nnkernels CPU kernel uses (from any Python thread)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    _C.set_num_threads(n)


def get_num_threads() -> int:
    """Threads the CPU kernels use; defaults to OMP_NUM_THREADS or the number of cores."""
    return _C.get_num_threads()


def cpu_path() -> str:
    """The CPU code path in use: ``'avx2'`` (AVX2/FMA kernels) or ``'generic'``."""
    return _C.cpu_isa()


def set_cpu_path(name: str) -> None:
    """Force a CPU code path (``'avx2'`` or ``'generic'``), like NNKERNELS_CPU does at import.

    Raises RuntimeError when this CPU cannot run the requested path.
    """
    if not _C.set_cpu_isa(name):
        raise RuntimeError(f"set_cpu_path: this CPU has no AVX2/FMA, cannot use {name!r}")


def _apply_env() -> None:
    want = os.environ.get("NNKERNELS_CPU", "").strip().lower()
    if want in ("", "auto"):
        return
    if want not in ("avx2", "generic"):
        warnings.warn(f"NNKERNELS_CPU={want!r} ignored: use 'avx2', 'generic' or 'auto'", RuntimeWarning)
    elif not _C.set_cpu_isa(want):
        warnings.warn("NNKERNELS_CPU=avx2 ignored: this CPU has no AVX2/FMA; using 'generic'", RuntimeWarning)


def show_config(file=None) -> None:
    """Print what this build of nnkernels has and what it will use."""
    from . import __version__, cuda
    import numpy as np

    out = file or sys.stdout
    lines = [
        f"nnkernels {__version__}",
        f"  python        {platform.python_version()} ({sys.executable})",
        f"  numpy         {np.__version__}",
        f"  cpu path      {_C.cpu_isa()} (AVX2/FMA on this CPU: {'yes' if _C.cpu_has_avx2_fma() else 'no'})",
        f"  gemm kernels  {_C.gemm_kernel_name(np.dtype(np.float32))}, {_C.gemm_kernel_name(np.dtype(np.float64))}",
        f"  threads       {get_num_threads()} (OpenMP {_C.openmp_version})",
        f"  cuda built    {'yes' if _C.cuda_built else 'no'}",
    ]
    info = cuda.info()
    if info.get("built"):
        lines.append(f"  cuda archs    {info['architectures']}")
        lines.append(f"  cuda runtime  {info['runtime_version']}, driver {info['driver_version'] or 'none'}")
        lines.append(f"  cuda devices  {', '.join(info['devices']) or 'none'}")
        lines.append(f"  cupy          {info['cupy'] or 'not installed'}")
    elif info.get("error"):
        lines.append(f"  cuda          extension present but failed to load: {info['error']}")
    lines.append(f"  cuda usable   {'yes' if cuda.is_available() else 'no'}")
    print("\n".join(lines), file=out)
