"""Shared fixtures: every CPU code path this machine can run, seeded RNG, an optional torch."""
import numpy as np
import pytest

from helpers import rel_err  # noqa: F401  (test_gemm imports it from here)

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


TOL = {np.float32: 2e-5, np.float64: 1e-12}
