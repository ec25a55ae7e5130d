"""Build and runtime configuration: threads, CPU path, and `show_config()`."""
from __future__ import annotations

import os
import platform
import sys
import warnings

from . import _C

__all__ = ["set_num_threads", "get_num_threads", "show_config", "cpu_path", "set_cpu_path", "cpu_paths"]

PATHS = ("generic", "avx2", "avx512")


def set_num_threads(n: int) -> None:
    """Set the number of threads every nnkernels CPU kernel uses (from any Python thread)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    _C.set_num_threads(n)


def get_num_threads() -> int:
    """Threads the CPU kernels use; defaults to NNKERNELS_NUM_THREADS, else OMP_NUM_THREADS,
    else the CPUs this process may run on."""
    return _C.get_num_threads()


def cpu_path() -> str:
    """The CPU code path in use: ``'avx512'``, ``'avx2'`` (AVX2/FMA) or ``'generic'``."""
    return _C.cpu_isa()


def cpu_paths() -> list:
    """The CPU code paths this CPU can run, lowest first (``'generic'`` is always there)."""
    return list(_C.cpu_paths())


def set_cpu_path(name: str) -> None:
    """Force a CPU code path (``'avx512'``, ``'avx2'`` or ``'generic'``), as NNKERNELS_CPU does at
    import. Not meant to be called while other threads run nnkernels kernels.

    Raises ValueError for an unknown name and RuntimeError when this CPU cannot run the path.
    """
    if name not in PATHS:
        raise ValueError(f"set_cpu_path: path must be one of {PATHS}, got {name!r}")
    if not _C.set_cpu_isa(name):
        raise RuntimeError(f"set_cpu_path: this CPU cannot run {name!r} (it can run {cpu_paths()})")


def _apply_env() -> None:
    want = os.environ.get("NNKERNELS_CPU", "").strip().lower()
    if want in ("", "auto"):
        return
    if want not in PATHS:
        warnings.warn(f"NNKERNELS_CPU={want!r} ignored: use one of {PATHS} or 'auto'; using {cpu_path()!r}",
                      RuntimeWarning)
    elif not _C.set_cpu_isa(want):
        warnings.warn(f"NNKERNELS_CPU={want} ignored: this CPU cannot run it; using {cpu_path()!r}",
                      RuntimeWarning)


def _build_lines() -> list:
    """How _C was built, from the module CMake generates (absent in a source-tree run)."""
    try:
        from . import _build_info as b
    except ImportError:
        return ["  build         source tree (no _build_info: not an installed build)"]
    return [
        f"  build         {'wheel' if b.wheel else 'from source'}, git {b.git_revision}, {b.build_type}",
        f"  compiler      {b.compiler}",
        f"  flags         {b.flags}; {b.isa_flags}",
        f"  cuda build    {b.cuda}",
    ]


def show_config(file=None) -> None:
    """Print what this build of nnkernels has and what it will use."""
    from . import __version__, cuda
    import numpy as np

    out = file or sys.stdout
    lines = [
        f"nnkernels {__version__}",
        f"  python        {platform.python_version()} ({sys.executable})",
        f"  numpy         {np.__version__}",
        f"  cpu path      {_C.cpu_isa()} (this CPU can run: {', '.join(cpu_paths())})",
        f"  cpu features  {', '.join(k for k, v in _C.cpu_features().items() if v) or 'none beyond SSE2'}",
    ]
    lines += [f"  {fam:<13} {name}" for fam, name in _C.kernel_names().items()]
    lines += [
        f"  threads       {get_num_threads()} (own pool; idle threads park after {_C.get_spin_us()} µs)",
        f"  cuda built    {'yes' if _C.cuda_built else 'no'}",
    ]
    lines += _build_lines()
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
