"""Shared fixtures: every CPU code path this machine can run, seeded RNG, an optional torch."""
import numpy as np
import pytest

import nnkernels as nk

CPU_PATHS = nk.cpu_paths()[::-1]  # e.g. ["avx512", "avx2", "generic"]


@pytest.fixture(params=CPU_PATHS)
def cpu_path(request):
    """Run the test on each CPU code path this machine can execute."""
    before = nk.cpu_path()
    nk.set_cpu_path(request.param)
    yield request.param
    nk.set_cpu_path(before)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def rel_err(x, ref):
    x = np.asarray(x, np.float64)
    ref = np.asarray(ref, np.float64)
    if ref.size == 0:
        return 0.0
    return float(np.max(np.abs(x - ref)) / max(np.max(np.abs(ref)), 1e-30))


TOL = {np.float32: 2e-5, np.float64: 1e-12}
