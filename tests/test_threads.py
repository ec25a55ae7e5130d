"""The kernel thread runtime (csrc/runtime/threads.h): correctness under concurrency, thread
controls (set_num_threads, threadpoolctl), fork, and no OpenMP in the process.

Nothing here measures time: benchmarks/coexist.py does (issue 17).
"""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import nnkernels as nk
from nnkernels import _C

# The directory nnkernels was imported from (python/ in a source tree, site-packages for a wheel),
# so the subprocesses import the same package the tests do.
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(nk.__file__)))


def _run(code, **env):
    e = dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""), **env)
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                          timeout=120, check=True).stdout


@pytest.fixture
def threads_restored():
    n, spin = nk.get_num_threads(), _C.get_spin_us()
    yield
    nk.set_num_threads(n)
    _C.set_spin_us(spin)


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_runtime_barriers_and_loops(threads_restored, threads):
    # Team regions with barriers and loops that must cover each index once; teams of any
    # size the pool forms (oversubscribed ones included).
    assert _C._runtime_check(300, threads) == 0


@pytest.mark.parametrize("spin_us", [0, 5, 100000])
def test_spin_window_does_not_change_results(threads_restored, spin_us, rng):
    _C.set_spin_us(spin_us)
    assert _C.get_spin_us() == spin_us
    nk.set_num_threads(2)
    a = rng.standard_normal((300, 257), dtype=np.float32)
    b = rng.standard_normal((257, 190), dtype=np.float32)
    ref = a.astype(np.float64) @ b
    for _ in range(5):
        assert np.abs(nk.matmul(a, b) - ref).max() <= 1e-3 * np.abs(ref).max()
    assert _C._runtime_check(50, 2) == 0


def _workloads(rng):
    """(name, fn, reference) triples covering GEMM, conv, pooling, softmax and the LSTM."""
    a = rng.standard_normal((160, 130), dtype=np.float32)
    b = rng.standard_normal((130, 150), dtype=np.float32)
    x = rng.standard_normal((4, 6, 19, 17), dtype=np.float32)
    w = rng.standard_normal((5, 6, 3, 3), dtype=np.float32)
    s = rng.standard_normal((64, 333), dtype=np.float32)
    items = [
        ("matmul", lambda: nk.matmul(a, b), nk.matmul(a, b)),
        ("conv2d", lambda: nk.conv2d(x, w, padding=1), nk.conv2d(x, w, padding=1)),
        ("max_pool2d", lambda: nk.max_pool2d(x, 2), nk.max_pool2d(x, 2)),
        ("softmax", lambda: nk.softmax(s, axis=-1), nk.softmax(s, axis=-1)),
    ]
    return items


def test_concurrent_calls_from_python_threads(threads_restored, rng):
    # Several Python threads call kernels at once (the GIL is released inside them) while
    # another keeps changing the thread count; every result must equal the serial one.
    nk.set_num_threads(1)
    work = _workloads(rng)           # references computed on one thread
    nk.set_num_threads(2)
    errors, stop = [], threading.Event()

    def caller(k):
        try:
            for i in range(40):
                name, fn, ref = work[(k + i) % len(work)]
                out = fn()
                if not np.allclose(out, ref, rtol=1e-5, atol=1e-5):
                    errors.append(f"{name}: max diff {np.abs(out - ref).max()}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    def changer():
        n = 0
        while not stop.is_set():
            nk.set_num_threads(1 + n % 3)
            n += 1

    ts = [threading.Thread(target=caller, args=(k,)) for k in range(4)]
    ch = threading.Thread(target=changer)
    ch.start()
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=300)
    stop.set()
    ch.join(timeout=60)
    assert not any(t.is_alive() for t in ts), "a kernel call hung"
    assert errors == []


def test_set_num_threads_from_another_thread(threads_restored):
    t = threading.Thread(target=nk.set_num_threads, args=(3,))
    t.start()
    t.join()
    assert nk.get_num_threads() == 3            # one value for the process, not per thread


def test_set_num_threads_rejects_bad_values():
    with pytest.raises(ValueError, match="set_num_threads"):
        nk.set_num_threads(0)


def test_thread_count_from_environment():
    code = "import nnkernels as nk; print(nk.get_num_threads())"
    assert _run(code, NNKERNELS_NUM_THREADS="3").strip() == "3"
    assert _run(code, NNKERNELS_NUM_THREADS="5", OMP_NUM_THREADS="2").strip() == "5"
    assert _run(code, OMP_NUM_THREADS="4,2").strip() == "4"      # an OpenMP nesting list


def test_spin_window_from_environment():
    assert _run("import nnkernels as nk; print(nk._C.get_spin_us())", NNKERNELS_SPIN_US="7").strip() == "7"


