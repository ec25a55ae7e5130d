#!/usr/bin/env bash
# Test a built wheel the way a user gets it: a fresh venv, no compiler reachable
# (CC/CXX point nowhere), run from outside the source tree so the tests import the
# installed package, not python/.
#   tools/test_wheel.sh [wheelhouse/nnkernels-*.whl]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
whl=$(readlink -f "${1:-$(ls "$root"/wheelhouse/nnkernels-*manylinux*.whl | head -1)}")
PY=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" -m venv "$work/venv"
. "$work/venv/bin/activate"
python -m pip install -q --upgrade pip
pip install -q "$whl[test]"
export CC=/nonexistent/cc CXX=/nonexistent/c++
cd "$work"
python -c "import nnkernels, sys; f = nnkernels.__file__; print(f); sys.exit('not the installed wheel' if '$root' in f else 0)"
python -c "import nnkernels; nnkernels.show_config()"
python -m nnkernels --quick
python -m pytest -q -p no:cacheprovider "$root/tests"
# A CPU without AVX2: the generic path forced for the whole process, plus the ISA-isolation test.
NNKERNELS_CPU=generic python -m pytest -q -p no:cacheprovider "$root/tests/test_package.py" \
  "$root/tests/test_gemm.py" "$root/tests/test_isa_isolation.py"
