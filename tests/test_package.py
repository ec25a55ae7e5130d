"""The package itself: import without a GPU, config, threads, CPU path selection."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest

import nnkernels as nk


def test_show_config_lists_build():
    buf = io.StringIO()
    nk.show_config(file=buf)
    text = buf.getvalue()
    for key in ("cpu path", "cpu features", "threads", "cuda built", "build", "sgemm", "attention", "softmax"):
        assert key in text


def test_threads_roundtrip():
    before = nk.get_num_threads()
    try:
        nk.set_num_threads(1)
        assert nk.get_num_threads() == 1
        a = np.ones((300, 300), np.float32)
        assert np.allclose(nk.matmul(a, a), 300)
    finally:
        nk.set_num_threads(before)
    with pytest.raises(ValueError):
        nk.set_num_threads(0)


def _run(code, **env):
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, check=True).stdout


def test_env_selects_cpu_path_and_threads():
    assert _run("import nnkernels as nk; print(nk.cpu_path())", NNKERNELS_CPU="generic").strip() == "generic"
    assert _run("import nnkernels as nk; print(nk.get_num_threads())", OMP_NUM_THREADS="3").strip() == "3"
    for path in nk.cpu_paths():
        assert _run("import nnkernels as nk; print(nk.cpu_path())", NNKERNELS_CPU=path).strip() == path


def test_default_cpu_path_is_the_best_one():
    assert nk.cpu_paths()[0] == "generic"
    assert _run("import nnkernels as nk; print(nk.cpu_path())", NNKERNELS_CPU="auto").strip() == nk.cpu_paths()[-1]
    feats = nk._C.cpu_features()
    assert ("avx512" in nk.cpu_paths()) == feats["avx512"] and ("avx2" in nk.cpu_paths()) == feats["avx2_fma"]


def test_unrunnable_or_unknown_path_in_env_warns_and_falls_back():
    code = ("import warnings; warnings.simplefilter('always')\n"
            "import nnkernels as nk; print(nk.cpu_path())")
    r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, NNKERNELS_CPU="sse9"),
                       capture_output=True, text=True, check=True)
    assert r.stdout.strip() == nk.cpu_paths()[-1] and "NNKERNELS_CPU='sse9' ignored" in r.stderr
    if "avx512" not in nk.cpu_paths():  # a path this CPU cannot run
        r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, NNKERNELS_CPU="avx512"),
                           capture_output=True, text=True, check=True)
        assert r.stdout.strip() == nk.cpu_paths()[-1] and "cannot run it" in r.stderr
        with pytest.raises(RuntimeError, match="cannot run"):
            nk.set_cpu_path("avx512")


def test_kernel_table_names_each_family(cpu_path):
    names = nk._C.kernel_names()
    assert set(names) == {"sgemm", "dgemm", "attention", "rnn_gates", "softmax", "pool", "activations", "conv2d_fwd"}
    assert cpu_path in names["sgemm"] and cpu_path in names["dgemm"]
    want_conv = {"avx512": "conv_direct_avx512_14x32", "avx2": "conv_direct_avx2_6x16"}.get(cpu_path, "implicit GEMM on sgemm")
    assert names["conv2d_fwd"] == want_conv
    for path in nk.cpu_paths():
        assert nk._C.kernel_names(path)["sgemm"].startswith(f"sgemm_{path}_")


def test_bad_cpu_path_name():
    with pytest.raises(ValueError):
        nk.set_cpu_path("sse9")


def test_cuda_module_never_raises():
    assert isinstance(nk.cuda.is_available(), bool)
    nk.cuda.synchronize()
    assert isinstance(nk.cuda.info(), dict)


def test_cuda_extension_built_when_nvcc_present():
    import shutil
    if shutil.which("nvcc") is None or os.environ.get("NNKERNELS_CUDA") == "OFF":
        pytest.skip("no nvcc on this machine: _cuda is not expected")
    try:  # an installed build (a wheel) says whether it was built with NNKERNELS_CUDA=OFF
        from nnkernels import _build_info
        if _build_info.cuda_option == "OFF":
            pytest.skip("this build was made with NNKERNELS_CUDA=OFF: _cuda is not expected")
    except ImportError:
        pass
    assert nk._C.cuda_built
    from nnkernels import _cuda
    assert "90" in _cuda.architectures
    assert _cuda.device_count() >= 0


def test_main_selfcheck_runs():
    out = _run("import nnkernels.__main__ as m; m.main(['--quick'])")
    assert "self-check" in out and "FAIL" not in out


@pytest.mark.skipif(not os.environ.get("NNKERNELS_TEST_INSTALLED"),
                    reason="set by tools/test_wheel.sh, which runs the suite on the installed wheel")
def test_suite_runs_on_the_installed_wheel():
    tree = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pkg = os.path.dirname(os.path.abspath(nk.__file__))
    assert not pkg.startswith(tree + os.sep), f"imported {pkg}, from the source tree, not the wheel"
    from nnkernels import _build_info
    assert _build_info.wheel is True
    # typing ships with the wheel: the marker and the stubs of both extensions
    for name in ("py.typed", "_C.pyi", "_cuda.pyi"):
        assert os.path.isfile(os.path.join(pkg, name)), f"{name} missing from the installed wheel"


def test_examples_typecheck_against_the_stubs(tmp_path):
    """`mypy examples/` (pyproject's [tool.mypy]) passes against the package's stubs and annotations."""
    pytest.importorskip("mypy")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    parent = os.path.dirname(os.path.dirname(os.path.abspath(nk.__file__)))
    if parent == os.path.join(root, "python"):  # the source tree (mypy finds an installed one itself)
        env["MYPYPATH"] = parent
    r = subprocess.run([sys.executable, "-m", "mypy", "--config-file", os.path.join(root, "pyproject.toml"),
                        "--cache-dir", str(tmp_path / "cache"), os.path.join(root, "examples")],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
