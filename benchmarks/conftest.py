"""pytest-benchmark suites: each test times one implementation of one row; rows of
the same shape share a benchmark group so nnkernels and its peers print side by side.
`python benchmarks/report.py` writes the ratio tables into RESULTS.md."""
import pytest

import nnkernels as nk
from nnkernels import bench


def pytest_configure(config):
    torch = bench.try_torch()
    bench.sync_threads(torch, nk.get_num_threads())


def bench_params(family: str, quick: bool = False):
    """(row, implementation) pairs of a family, as pytest params with readable ids."""
    params = []
    for row in bench.family(family).rows(quick):
        for who in ["nnkernels", *row.peers]:
            params.append(pytest.param(row, who, id=f"{row.label}-{who}".replace("×", "x").replace(" ", "")))
    return params


def run_row(benchmark, row, who):
    benchmark.group = f"{row.group} {row.label}"
    if who == "nnkernels" and row.check is not None:
        err = row.check()
        assert err <= row.tol, f"{row.label}: rel err {err:.2e} > {row.tol}"
    fn = row.ours if who == "nnkernels" else row.peers[who]
    benchmark.extra_info["work"] = row.work
    benchmark.extra_info["unit"] = row.unit
    benchmark(fn)
