// Project-wide helpers for the CPU kernels: ISA selection, thread count, aligned scratch.
//
// Dimension legend used across csrc/ and cuda/:
//   M, N, K   GEMM: C(M×N) = A(M×K) · B(K×N)
//   N, C, H, W  batch, channels, height, width of an NCHW tensor
//   K, R, S   output channels and filter height/width of a convolution
//   P, Q      output height/width
//   B, T, L, D  batch, timesteps, sequence length, head dimension
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "runtime/threads.h"

namespace nk {

// The CPU code paths, ordered: each level runs only where the CPU (and the OS) can run
// every instruction of it. avx2 = AVX2 + FMA; avx512 = AVX-512F/BW/VL/DQ + AVX2 + FMA with
// the zmm state enabled by the OS (XCR0).
enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };
constexpr int kNumIsas = 3;

// What the CPU reports (CPUID + XCR0), read once.
struct CpuFeatures {
  bool avx2_fma;      // AVX2 and FMA, ymm state enabled
  bool avx512;        // AVX-512 F, BW, VL, DQ, zmm/opmask state enabled
  bool avx512_bf16;   // AVX512_BF16 (vdpbf16ps)
  bool avx512_vnni;   // AVX512_VNNI (vpdpbusd)
  bool amx;           // AMX tiles (reported only)
};
const CpuFeatures& cpu_features();
// Whether this CPU can run path `isa`.
bool cpu_supports(Isa isa);
// The highest path this CPU can run.
Isa best_isa();

// The ISA the kernels dispatch on right now (NNKERNELS_CPU at import, or set_isa).
// Families never test it: they ask the kernel table (kernels.h) for their kernels.
Isa current_isa();
// Select a path; returns false (and changes nothing) if the CPU cannot run it. Not to
// be called while other threads run kernels (block sizes differ between paths).
bool set_isa(Isa isa);
const char* isa_name(Isa isa);
// The path named `name` ("generic", "avx2", "avx512"); false if there is no such name.
bool isa_from_name(const char* name, Isa* out);

// num_threads(), set_num_threads() and the parallel loops: runtime/threads.h.

// 64-byte aligned scratch buffer that only grows; one per thread via thread_local.
struct Scratch {
  void* p = nullptr;
  size_t bytes = 0;
  ~Scratch() { std::free(p); }
  template <typename T>
  T* get(size_t count) {
    size_t need = (count * sizeof(T) + 63) & ~size_t(63);
    if (need > bytes) {
      std::free(p);
      p = std::aligned_alloc(64, need);
      if (!p) { bytes = 0; throw std::bad_alloc(); }
      bytes = need;
    }
    return static_cast<T*>(p);
  }
};

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

}  // namespace nk
