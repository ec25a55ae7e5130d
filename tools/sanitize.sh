#!/usr/bin/env bash
# Build _C with AddressSanitizer + UndefinedBehaviorSanitizer into a venv of its own, then run
# the test suite and the fuzz test's short profile under it, libasan preloaded, leak checks on.
#
#   tools/sanitize.sh                 # whole suite + fuzz short profile
#   tools/sanitize.sh tests/test_pool.py tests/test_fuzz.py   # only these pytest arguments
#
# Environment: PYTHON (interpreter for the venv, default python3), NK_SAN_REUSE=1 (skip the
# rebuild, rerun only), NK_SAN_VENV (default
# /tmp/nnkernels-sanitize/venv), NK_SAN_BUILD (CMake build dir, default /tmp/nnkernels-sanitize/build),
# NNKERNELS_SANITIZE (default address,undefined). Exit status 0 only when every test passed and
# no sanitizer reported anything: ASan/UBSan errors abort the process (the fuzz worker reports
# them as failing cases), and leaks whose allocation stack passes through _C fail the run
# (leaks of CPython/NumPy's own allocations at exit are listed in the log, not counted; a
# leak report alone does not change a process's exit status, exitcode=0, so the tests that
# start Python subprocesses still pass: the log decides).
# PyTorch is not installed in that venv, so the comparisons against torch are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
BASE=/tmp/nnkernels-sanitize
VENV=${NK_SAN_VENV:-$BASE/venv}
BUILD=${NK_SAN_BUILD:-$BASE/build}
LOGS=$BASE/logs
export NNKERNELS_SANITIZE=${NNKERNELS_SANITIZE:-address,undefined}
mkdir -p "$BASE" "$LOGS"
rm -f "$LOGS"/*

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
. "$VENV/bin/activate"
pip install -q numpy pytest pytest-benchmark hypothesis
# The sanitized build, in its own build directory (never the one `pip install .` uses).
# NK_SAN_REUSE=1 keeps the _C already installed there and only refreshes the Python files.
if [ "${NK_SAN_REUSE:-0}" != 1 ]; then
  NNKERNELS_CUDA=OFF pip install -q --force-reinstall --no-deps -C build-dir="$BUILD" "$ROOT"
else  # keep the installed _C, refresh the Python files from the tree
  PKG=$(cd "$BASE" && python -c "import importlib.util as u, os; print(os.path.dirname(u.find_spec('nnkernels').origin))")
  (cd "$ROOT/python/nnkernels" && find . -name '*.py' -exec cp --parents {} "$PKG/" \;)
fi
# (found without importing nnkernels: importing _C needs the preload set up below)
PKG=$(cd "$BASE" && python -c "import importlib.util as u, os; print(os.path.dirname(u.find_spec('nnkernels').origin))")
SO=$(ls "$PKG"/_C*.so)
if [ "$(nm -D "$SO" | grep -c __asan_)" = 0 ]; then
  echo "sanitize.sh: $SO is not instrumented" >&2
  exit 2
fi

LIBASAN=$(${CXX:-g++} -print-file-name=libasan.so)
LIBSTDCXX=$(${CXX:-g++} -print-file-name=libstdc++.so.6)
# libstdc++ too: Python is a C program, and ASan's __cxa_throw interceptor needs the real
# one present when the runtime starts (else every C++ exception aborts: "real___cxa_throw").
export LD_PRELOAD="$LIBASAN $LIBSTDCXX"
export ASAN_OPTIONS="detect_leaks=1:exitcode=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:strict_init_order=1:log_path=$LOGS/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$LOGS/ubsan"
export NNKERNELS_CUDA=OFF     # no _cuda in this build: test_package must not expect one
export PYTHONFAULTHANDLER=1
ARGS=("$@")
if [ ${#ARGS[@]} -eq 0 ]; then
  ARGS=(tests)                 # the whole suite; tests/test_fuzz.py runs its short profile
fi
cd "$BASE"                     # import the installed (sanitized) package, not the source tree
status=0
python -m pytest -q -p no:cacheprovider --rootdir "$ROOT" -c "$ROOT/pyproject.toml" \
  "${ARGS[@]/#tests/$ROOT/tests}" || status=$?

# Sanitizer reports: any ASan/UBSan error is a failure; a leak counts when its stack has _C.
errors=0
leaks=0
for f in "$LOGS"/asan.* "$LOGS"/ubsan.*; do
  [ -e "$f" ] || continue
  if grep -q "ERROR: AddressSanitizer\|runtime error:" "$f"; then
    echo "=== sanitizer error: $f"; head -60 "$f"; errors=$((errors + 1))
  fi
  if grep -q "ERROR: LeakSanitizer" "$f"; then
    n=$(awk '/^(Direct|Indirect) leak/{blk=1; hit=0} blk&&/nnkernels\/_C\.cpython/{hit=1} /^$/{if(blk&&hit)c++; blk=0} END{print c+0}' "$f")
    if [ "$n" -gt 0 ]; then
      echo "=== $n leak(s) from _C in $f"; leaks=$((leaks + n))
    fi
  fi
done
echo "sanitize.sh: pytest exit $status, sanitizer errors $errors, leaks from _C $leaks (logs: $LOGS)"
[ "$status" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$leaks" -eq 0 ]
