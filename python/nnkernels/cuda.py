"""The optional GPU path. Importing this never fails: without the `_cuda` extension,
a driver, a device or CuPy, `is_available()` is simply False."""
from __future__ import annotations

import functools

__all__ = ["is_available", "require", "synchronize", "device_count", "info"]


@functools.lru_cache(maxsize=None)
def _load():
    """(module or None, error text or None)."""
    try:
        from . import _cuda  # noqa: F401
    except ImportError as e:  # not built, or libraries missing
        return None, str(e)
    return _cuda, None


def _cupy():
    try:
        import cupy
    except Exception:  # CuPy absent, or present without a usable CUDA
        return None
    return cupy


def device_count() -> int:
    mod, _ = _load()
    return mod.device_count() if mod is not None else 0


def is_available() -> bool:
    """True when the CUDA kernels can run: `_cuda` built, a device visible, CuPy importable."""
    return device_count() > 0 and _cupy() is not None


def require(what: str = "CUDA") -> None:
    """Return when `is_available()`; else RuntimeError saying which part is missing (the
    `_cuda` extension, a driver/device, or CuPy) for `what` (e.g. "Tensor.to('cuda')")."""
    if is_available():
        return
    mod, err = _load()
    if mod is None:
        from . import _C

        why = (f"the _cuda extension does not load ({err})" if _C.cuda_built else
               "this build has no _cuda extension (built with NNKERNELS_CUDA=OFF)")
    elif mod.device_count() == 0:
        why = "no CUDA device is visible (no GPU, or no working NVIDIA driver)"
    else:
        why = "CuPy is not importable (pip install cupy-cuda12x)"
    raise RuntimeError(f"{what}: CUDA is not usable here: {why}")


def synchronize() -> None:
    """Wait for all work on the current CuPy device (no-op without a GPU)."""
    cp = _cupy()
    if cp is not None and device_count() > 0:
        cp.cuda.get_current_stream().synchronize()


def info() -> dict:
    mod, err = _load()
    if mod is None:
        from . import _C

        return {"built": False, "error": err if _C.cuda_built else None}
    n = mod.device_count()
    cp = _cupy()
    return {
        "built": True,
        "architectures": mod.architectures,
        "runtime_version": mod.runtime_version(),
        "driver_version": mod.driver_version(),
        "devices": [mod.device_name(i) for i in range(n)],
        "cupy": getattr(cp, "__version__", None),
    }