def test_no_openmp_runtime_is_loaded():
    # One runtime for every parallel region: importing and running nnkernels loads no OpenMP.
    code = ("import numpy as np, nnkernels as nk; nk.set_num_threads(2); "
            "nk.matmul(np.ones((300, 300), np.float32), np.ones((300, 300), np.float32)); "
            "print(open('/proc/self/maps').read())")
    maps = _run(code)
    assert "libgomp" not in maps and "libiomp" not in maps and "libomp.so" not in maps


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_after_parallel_work():
    # The pool's workers do not survive fork(); the child starts a fresh pool and its
    # parallel calls finish with the right result.
    code = """
import os, numpy as np, nnkernels as nk
nk.set_num_threads(2)
a = np.arange(300 * 300, dtype=np.float32).reshape(300, 300) / 9e4
ref = nk.matmul(a, a)
pid = os.fork()
if pid == 0:
    ok = all(np.allclose(nk.matmul(a, a), ref) for _ in range(20)) and nk._C._runtime_check(50, 2) == 0
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""
    assert _run(code).strip() == "0"


def test_threadpoolctl_sees_and_limits_nnkernels(threads_restored):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not hasattr(threadpoolctl, "register"):
        pytest.skip("threadpoolctl < 3.5 has no register()")
    nk.set_num_threads(2)
    info = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "nnkernels"]
    assert len(info) == 1 and info[0]["num_threads"] == 2 and info[0]["user_api"] == "nnkernels"
    assert info[0]["version"] == nk.__version__
    with threadpoolctl.threadpool_limits(1):
        assert nk.get_num_threads() == 1
    assert nk.get_num_threads() == 2
    with threadpoolctl.threadpool_limits(limits=1, user_api="nnkernels"):
        assert nk.get_num_threads() == 1
    assert nk.get_num_threads() == 2


def _blas_shared():
    from nnkernels._threadpool import _openblas_libraries
    return bool(_openblas_libraries())


needs_shared_blas = pytest.mark.skipif(not _blas_shared(), reason="NumPy's BLAS is not an OpenBLAS "
                                       "with openblas_set_threads_callback_function (>= 0.3.27)")


@needs_shared_blas
def test_numpy_blas_on_the_pool_is_correct(rng):
    a = rng.standard_normal((700, 500))
    b = rng.standard_normal((500, 600))
    ref = (a.astype(np.longdouble) @ b).astype(np.float64)
    try:
        assert nk.share_threads_with_blas(True)            # on by default; idempotent
        _C._thread_stats()
        on = a @ b
        assert _C._thread_stats()["regions"] >= 1          # OpenBLAS's jobs ran on the pool
        assert nk.share_threads_with_blas(False)
        off = a @ b
    finally:
        nk.share_threads_with_blas(os.environ.get("NNKERNELS_SHARE_BLAS", "1") != "0")
    assert np.abs(on - ref).max() <= 1e-10 * np.abs(ref).max()
    assert np.abs(off - ref).max() <= 1e-10 * np.abs(ref).max()


@needs_shared_blas
def test_numpy_blas_from_python_threads_beside_kernels(rng):
    # NumPy BLAS calls from several threads at once, beside nnkernels calls: whoever finds
    # the pool busy runs its OpenBLAS jobs on threads of its own; nothing hangs.
    nk.share_threads_with_blas(True)
    a = rng.standard_normal((400, 400))
    ref = a @ a
    x = rng.standard_normal((8, 16, 30, 30), dtype=np.float32)
    w = rng.standard_normal((16, 16, 3, 3), dtype=np.float32)
    yref = nk.conv2d(x, w, padding=1)
    errors = []

    def numpy_user():
        for _ in range(20):
            if not np.allclose(a @ a, ref, rtol=1e-12, atol=1e-9):
                errors.append("numpy matmul differs")

    def nk_user():
        for _ in range(10):
            if not np.allclose(nk.conv2d(x, w, padding=1), yref, rtol=1e-5, atol=1e-5):
                errors.append("conv2d differs")

    ts = [threading.Thread(target=numpy_user) for _ in range(3)] + [threading.Thread(target=nk_user)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in ts), "a call hung"
    assert errors == []


@needs_shared_blas
def test_numpy_blas_after_fork_with_shared_pool():
    code = """
import os, numpy as np, nnkernels as nk
a = np.arange(500 * 500, dtype=np.float64).reshape(500, 500) / 2.5e5
ref = a @ a
pid = os.fork()
if pid == 0:
    os._exit(0 if all(np.allclose(a @ a, ref) for _ in range(10)) else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), len(nk.share_threads_with_blas(True)) > 0)
"""
    assert _run(code).split() == ["0", "True"]
