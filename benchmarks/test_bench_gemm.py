"""GEMM: nnkernels vs NumPy (OpenBLAS) and PyTorch, square, skinny and batched shapes.

    python -m pytest benchmarks/test_bench_gemm.py --benchmark-only
"""
import pytest

from conftest import bench_params, run_row


@pytest.mark.parametrize("row,who", bench_params("gemm"))
def test_gemm(benchmark, row, who):
    run_row(benchmark, row, who)
