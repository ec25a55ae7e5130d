#!/usr/bin/env bash
# Test the wheel in wheelhouse/ the way a user gets it: a fresh venv, no compiler reachable
# (CC/CXX point nowhere), the README's two commands, the tests run from outside the source
# tree so that they import the installed wheel, not python/.
#   tools/test_wheel.sh        # main job with --quick, the suite, then the generic path
#   tools/test_wheel.sh --ci   # what .ci/run does: PyTorch in the venv for the comparisons,
#                              # the full main job, and on an AVX-512 CPU a second pass of
#                              # the suite on the avx2 path
set -euo pipefail
ci=0
if [ "${1:-}" = --ci ]; then ci=1; fi
cd "$(dirname "$0")/.."
n=$(ls wheelhouse/nnkernels-*.whl | wc -l)
[ "$n" = 1 ] || { echo "test_wheel: expected one wheel in wheelhouse/, found $n" >&2; exit 1; }
PY=${PYTHON:-python3}
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
"$PY" -m venv "$venv"
. "$venv/bin/activate"
python -m pip install -q --upgrade pip
if [ $ci = 1 ]; then
  # PyTorch (CPU build) for the tests that compare against it; never a dependency.
  pip install -q torch==2.13.0 || echo "test_wheel: torch==2.13.0 unavailable, torch comparisons will skip"
fi
export CC=/nonexistent/cc CXX=/nonexistent/c++
# tests/test_package.py checks that the suite runs on this installed wheel, not on python/.
export NNKERNELS_TEST_INSTALLED=1

# README, command 1: install the wheel and run the main job.
if [ $ci = 1 ]; then
  pip install wheelhouse/nnkernels-*.whl && python -m nnkernels
else
  pip install wheelhouse/nnkernels-*.whl && python -m nnkernels --quick
fi
python -c "import nnkernels; nnkernels.show_config()"

# README, command 2: install the test extra and run the tests from outside the source tree.
pip install "$(ls wheelhouse/nnkernels-*.whl)[test]" && (cd "$(mktemp -d)" && python -m pytest "$OLDPWD/tests")

if [ $ci = 1 ] && python -c "import nnkernels as nk, sys; sys.exit('avx512' not in nk.cpu_paths())"; then
  # On an AVX-512 CPU the run above used the avx512 path wherever a test does not choose one
  # (the op tests run every path the CPU can run): once more on avx2, so that the
  # model-level tests also cover the path AVX2-only CPUs take.
  (cd "$(mktemp -d)" && NNKERNELS_CPU=avx2 python -m pytest -q -p no:cacheprovider "$OLDPWD/tests")
fi
# A CPU without AVX2: the generic path forced for the whole process, plus the ISA-isolation
# test (it reads the object files in build/, where tools/build_wheel.sh built the wheel).
(cd "$(mktemp -d)" && NNKERNELS_CPU=generic python -m pytest -q -p no:cacheprovider \
  "$OLDPWD/tests/test_package.py" "$OLDPWD/tests/test_gemm.py" "$OLDPWD/tests/test_isa_isolation.py")
